"""The command line: bad input gives one clear error line and exit status 2, never a traceback."""

import json
import subprocess
import sys

import pytest

from arlearn.cli import main

TINY = ["--set", "task.n=1", "--set", "task.m=1", "--set", "model.d=8", "--steps", "3",
        "--set", "train.train_examples=20", "--set", "train.batch_size=8", "--set", "eval.examples=5",
        "--no-progress"]


def run_cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("cli") / "run"
    assert main(["train", *TINY, "-o", str(run_dir)]) == 0
    return run_dir


def test_train_ends_with_one_json_line(tmp_path, capsys):
    code, out, err = run_cli(capsys, "train", *TINY, "-o", str(tmp_path / "r"))
    assert code == 0
    results = json.loads(out.strip().splitlines()[-1])
    assert 0.0 <= results["exact_match"] <= 1.0 and results["run_dir"] == str(tmp_path / "r")
    assert "| model" in err  # the human-readable table goes to stderr


def test_eval_and_generate(tiny_run, capsys):
    code, out, _ = run_cli(capsys, "eval", str(tiny_run), "--examples", "7")
    assert code == 0
    assert json.loads(out.strip().splitlines()[-1])["n"] == 7
    code, out, _ = run_cli(capsys, "generate", str(tiny_run), "--prompt", "3 x 4")
    assert code == 0
    assert json.loads(out)["prompt"] == "<bos> 3 x 4 ="


def test_show_task_and_list(capsys):
    code, out, _ = run_cli(capsys, "show-task", "multiplication", "cot=paper", "-n", "1")
    assert code == 0 and "cot:    ( " in out and "answer:" in out  # the paper CoT opens with "("
    code, out, _ = run_cli(capsys, "list")
    assert code == 0 and "multiplication" in out and "quick" in out


@pytest.mark.parametrize("args,msg", [
    (["train", "--task", "nope"], "unknown task 'nope'"),
    (["train", "--model", "rnn"], "unknown model 'rnn'"),
    (["train", "--preset", "fast"], "unknown preset 'fast'"),
    (["train", "--set", "train.stepz=3"], "unknown option 'stepz'"),
    (["train", "--set", "train.steps=\"ten\""], "'steps' must be int"),
    (["train", "--set", "train.lr=-1"], "lr must be > 0"),
    (["train", "--set", "bogus.x=1"], "unknown section [bogus]"),
    (["train", "--set", "model.context=5"], "shorter than the task's sequences"),
    (["train", "--cot", "fancy"], "unknown cot format 'fancy'"),
    (["train", "--config", "does-not-exist.toml"], "config file not found"),
    (["train", "--task", "text", "--set", "task.tokenizer=\"bpe\"", "--set", "task.train_path=\"no-such-corpus.txt\""],
     "corpus file not found"),
    (["show-task", "multiplication", "n=0"], "n and m must be in 1..9"),
    (["show-task", "multiplication", "nonsense"], "key=value"),
    (["eval", "no/such/run"], "run directory not found"),
])
def test_bad_input_is_one_clear_line(args, msg, capsys, tmp_path):
    code, out, err = run_cli(capsys, *args, *(["-o", str(tmp_path / "r")] if args[0] == "train" else []))
    assert code == 2
    lines = err.strip().splitlines()
    assert lines[-1].startswith("arlearn: error: ") and msg in lines[-1], err
    assert "Traceback" not in err
    if args[0] == "train":
        assert not (tmp_path / "r").exists()  # nothing written, not even config.toml


def test_malformed_config_file(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("[train\nsteps = 3")
    code, _, err = run_cli(capsys, "train", "--config", str(bad))
    assert code == 2 and "not valid TOML" in err


def test_out_of_vocabulary_prompt(tiny_run, capsys):
    code, _, err = run_cli(capsys, "generate", str(tiny_run), "--prompt", "a x b")
    assert code == 2 and "prompt must look like" in err
    code, _, err = run_cli(capsys, "generate", str(tiny_run), "--prompt", "12 x 3")
    assert code == 2 and "must have 1 and 1 digits" in err


def test_missing_and_corrupt_checkpoints(tiny_run, tmp_path, capsys):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_run, broken)
    (broken / "model.safetensors").write_bytes(b"\x00garbage")
    code, _, err = run_cli(capsys, "eval", str(broken))
    assert code == 2 and "corrupt checkpoint" in err
    (broken / "model.safetensors").unlink()
    code, _, err = run_cli(capsys, "eval", str(broken))
    assert code == 2 and "checkpoint not found" in err
    (broken / "config.toml").unlink()
    code, _, err = run_cli(capsys, "eval", str(broken))
    assert code == 2 and "not a run directory" in err


def test_checkpoint_of_another_shape_is_rejected(tiny_run, tmp_path, capsys):
    import shutil

    other = tmp_path / "other"
    shutil.copytree(tiny_run, other)
    cfg = (other / "config.toml").read_text().replace("d = 8", "d = 16")
    (other / "config.toml").write_text(cfg)
    code, _, err = run_cli(capsys, "eval", str(other))
    assert code == 2 and "has shape" in err


@pytest.mark.slow
def test_console_script_exit_status():
    proc = subprocess.run([sys.executable, "-m", "arlearn", "train", "--task", "nope"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("arlearn: error: unknown task 'nope'; known: "
                                   + proc.stderr.strip().split("known: ")[1])
    assert "Traceback" not in proc.stderr


def test_naming_another_task_drops_the_presets_task_options(tmp_path):
    from arlearn.config import resolve

    assert resolve("quick").task_options["cot"] == "long"
    assert resolve("quick", overrides=["task.name=parity"]).task_options == {}
    assert resolve("quick", overrides=["task.name=parity", "task.n=8"]).task_options == {"n": 8}
    assert resolve("quick", overrides=["task.name=multiplication", "task.n=2"]).task_options["cot"] == "long"
    f = tmp_path / "c.toml"
    f.write_text('[task]\nname = "parity"\nk = 3\n')
    assert resolve("quick", str(f)).task_options == {"k": 3}
    assert resolve("quick", overrides=["model.name=linear"]).model.d == resolve("quick").model.d  # [model] merges
