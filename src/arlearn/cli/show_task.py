"""`arlearn show-task NAME [key=value ...]`: a few examples of a task, as readable text."""

from __future__ import annotations

from arlearn.cli.common import kv_options
from arlearn.errors import ArlearnError
from arlearn.tasks import Task, make_task

NAME = "show-task"
HELP = "print a few examples of a task as readable text"


def add_arguments(p) -> None:
    p.add_argument("name", help="task name (see `arlearn list`)")
    p.add_argument("options", nargs="*", metavar="KEY=VALUE", help="task options, e.g. cot=paper n=2")
    p.add_argument("-n", type=int, default=3, help="examples to show")
    p.add_argument("--split", default="train", choices=["train", "test"])
    p.add_argument("--seed", type=int, default=0)


def run(args) -> None:
    task = make_task(args.name, kv_options(args.options))
    print(task.describe())
    if not isinstance(task, Task):
        raise ArlearnError(f"task {args.name!r} is a token stream with no examples to show "
                           "(train on it, then `arlearn sample`)")
    for ex in task.sample(args.split, args.n, args.seed):
        print()
        print("prompt:", " ".join(ex.prompt))
        print("cot:   ", " ".join(ex.cot) if ex.cot else "(none)")
        print("answer:", " ".join(ex.answer))
