"""Tasks: thin adapters that turn a problem into token sequences. Importing this package
registers the built-in tasks: `multiplication`, `addition`, `parity`, `tm`, `circuit` (sequence tasks:
prompt → CoT → answer) and `text` (a stream task). A plug-in registers its own the same way
(`@register_task`), and `make_task` finds it (`arlearn.plugins.load`; docs/plugins.md)."""

from arlearn.config import build_dataclass
from arlearn.errors import ArlearnError, did_you_mean
from arlearn.plugins import NOT_LOADED, load as load_plugins
from arlearn.tasks.base import TASKS, CotRung, Example, StreamTask, Task, TaskBase, register_task
from arlearn.tasks import multiplication  # noqa: F401
from arlearn.tasks import addition  # noqa: F401
from arlearn.tasks import parity  # noqa: F401
from arlearn.tasks import turing  # noqa: F401
from arlearn.tasks import circuit  # noqa: F401
from arlearn.tasks import text  # noqa: F401


def task_class(name: str) -> type[TaskBase]:
    """The registered task class `name`; plug-ins are loaded when it is not registered yet."""
    if name not in TASKS:
        load_plugins()
    if name not in TASKS:
        raise ArlearnError(f"unknown task '{name}'{did_you_mean(name, TASKS)}" + NOT_LOADED.format(kind="task"))
    return TASKS[name]


def make_task(name: str, options: dict | None = None) -> TaskBase:
    """The registered task `name` with `options` (unknown or ill-typed options are errors);
    plug-ins are loaded when `name` is not registered yet."""
    cls, options, owner = task_class(name), dict(options or {}), f"task '{name}'"
    share = options.get("valid_fraction")
    if issubclass(cls, Task) and isinstance(share, (int, float)) and not isinstance(share, bool):
        top = 1 - cls.test_fraction
        if not 0 <= share < top:
            raise ArlearnError(f"{owner}: valid_fraction must be in [0, {top:g}) (the share of the inputs in the "
                               f"validation split, carved out of train), got {share}")
    return build_dataclass(cls, options, owner)


__all__ = ["TASKS", "CotRung", "Example", "StreamTask", "Task", "TaskBase", "make_task", "register_task", "task_class"]
