"""What several commands share: the config flags and their resolution, `key=value` options,
and `emit` (the one JSON line of results on stdout)."""

from __future__ import annotations

import json

from arlearn.config import parse_value, resolve
from arlearn.errors import ArlearnError


def emit(results: dict) -> None:
    print(json.dumps(results), flush=True)


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


def add_source_args(p) -> None:
    """--preset and --config: where a run's config comes from."""
    p.add_argument("--preset", help="a preset name (see `arlearn list`)")
    p.add_argument("--config", help="a TOML config file (merged over the preset)")
    p.add_argument("--task", help="task name (shortcut for --set task.name=…)")


def add_config_args(p) -> None:
    add_source_args(p)
    p.add_argument("--model", help="model name: linear, mlp, transformer")
    p.add_argument("--cot", help="CoT format (shortcut for --set task.cot=…)")
    p.add_argument("--steps", type=int, help="training steps")
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


def resolve_args(args, default_preset: str | None = "quick"):
    preset = args.preset or (None if args.config else default_preset)
    return resolve(preset, args.config, shortcut_overrides(args) + args.overrides)
