"""`arlearn list`: the tasks, models, presets and circuit generators arlearn knows (text, or one JSON
line with --json)."""

from __future__ import annotations

from arlearn.circuits import FAMILIES
from arlearn.cli.common import add_json_arg, emit, result_text
from arlearn.config import MODELS, preset_names
from arlearn.tasks import TASKS

NAME = "list"
HELP = "list tasks, models, presets and circuit generators"


def add_arguments(p) -> None:
    add_json_arg(p)


def run(args) -> None:
    if args.json:
        emit({"tasks": {name: {"version": cls.version, "cot_formats": list(cls.cot_formats)}
                        for name, cls in sorted(TASKS.items())},
              "models": list(MODELS), "presets": preset_names(),
              "circuit_generators": {f.usage: f.about for f in FAMILIES.values()}})
        return
    lines = ["tasks:"]
    lines += [f"  {name} (v{cls.version}) cot formats: {', '.join(cls.cot_formats)}"
              for name, cls in sorted(TASKS.items())]
    lines += ["models: " + ", ".join(MODELS), "presets: " + ", ".join(preset_names())]
    lines += ["circuit generators (task circuit generator=NAME, arlearn compile circuit NAME):"]
    lines += [f"  {f.usage}: {f.about}" for f in FAMILIES.values()]
    result_text("\n".join(lines))
