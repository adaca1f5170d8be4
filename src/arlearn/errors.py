"""The error types users see.

Anything a user can get wrong (names, config values, files, prompts) raises `ArlearnError`
with a message that says what was expected and what was given. The CLI prints it as one
line and exits non-zero; anything else escaping is a bug in arlearn.
"""


class ArlearnError(Exception):
    """A problem with the user's input, described in one line."""


class Interrupted(KeyboardInterrupt):
    """SIGINT/SIGTERM stopped a command at a safe point; the message says where."""


class TrainingStopped(Interrupted):
    """SIGINT/SIGTERM stopped training after a step; a checkpoint of that step was saved."""

    def __init__(self, signal_name: str, step: int, run_dir):
        super().__init__(f"{signal_name} at step {step}: checkpoint saved in {run_dir}")
        self.signal_name, self.step, self.run_dir = signal_name, step, run_dir


def did_you_mean(name: str, known) -> str:
    """A short hint listing the known names (and the closest one, if any)."""
    import difflib

    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"{hint}; known: {', '.join(known)}"
