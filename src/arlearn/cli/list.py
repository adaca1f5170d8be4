"""`arlearn list`: the tasks, models, presets and circuit generators arlearn knows — plug-ins'
included, each marked with its module (text, or one JSON line with --json)."""

from __future__ import annotations

from dataclasses import fields

from arlearn.circuits import FAMILIES
from arlearn.cli.common import add_json_arg, emit, result_text
from arlearn.config import preset_names
from arlearn.plugins import MODEL_CLASSES
from arlearn.tasks import TASKS

#: the generator name of a traced Python function (arlearn.circuits.trace)
TRACED_USAGE = "py:MODULE:FUNCTION"
TRACED_ABOUT = "a Python function over Bits traced into a circuit (docs/plugins.md)"

NAME = "list"
HELP = "list tasks, models, presets and circuit generators"


def add_arguments(p) -> None:
    add_json_arg(p)


def _plugin(module: str) -> str | None:
    """The plug-in module a task or model class came from (None: built in)."""
    top = module.split(".")[0]
    return None if top == "arlearn" else top


def run(args) -> None:
    if args.json:
        emit({"tasks": {name: {"version": cls.version, "cot_formats": list(cls.cot_formats),
                               "plugin": _plugin(cls.__module__)}
                        for name, cls in sorted(TASKS.items())},
              "models": list(MODEL_CLASSES),
              "model_classes": {name: {"about": mc.about, "options": [f.name for f in fields(mc.config)
                                                                       if f.name != "name"],
                                       "plugin": _plugin(mc.module)} for name, mc in MODEL_CLASSES.items()},
              "presets": preset_names(),
              "circuit_generators": {**{f.usage: f.about for f in FAMILIES.values()}, TRACED_USAGE: TRACED_ABOUT}})
        return
    lines = ["tasks:"]
    lines += [f"  {name} (v{cls.version}) cot formats: {', '.join(cls.cot_formats)}"
              + (f"  [plug-in {_plugin(cls.__module__)}]" if _plugin(cls.__module__) else "")
              for name, cls in sorted(TASKS.items())]
    lines += ["models:"]
    lines += [f"  {name}: {mc.about}" + (f"  [plug-in {_plugin(mc.module)}]" if _plugin(mc.module) else "")
              for name, mc in MODEL_CLASSES.items()]
    lines += ["presets: " + ", ".join(preset_names())]
    lines += ["circuit generators (task circuit generator=NAME, arlearn compile circuit NAME):"]
    lines += [f"  {f.usage}: {f.about}" for f in FAMILIES.values()]
    lines += [f"  {TRACED_USAGE}: {TRACED_ABOUT}"]
    result_text("\n".join(lines))
