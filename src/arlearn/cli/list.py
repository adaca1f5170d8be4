"""`arlearn list`: the tasks, models and presets arlearn knows."""

from __future__ import annotations

from arlearn.config import MODELS, preset_names
from arlearn.tasks import TASKS

NAME = "list"
HELP = "list tasks, models and presets"


def add_arguments(p) -> None:
    pass


def run(args) -> None:
    print("tasks:")
    for name, cls in sorted(TASKS.items()):
        print(f"  {name} (v{cls.version}) cot formats: {', '.join(cls.cot_formats)}")
    print("models:", ", ".join(MODELS))
    print("presets:", ", ".join(preset_names()))
