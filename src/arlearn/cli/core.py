"""The `arlearn` command line: parse, load config, call library functions. Nothing else.

Every failure a user can cause ends as one line `arlearn: error: …` and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from arlearn.errors import ArlearnError

COMMANDS = {}


def command(name, help):
    def deco(fn):
        COMMANDS[name] = (fn, help)
        return fn
    return deco


def _kv_options(items) -> dict:
    from arlearn.config import parse_value

    out = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise ArlearnError(f"task option must look like key=value, got {item!r}")
        out[key.strip()] = parse_value(value.strip())
    return out


def _emit(results: dict) -> None:
    print(json.dumps(results), flush=True)


def results_table(rows: list[dict]) -> str:
    cols = [("model", "model"), ("cot", "cot"), ("parameters", "params"), ("cot_length", "CoT len"),
            ("exact_match", "exact match"), ("token_accuracy", "token acc"), ("train_seconds", "train s")]
    def fmt(k, v):
        if v is None:
            return ""
        if k == "parameters":
            return f"{v / 1e6:.2f}M"
        if isinstance(v, float):
            return f"{v:.4f}" if k != "train_seconds" else f"{v:.1f}"
        return str(v)
    table = [[h for _, h in cols]] + [[fmt(k, r.get(k, "")) for k, _ in cols] for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(cols))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |" for row in table]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _add_config_args(p):
    p.add_argument("--preset", help="a preset name (see `arlearn list`)")
    p.add_argument("--config", help="a TOML config file (merged over the preset)")
    p.add_argument("--task", help="task name (shortcut for --set task.name=…)")
    p.add_argument("--model", help="model name: linear, mlp, transformer")
    p.add_argument("--cot", help="CoT format (shortcut for --set task.cot=…)")
    p.add_argument("--steps", type=int, help="training steps")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override any config value, e.g. --set model.d=64 (repeatable)")


def _resolve(args):
    from arlearn.config import resolve

    ov = []
    if args.task:
        ov.append(f"task.name={args.task}")
    if args.model:
        ov.append(f"model.name={args.model}")
    if args.cot:
        ov.append(f'task.cot="{args.cot}"')
    if args.steps is not None:
        ov.append(f"train.steps={args.steps}")
    preset = args.preset or (None if args.config else "quick")
    return resolve(preset, args.config, ov + args.overrides)


def _default_run_dir(cfg) -> str:
    import time

    return f"runs/{cfg.task_name}-{cfg.model.name}-{time.strftime('%Y%m%d-%H%M%S')}"


@command("train", "train a model on a task and evaluate it by held-out exact match")
def cmd_train(args):
    from arlearn.training.trainer import train

    if args.resume:  # continue a run exactly as its config.toml says
        from arlearn.training.runs import load_run_config

        given = [f for f, v in (("--preset", args.preset), ("--config", args.config), ("--task", args.task),
                                ("--model", args.model), ("--cot", args.cot), ("--steps", args.steps),
                                ("--set", args.overrides), ("-o", args.out)) if v]
        if given:
            raise ArlearnError(f"--resume continues RUN_DIR as configured in its config.toml; drop {', '.join(given)}")
        cfg, run_dir = load_run_config(args.resume), args.resume
    else:
        cfg = _resolve(args)
        run_dir = args.out or _default_run_dir(cfg)
    from arlearn.training.distributed import session

    with session(args.distributed, cfg.train.device) as world:  # torchrun: one process per device
        res = train(cfg, run_dir, progress=not args.no_progress and world.is_main, resume=bool(args.resume))
    if not world.is_main:  # rank 0 reports
        return
    res["run_dir"] = run_dir
    if "val_perplexity" in res:  # a text run: no exact match
        print(f"{res['model']}: validation perplexity {res['val_perplexity']:.2f} (loss {res['val_loss']:.4f}) "
              f"after {res['tokens_seen']:,} tokens, {res['tokens_per_second']:,.0f} tokens/s", file=sys.stderr)
    else:
        print(results_table([res]), file=sys.stderr)
    _emit(res)


@command("demo", "the README demo: train the `quick` preset on the CPU and print a results table")
def cmd_demo(args):
    from arlearn.config import resolve
    from arlearn.training.trainer import train

    cfg = resolve("quick", overrides=args.overrides)
    task = cfg.task
    print(f"arlearn demo: {task['n']}x{task['m']} multiplication, CoT '{task['cot']}', "
          f"model '{cfg.model.name}', {cfg.train.steps} steps on {cfg.train.device}", file=sys.stderr)
    res = train(cfg, args.out, progress=not args.no_progress)
    res["run_dir"] = args.out
    print(results_table([res]), file=sys.stderr)
    print(f"held-out exact match {res['exact_match']:.1%} on {res['n']} operand pairs never seen in "
          f"training; per-example generations in {args.out}/eval_examples.jsonl", file=sys.stderr)
    _emit(res)


@command("eval", "evaluate a run directory: greedy exact match on held-out examples")
def cmd_eval(args):
    from arlearn.device import resolve_device, use_bf16
    from arlearn.evaluation import evaluate
    from arlearn.training.runs import load_run

    cfg, task, model = load_run(args.run_dir)
    device = resolve_device(cfg.train.device if args.device is None else args.device)
    model.to(device)
    if hasattr(task, "encode_text"):  # a text run: validation loss and perplexity on the whole valid file
        from arlearn.evaluation import evaluate_text

        summary = evaluate_text(model, task, cfg.eval.batch_size, device, use_bf16(cfg.train.dtype, device),
                                args.examples)
        _emit({"run_dir": str(args.run_dir), "split": "valid", **summary})
        return
    n = args.examples or cfg.eval.examples
    examples = task.sample(args.split, n, cfg.eval.seed if args.seed is None else args.seed)
    summary, records = evaluate(model, task, examples, cfg.eval.batch_size, device,
                                use_bf16(cfg.train.dtype, device))
    for r in [r for r in records if not r["correct"]][: cfg.eval.show_mistakes]:
        print(f"wrong: {r['prompt']} -> {r['generated']} (first divergence at {r['first_divergence']})",
              file=sys.stderr)
    _emit({"run_dir": str(args.run_dir), "split": args.split, **summary})


@command("show-task", "print a few examples of a task as readable text")
def cmd_show_task(args):
    from arlearn.tasks import make_task

    task = make_task(args.name, _kv_options(args.options))
    print(task.describe())
    for ex in task.sample(args.split, args.n, args.seed):
        print()
        print("prompt:", " ".join(ex.prompt))
        print("cot:   ", " ".join(ex.cot) if ex.cot else "(none)")
        print("answer:", " ".join(ex.answer))


@command("generate", "greedily continue a prompt with a trained run")
def cmd_generate(args):
    import torch

    from arlearn.evaluation import generate_texts
    from arlearn.training.runs import load_run
    from arlearn.tasks.base import Example

    cfg, task, model = load_run(args.run_dir)
    prompt = task.parse_prompt(args.prompt)
    if len(prompt) > model.T:
        raise ArlearnError(f"prompt has {len(prompt)} tokens; the model's context is {model.T}")
    gen = generate_texts(model, task, [Example(prompt, (), ())], device=torch.device("cpu"))[0]
    answer = task.parse_answer(prompt + tuple(gen))
    print(" ".join(prompt + tuple(gen)), file=sys.stderr)
    _emit({"prompt": " ".join(prompt), "generated": " ".join(gen),
           "answer": None if answer is None else " ".join(answer)})


@command("run-tm", "run a Turing machine (a shipped name or a JSON spec) on one input")
def cmd_run_tm(args):
    from arlearn.turing import check_input, load_machine, simulate

    tm = load_machine(args.spec)
    x = check_input(tm, 0, (args.input or "").split())
    run = simulate(tm, x, args.max_steps, args.tape)
    if args.trace:
        for k, c in enumerate(run.configs):
            print(f"{k:5d}  {' '.join(c.tokens())}", file=sys.stderr)
    tape = list(run.final.tape)
    while tape and tape[-1] == tm.blank:
        tape.pop()
    while tape and tape[0] == tm.blank:
        tape.pop(0)
    out = {"machine": tm.name, "input": " ".join(x), "halted": run.halted, "steps": run.steps,
           "state": run.final.state, "tape": " ".join(tape), "ones": run.count("1")}
    if tm.accept:
        out["accept"] = run.final.state in tm.accept
    _emit(out)


@command("sweep", "train a grid of runs: exact match vs CoT length (`length`) or vs training examples (`samples`)")
def cmd_sweep(args):
    from arlearn.experiments.sweep import SweepSpec, length_sweep, parse_list, sample_sweep
    from arlearn.config import resolve

    ov = [f"task.name={args.task}"] if args.task else []
    if args.steps is not None:
        ov.append(f"train.steps={args.steps}")
    base = resolve(args.preset, args.config, ov + args.overrides)
    spec = SweepSpec(
        base,
        models=parse_list(args.models, "models"),
        cots=parse_list(args.cot, "cot"),
        seeds=parse_list(args.seeds, "seeds", int),
        train_examples=parse_list(args.train_examples, "train-examples", int) if args.train_examples else (),
        epsilon=args.epsilon,
    )
    out = args.out or f"runs/sweep-{args.kind}-{base.task_name}"
    run = length_sweep if args.kind == "length" else sample_sweep
    report = run(spec, out, progress=not args.no_progress, log=lambda s: print(s, file=sys.stderr))
    print((Path(out) / "table.md").read_text(encoding="utf-8"), file=sys.stderr)
    _emit({"out": out, "cells": report["cells_done"], "budget": report["budget"],
           "length_complexity": report["length_complexity"],
           "sample_complexity": report["sample_complexity"], "plots": report["plots"]})


@command("sample", "sample text from a trained text run, sliding its context window")
def cmd_sample(args):
    from arlearn.device import resolve_device, use_bf16
    from arlearn.evaluation import sample_text
    from arlearn.training.runs import load_run

    cfg, task, model = load_run(args.run_dir)
    if not hasattr(task, "encode_text"):
        raise ArlearnError(f"{args.run_dir} is a '{cfg.task_name}' run; `sample` needs a text run (use generate)")
    device = resolve_device(cfg.train.device if args.device is None else args.device)
    model.to(device)
    text = sample_text(model, task, args.prompt, args.max_tokens, args.temperature, args.top_k, args.seed,
                       device, use_bf16(cfg.train.dtype, device))
    print(args.prompt + text)


@command("compile", "compile a circuit (.bench file or generator, e.g. adder4, mult16) into an exact linear model run")
def cmd_compile(args):
    from arlearn.compile import compile_bench, compile_generator, compile_tm

    if args.kind not in ("circuit", "tm"):
        raise ArlearnError(f"unknown compile target {args.kind!r}; known: circuit, tm")
    src = args.source
    kw = {"chunk": args.chunk, "max_dense_bytes": int(args.max_dense_mb * 2**20)}
    bounds = {"steps": args.steps, "tape": args.tape, "n": args.n}
    if args.kind == "circuit" and any(bounds.values()):
        raise ArlearnError("--steps, --tape and --n are for `arlearn compile tm`")
    if args.kind == "tm":
        report = compile_tm(src, args.out, **bounds, **kw)
    elif src.endswith(".bench") or Path(src).exists():
        report = compile_bench(src, args.out, **kw)
    else:
        report = compile_generator(src, args.out, **kw)
    r = report.as_dict()
    print(f"compiled {r['circuit']}: {r['inputs']} inputs, {r['gates']} gates -> {r['threshold_gates']} threshold "
          f"gates (CoT length {r['threshold_gates'] + 1}), linear model T={r['T']} d={r['d']}, {r['nonzeros']:,} "
          f"non-zero weights; run directory {r['run_dir']}", file=sys.stderr)
    _emit(r)


@command("verify", "check a compiled (or trained) circuit run against direct circuit evaluation")
def cmd_verify(args):
    from arlearn.compile import verify_run

    rep = verify_run(args.run_dir, examples=args.examples, seed=args.seed, dense_check=args.dense_check,
                     progress=not args.no_progress)
    how = "all" if rep["exhaustive"] else "random"
    print(f"{rep['circuit']}: {rep['mismatches']} mismatches on {rep['checked']:,} {how} inputs "
          f"({', '.join(rep['engines'])}; dense model on {rep['dense_checked']:,})", file=sys.stderr)
    _emit(rep)
    if not rep["ok"]:
        sys.exit(1)


@command("heatmap", "PNG heatmap of the norm of every (t, s) block of a linear/mlp run's model")
def cmd_heatmap(args):
    from arlearn.reporting.heatmap import run_heatmap

    _emit(run_heatmap(args.run_dir, args.out, args.layer))


@command("bench", "benchmark block-causal layers and training steps vs the dense-masked formulation and the peak")
def cmd_bench(args):
    from arlearn.experiments.bench import BenchConfig, format_report, run_bench
    from arlearn.config import parse_value
    from arlearn.tasks.base import build_dataclass

    opts = {}
    for k, v in _kv_options(args.options).items():
        opts[k] = (() if v == "none" else tuple(str(v).split(","))) if k in ("dtypes", "models", "impls") else v
    if "layer_batches" in opts:  # checked in run_bench, like every size
        v = str(opts["layer_batches"])
        opts["layer_batches"] = () if v == "none" else tuple(parse_value(x) for x in v.split(","))
    if "peak_size" in opts:
        opts["peak_size"] = tuple(parse_value(x) for x in str(opts["peak_size"]).split("x"))
    cfg = build_dataclass(BenchConfig, opts, "bench")
    report = run_bench(cfg, progress=not args.no_progress, log=lambda line: print(line, file=sys.stderr))
    print(format_report(report), file=sys.stderr)
    if args.out:
        from arlearn.fileio import write_json

        write_json(args.out, report)
    _emit(report["ratios"])


@command("list", "list tasks, models and presets")
def cmd_list(args):
    from arlearn.config import preset_names
    from arlearn.models import MODELS
    from arlearn.tasks import TASKS

    print("tasks:")
    for name, cls in sorted(TASKS.items()):
        print(f"  {name} (v{cls.version}) cot formats: {', '.join(cls.cot_formats)}")
    print("models:", ", ".join(MODELS))
    print("presets:", ", ".join(preset_names()))


@command("report", "one static HTML page (and Markdown) from run and sweep directories")
def cmd_report(args):
    from arlearn.reporting.report import build_report

    out = build_report(args.run_dirs, args.out, title=args.title)
    _emit({"html": str(out["html"]), "markdown": str(out["markdown"]), "runs": out["runs"]})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="arlearn", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (fn, help) in COMMANDS.items():
        p = sub.add_parser(name, help=help, description=help)
        p.set_defaults(fn=fn)
        if name == "train":
            _add_config_args(p)
            p.add_argument("-o", "--out", help="run directory (default: runs/<task>-<model>-<time>)")
            p.add_argument("--no-progress", action="store_true", help="no progress bar")
            p.add_argument("--resume", metavar="RUN_DIR",
                           help="continue RUN_DIR from its newest checkpoint (bit-exact; see train.checkpoint_every)")
            p.add_argument("--distributed", action="store_true",
                           help="data-parallel over the processes torchrun starts (DDP; see README)")
        elif name == "demo":
            p.add_argument("-o", "--out", default="runs/demo", help="run directory (default: runs/demo)")
            p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE")
            p.add_argument("--no-progress", action="store_true")
        elif name == "eval":
            p.add_argument("run_dir")
            p.add_argument("--examples", type=int, default=0, help="held-out examples (default: config)")
            p.add_argument("--split", default="test", choices=["test", "train"])
            p.add_argument("--seed", type=int, default=None)
            p.add_argument("--device", default=None)
        elif name == "show-task":
            p.add_argument("name")
            p.add_argument("options", nargs="*", metavar="KEY=VALUE", help="task options, e.g. cot=paper n=2")
            p.add_argument("-n", type=int, default=3, help="examples to show")
            p.add_argument("--split", default="train", choices=["train", "test"])
            p.add_argument("--seed", type=int, default=0)
        elif name == "run-tm":
            p.add_argument("spec", help="a shipped machine (e.g. bb-4, binary-increment) or a JSON spec file")
            p.add_argument("--input", help="input symbols, space-separated (e.g. '0 1 1 1')")
            p.add_argument("--max-steps", type=int, default=100_000, help="step bound (default 100000)")
            p.add_argument("--tape", type=int, default=None, help="tape bound in cells (default: unbounded)")
            p.add_argument("--trace", action="store_true", help="print every configuration to stderr")
        elif name == "sweep":
            p.add_argument("kind", choices=["length", "samples"],
                           help="length: every CoT format, then the shortest successful one at fewer "
                                "examples; samples: every CoT format at every training-set size")
            p.add_argument("--preset", help="a preset name (see `arlearn list`)")
            p.add_argument("--config", help="a TOML config file (merged over the preset)")
            p.add_argument("--task", help="task name (shortcut for --set task.name=…)")
            p.add_argument("--models", default="linear,mlp,transformer", help="comma-separated model classes")
            p.add_argument("--cot", required=True, help="comma-separated CoT formats, e.g. none,running,threshold")
            p.add_argument("--seeds", default="0", help="comma-separated seeds or a range like 0..2")
            p.add_argument("--train-examples", default="",
                           help="comma-separated training-set sizes (default: the config's "
                                "train.train_examples; the largest is where length complexity is judged)")
            p.add_argument("--epsilon", type=float, default=0.01,
                           help="success means mean exact match ≥ 1 − epsilon (default 0.01)")
            p.add_argument("--steps", type=int, help="training steps per cell (the shared budget)")
            p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                           help="override any base config value, e.g. --set task.n=16 (repeatable)")
            p.add_argument("-o", "--out", help="sweep directory (default: runs/sweep-<kind>-<task>); "
                                               "rerunning the same command there skips finished cells")
            p.add_argument("--no-progress", action="store_true", help="no progress bars")
        elif name == "report":
            p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run or sweep directories")
            p.add_argument("-o", "--out", default="report.html", help="HTML file (the .md is written beside it)")
            p.add_argument("--title", default="arlearn report")
        elif name == "compile":
            p.add_argument("kind", help="what to compile: circuit or tm")
            p.add_argument("source", help="circuit: a .bench file, or a generator: adderN, multN, multNxM, "
                                          "parityN; tm: a machine spec (JSON) or a shipped machine name")
            p.add_argument("--steps", type=int, default=0, help="tm: time bound (default: the most any input needs)")
            p.add_argument("--tape", type=int, default=0, help="tm: tape cells (default: the most any input needs)")
            p.add_argument("--n", type=int, default=0, help="tm: input length (default: the spec's)")
            p.add_argument("-o", "--out", required=True, help="run directory to write")
            p.add_argument("--chunk", type=int, default=8, help="block-causal storage chunk (default 8)")
            p.add_argument("--max-dense-mb", type=float, default=2048.0,
                           help="write the dense model.safetensors only up to this size (default 2048 MB); "
                                "the packed compiled.safetensors is always written")
        elif name == "verify":
            p.add_argument("run_dir")
            p.add_argument("--examples", type=int, default=10_000,
                           help="random inputs when the circuit has more than 20 inputs (default 10000)")
            p.add_argument("--seed", type=int, default=0)
            p.add_argument("--dense-check", type=int, default=1000,
                           help="inputs also decoded with the dense model (default 1000)")
            p.add_argument("--no-progress", action="store_true")
        elif name == "heatmap":
            p.add_argument("run_dir")
            p.add_argument("-o", "--out", required=True, help="PNG file to write")
            p.add_argument("--layer", type=int, default=0, help="block-causal map to draw (mlp: 0 = first)")
        elif name == "bench":
            p.add_argument("options", nargs="*", metavar="KEY=VALUE",
                           help="e.g. dtypes=bf16 models=linear linear_batch=32 chunk=16 threads=1 (see arlearn.experiments.bench.BenchConfig)")
            p.add_argument("-o", "--out", help="also write the full report as JSON")
            p.add_argument("--no-progress", action="store_true")
        elif name == "generate":
            p.add_argument("run_dir")
            p.add_argument("--prompt", required=True)
        elif name == "sample":
            p.add_argument("run_dir")
            p.add_argument("--prompt", required=True, help="text to continue (at most the model's context in tokens)")
            p.add_argument("--max-tokens", type=int, default=200, help="tokens to generate (stops at end-of-text)")
            p.add_argument("--temperature", type=float, default=1.0, help="0 = greedy")
            p.add_argument("--top-k", type=int, default=0, help="sample among the k most likely tokens (0: all)")
            p.add_argument("--seed", type=int, default=0)
            p.add_argument("--device", default=None)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        from arlearn.device import tune_cpu_allocator

        tune_cpu_allocator()
        args.fn(args)
    except ArlearnError as e:
        print(f"arlearn: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("arlearn: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
