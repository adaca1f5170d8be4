"""Task registry. Importing this package registers the built-in tasks."""

from arlearn.tasks.base import TASKS, Example, Task, make_task, register_task
from arlearn.tasks import multiplication  # noqa: F401
from arlearn.tasks import parity  # noqa: F401
from arlearn.tasks import turing  # noqa: F401
from arlearn.tasks import circuit  # noqa: F401
from arlearn.tasks import text  # noqa: F401

__all__ = ["TASKS", "Example", "Task", "make_task", "register_task"]
