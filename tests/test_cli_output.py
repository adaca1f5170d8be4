"""What the command line prints: stdout carries only the results (one JSON line; `list` and
`show-task` text unless --json), progress and logs go to stderr; `--version`; every option has
help text; file permissions follow the umask."""

import json
import os
import stat
import subprocess
import sys

import pytest

from arlearn.cli import build_parser, main

#: tiny sizes: every command below runs in seconds
DEMO = ["--set", "train.steps=20", "--set", "train.eval_every=10", "--set", "train.train_examples=2000",
        "--set", "eval.examples=50", "--set", "task.n=2", "--set", "task.m=2", "--set", "model.hidden=16",
        "--set", "train.batch_size=16", "--set", "train.threads=1"]
SWEEP = ["--set", "task.name=parity", "--set", "task.n=6", "--set", "task.k=2", "--set", "model.d=8",
         "--set", "train.steps=4", "--set", "train.warmup=1", "--set", "train.batch_size=16",
         "--set", "train.train_examples=64", "--set", "train.eval_every=2", "--set", "eval.examples=20"]
BENCH = ["reps=1", "rounds=1", "threads=1", "peak_size=32x32x32", "peak_warmup_s=0", "layer_T=4", "layer_d=4",
         "layer_batches=2", "chunk=2", "linear_T=4", "linear_d=4", "linear_V=20", "linear_batch=2",
         "dtypes=fp32", "models=linear", "isolate=false"]


def arlearn(*args, cwd=None):
    """Run `python -m arlearn ARGS` (progress bars on): returns (stdout, stderr)."""
    proc = subprocess.run([sys.executable, "-m", "arlearn", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout, proc.stderr


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("out") / "demo"
    out, err = arlearn("demo", "-o", run, *DEMO)
    return run, out, err


@pytest.mark.slow
def test_demo_stdout_is_one_json_line(demo_run):
    run, out, err = demo_run
    assert json.loads(out)["run_dir"] == str(run)  # the whole of stdout parses
    assert "step 10: held-out exact match" in err and "| model" in err  # logs and the table: stderr


@pytest.mark.slow
def test_every_results_command_prints_only_json(demo_run, tmp_path, capfd):
    """In-process (a subprocess each would cost seconds of imports), captured at the file
    descriptors, so even a write to fd 1 from C code would show; progress bars stay on."""
    run = demo_run[0]
    commands = [
        ("eval", run, "--examples", "20"),
        ("generate", run, "--prompt", "12 x 34"),
        ("heatmap", run, "-o", tmp_path / "h.png"),
        ("compile", "circuit", "adder2", "-o", tmp_path / "adder"),
        ("verify", tmp_path / "adder"),
        ("run-tm", "binary-increment", "--input", "1 0 1", "--trace"),
        ("bench", *BENCH),
        ("sweep", "samples", "--models", "linear", "--cot", "none", "--seeds", "0", *SWEEP, "-o", tmp_path / "sw"),
        ("report", run, "-o", tmp_path / "r.html"),
        ("list", "--json"),
        ("show-task", "parity", "n=4", "-n", "2", "--json"),
    ]
    for cmd in commands:
        capfd.readouterr()
        assert main(list(map(str, cmd))) == 0, cmd
        out, err = capfd.readouterr()
        assert len(out.splitlines()) == 1, (cmd, out)
        assert isinstance(json.loads(out), dict), cmd
        bar = {"eval": "generate: 100%", "bench": "bench: 100%", "sweep": "sweep samples: 100%"}.get(cmd[0])
        assert bar is None or bar in err, (cmd, err[-500:])  # progress bars: on stderr
    main(["show-task", "parity", "n=4", "-n", "2", "--json"])
    assert len(json.loads(capfd.readouterr().out)["examples"]) == 2


def test_stray_prints_go_to_stderr(capsys, monkeypatch):
    """Whatever the library prints while a command runs (e.g. tqdm's bar.write, which defaults to
    stdout) lands on stderr; only the results reach stdout."""
    import arlearn.turing

    real = arlearn.turing.simulate

    def chatty(*a, **kw):
        print("a log line")
        return real(*a, **kw)

    monkeypatch.setattr("arlearn.cli.run_tm.simulate", chatty)
    assert main(["run-tm", "bb-2"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["ones"] == 4 and "a log line" in err


def test_list_and_show_task_text_stays_on_stdout(capsys):
    assert main(["list"]) == 0
    assert "presets:" in capsys.readouterr().out
    assert main(["list", "--json"]) == 0
    assert "quick" in json.loads(capsys.readouterr().out)["presets"]


def test_a_reader_that_closes_stdout_early_gets_no_traceback():
    """`arlearn list | head -1`: the reader goes away before the listing is written; arlearn
    stops quietly with 141 (as a process killed by SIGPIPE), no traceback."""
    r, w = os.pipe()
    os.close(r)  # no reader at all: the first write fails, whatever the timing
    try:
        proc = subprocess.run([sys.executable, "-m", "arlearn", "list"], stdout=w, stderr=subprocess.PIPE,
                              text=True, timeout=120)
    finally:
        os.close(w)
    assert proc.returncode == 141, proc.stderr[-800:]
    assert "Traceback" not in proc.stderr and "BrokenPipeError" not in proc.stderr


def test_nonfinite_results_are_valid_json(capsys):
    from arlearn.cli.common import emit

    emit({"loss": float("nan"), "x": [float("inf"), 1.5]})
    assert json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(c)) == {"loss": None,
                                                                                          "x": [None, 1.5]}


def test_sampling_shows_a_progress_bar_on_stderr(capsys):
    from arlearn.config import ModelConfig
    from arlearn.device import RunContext
    from arlearn.evaluation import sample_tokens
    from arlearn.models import make_model

    model = make_model(ModelConfig(name="linear", d=4), 10, 8)
    toks = sample_tokens(model, [1, 2], 5, seed=0, ctx=RunContext(progress=True))
    out, err = capsys.readouterr()
    assert out == "" and "sample: 100%" in err and f"{len(toks)}/5" in err
    sample_tokens(model, [1, 2], 5, seed=0)
    assert capsys.readouterr() == ("", "")  # off by default (library callers)


def test_version(capsys):
    from arlearn import __version__

    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.strip() == f"arlearn {__version__}"


def _subparsers(parser):
    import argparse

    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices


def test_every_option_of_every_command_has_help():
    parser = build_parser()
    missing = []
    for name, sub in _subparsers(parser).items():
        for a in sub._actions:
            if a.option_strings and a.dest != "help" and not a.help:
                missing.append(f"{name} {'/'.join(a.option_strings)}")
    assert not missing, missing


def test_no_internal_references_in_help():
    parser = build_parser()
    texts = [parser.format_help()] + [sub.format_help() for sub in _subparsers(parser).values()]
    for text in texts:
        assert "issue" not in text.lower(), text


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o077, 0o600)])
def test_written_files_follow_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        assert main(["compile", "circuit", "adder2", "-o", str(tmp_path / "run")]) == 0
    finally:
        os.umask(old)
    files = [p for p in (tmp_path / "run").rglob("*") if p.is_file()]
    assert {"model.safetensors", "config.toml", "compile.json"} <= {p.name for p in files}
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in files} == {p.name: mode for p in files}
