"""What several commands share: the config flags and their resolution, `key=value` options,
and the output rule.

The output rule, kept here once: stdout carries only a command's results — `emit`'s one JSON
line (or, for `list` and `show-task`, their text via `result_text`) — and everything for people
(progress bars, logs, tables, summaries: `say`) goes to stderr, so `arlearn … | jq` always
parses. `results_stdout()` (entered by `arlearn.cli.main` around every command) points
`sys.stdout` at stderr while the command runs, so a stray print from the library or a
dependency cannot break the JSON; `emit` and `result_text` write to the real stdout.
"""

from __future__ import annotations

import json
import math
import sys
from contextlib import contextmanager, redirect_stdout

from arlearn.config import parse_value, resolve
from arlearn.errors import ArlearnError

#: the top-level help's note on where output goes
OUTPUT_NOTE = ("stdout carries only the results: one JSON line (`list` and `show-task`: text, or JSON "
               "with --json); progress bars, logs and tables go to stderr.")

_results: list = []  #: the real stdout of each `results_stdout()` being run (innermost last)


@contextmanager
def results_stdout():
    """While inside: `print()` goes to stderr; `emit`/`result_text` go to the stdout of entry."""
    _results.append(sys.stdout)
    try:
        with redirect_stdout(sys.stderr):
            yield
    finally:
        _results.pop()


def _stdout():
    return _results[-1] if _results else sys.stdout


def _finite(obj):
    """nan/inf → None (JSON has no such numbers; strict parsers reject them)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def emit(results: dict) -> None:
    """The command's results: one JSON line on stdout."""
    print(json.dumps(_finite(results), default=str), file=_stdout(), flush=True)


def result_text(text: str) -> None:
    """Human-readable results on stdout (`list`, `show-task` without --json)."""
    print(text, file=_stdout(), flush=True)


def say(text: str) -> None:
    """A line for people (a table, a summary, a log line): stderr."""
    print(text, file=sys.stderr, flush=True)


def add_progress_arg(p, what: str = "progress bar") -> None:
    p.add_argument("--no-progress", action="store_true", help=f"hide the {what} (drawn on stderr)")


def add_executor_args(p) -> None:
    """--executor and --ray-address: where the independent runs of a grid (seeds, sweep cells) train."""
    p.add_argument("--executor", choices=["serial", "local", "ray"],
                   help="where the runs train: local (default) side by side on this machine's cores (each with "
                        "train.threads threads, unset: the cores split evenly), serial one after another in this "
                        "process, ray as Ray tasks (pip install 'arlearn[ray]'; see docs/cluster.md)")
    p.add_argument("--ray-address", metavar="ADDR",
                   help="with --executor ray: join this Ray cluster (auto, or HEAD:6379); default: start Ray here")


def executor_args(args) -> dict:
    """`executor` and `ray_address` for `train_seeds` / the sweeps (--executor's default: local)."""
    executor = args.executor or "local"
    if args.ray_address and executor != "ray":
        raise ArlearnError(f"--ray-address is for --executor ray, not {executor}")
    return {"executor": executor, "ray_address": args.ray_address}


def add_json_arg(p) -> None:
    p.add_argument("--json", action="store_true", help="print the result as one JSON line instead of text")


def kv_options(items) -> dict:
    """`key=value` words → {key: value} (values in TOML syntax, else strings)."""
    out = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise ArlearnError(f"option must look like key=value, got {item!r}")
        out[key.strip()] = parse_value(value.strip())
    return out


def add_set_arg(p, help: str = "override any config value, e.g. --set model.d=64 (repeatable)") -> None:
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE", help=help)


def add_source_args(p, preset_default: str = "none, every key's own default") -> None:
    """--preset and --config: where a run's config comes from."""
    p.add_argument("--preset", help=f"a preset name (see `arlearn list`); default: {preset_default}")
    p.add_argument("--config", metavar="FILE",
                   help="a config file, TOML or YAML (.yaml/.yml), with the presets' sections (merged over the preset)")
    p.add_argument("--task", help="task name (shortcut for --set task.name=…)")


def add_config_args(p, steps_help: str = "training steps") -> None:
    add_source_args(p, preset_default="quick, unless --config is given")
    p.add_argument("--model", help="model class: linear, mlp, transformer or a plug-in's (see `arlearn list`)")
    p.add_argument("--cot", help="CoT format (shortcut for --set task.cot=…)")
    p.add_argument("--steps", type=int, help=steps_help)
    add_set_arg(p)


def shortcut_overrides(args) -> list[str]:
    """--task/--model/--cot/--steps as `section.key=value` overrides (before any --set)."""
    ov = []
    if getattr(args, "task", None):
        ov.append(f"task.name={args.task}")
    if getattr(args, "model", None):
        ov.append(f"model.name={args.model}")
    if getattr(args, "cot", None):
        ov.append(f'task.cot="{args.cot}"')
    if getattr(args, "steps", None) is not None:
        ov.append(f"train.steps={args.steps}")
    return ov


def resolve_args(args, default_preset: str | None = "quick", sources: dict | None = None):
    """The config the flags describe; `sources` (filled when given): where each key came from
    (`arlearn.config.resolve`)."""
    preset = args.preset or (None if args.config else default_preset)
    return resolve(preset, args.config, shortcut_overrides(args) + args.overrides, sources)
