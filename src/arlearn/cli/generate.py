"""`arlearn generate RUN_DIR --prompt ...`: greedy continuation of one prompt of a sequence task
(the tokens on stderr, {"prompt", "generated", "answer"} as one JSON line on stdout; a task whose
answer is an encoding — a Turing machine's tableau output bits — adds "answer_decoded", the tape). A text run
is refused with a pointer to `arlearn sample`, which decodes its tokens back into text."""

from __future__ import annotations

from arlearn.cli.common import emit, say
from arlearn.device import RunContext
from arlearn.errors import ArlearnError
from arlearn.evaluation import generate_texts
from arlearn.tasks import TASKS, Example, Task
from arlearn.training import load_run, load_run_config

NAME = "generate"
HELP = "greedily continue a prompt with a trained run (sequence tasks; text runs: use sample)"


def add_arguments(p) -> None:
    p.add_argument("run_dir", help="a run directory (from train, demo, sweep or compile)")
    p.add_argument("--prompt", required=True, help="prompt in the task's notation, e.g. \"1234 x 5678\"")


def unlike_prompts(task: Task, prompt: tuple[str, ...], draws: int = 8) -> str | None:
    """How `prompt` differs from the prompts the task itself writes (their common first and last
    token, their common length, over a few drawn examples), or None: a prompt typed without the
    task's framing tokens (e.g. `<bos>`, `=`) is continued as given, which is rarely what was meant."""
    seen = [ex.prompt for ex in task.sample("test", draws, seed=0)]
    if not prompt or len(seen) < 4:
        return None
    first = {p[0] for p in seen} if all(seen) else set()
    last = {p[-1] for p in seen} if all(seen) else set()
    lengths = {len(p) for p in seen}
    wrong = []
    if len(first) == 1 and prompt[0] not in first:
        wrong.append(f"start with {next(iter(first))!r}")
    if len(last) == 1 and prompt[-1] not in last:
        wrong.append(f"end with {next(iter(last))!r}")
    if len(lengths) == 1 and len(prompt) not in lengths:
        wrong.append(f"have {next(iter(lengths))} tokens")
    if not wrong:
        return None
    said = wrong[0] if len(wrong) == 1 else f"{', '.join(wrong[:-1])} and {wrong[-1]}"
    return (f"the task's prompts {said} (e.g. {' '.join(seen[0])!r}); this one, {' '.join(prompt)!r}, "
            "does not, and is continued as given")


def run(args) -> None:
    cfg = load_run_config(args.run_dir)
    if not issubclass(TASKS.get(cfg.task_name, Task), Task):  # a stream task: its tokens are BPE pieces
        raise ArlearnError(f"{args.run_dir} is a '{cfg.task_name}' run: generate continues prompts of sequence "
                           f"tasks; continue text with `arlearn sample {args.run_dir} --prompt TEXT`")
    cfg, task, model = load_run(args.run_dir, cfg)  # the config read above, not read again
    prompt = task.parse_prompt(args.prompt)
    unlike = unlike_prompts(task, prompt)
    if unlike:
        say(f"arlearn: warning: {unlike}")
    if model.max_length is not None and len(prompt) > model.max_length:  # (a windowed model takes any length)
        raise ArlearnError(f"prompt has {len(prompt)} tokens; the model's context is {model.max_length}")
    gen = generate_texts(model, task, [Example(prompt, (), ())], RunContext())[0]  # one prompt: the CPU, fp32
    answer = task.parse_answer(prompt + tuple(gen))
    say(" ".join(prompt + tuple(gen)))
    out = {"prompt": " ".join(prompt), "generated": " ".join(gen),
           "answer": None if answer is None else " ".join(answer)}
    if answer is not None and task.decode_answer(answer) != tuple(answer):  # e.g. a tableau's output bits
        out["answer_decoded"] = " ".join(task.decode_answer(answer))
        say(f"answer: {out['answer_decoded']}")
    emit(out)
