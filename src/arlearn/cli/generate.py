"""`arlearn generate RUN_DIR --prompt ...`: greedy continuation of one prompt."""

from __future__ import annotations

import sys

import torch

from arlearn.cli.common import emit
from arlearn.errors import ArlearnError
from arlearn.evaluation import generate_texts
from arlearn.tasks import Example, Task
from arlearn.training import load_run

NAME = "generate"
HELP = "greedily continue a prompt with a trained run"


def add_arguments(p) -> None:
    p.add_argument("run_dir")
    p.add_argument("--prompt", required=True, help="prompt in the task's notation, e.g. \"1234 x 5678\"")


def run(args) -> None:
    cfg, task, model = load_run(args.run_dir)
    if not isinstance(task, Task):
        raise ArlearnError(f"{args.run_dir} is a '{cfg.task_name}' run; continue text with `arlearn sample`")
    prompt = task.parse_prompt(args.prompt)
    if len(prompt) > model.T:
        raise ArlearnError(f"prompt has {len(prompt)} tokens; the model's context is {model.T}")
    gen = generate_texts(model, task, [Example(prompt, (), ())], device=torch.device("cpu"))[0]
    answer = task.parse_answer(prompt + tuple(gen))
    print(" ".join(prompt + tuple(gen)), file=sys.stderr)
    emit({"prompt": " ".join(prompt), "generated": " ".join(gen),
          "answer": None if answer is None else " ".join(answer)})
