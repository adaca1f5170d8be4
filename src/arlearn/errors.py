"""The one error type users see.

Anything a user can get wrong (names, config values, files, prompts) raises `ArlearnError`
with a message that says what was expected and what was given. The CLI prints it as one
line and exits non-zero; anything else escaping is a bug in arlearn.
"""


class ArlearnError(Exception):
    """A problem with the user's input, described in one line."""


def did_you_mean(name: str, known) -> str:
    """A short hint listing the known names (and the closest one, if any)."""
    import difflib

    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"{hint}; known: {', '.join(known)}"
