"""Runs travel: a run directory holds everything the commands that read it need (its tokenizer,
validation tokens, .bench netlist or machine spec, by content with their SHA-256), so it can be
moved to another place, its sources deleted, and eval / generate / sample / verify / report still
work from any working directory."""

import json
import shutil
from pathlib import Path

import pytest

from arlearn.cli import main
from arlearn.compile import compile_bench, compile_tm
from arlearn.config import from_dict
from arlearn.errors import ArlearnError
from arlearn.tasks.text import EOT
from arlearn.training import load_run, train

MACHINES = Path(__file__).resolve().parents[1] / "src" / "arlearn" / "machines"
BENCH = """# majority and parity of 4 inputs
INPUT(a)
INPUT(b)
INPUT(c)
INPUT(d)
OUTPUT(maj)
OUTPUT(par)
ab = AND(a, b)
cd = AND(c, d)
maj = OR(ab, cd)
par = XOR(a, b, c, d)
"""
STORIES = ["Tom had a red ball. He liked to play with it in the park every day.",
           "Lily saw a big dog. The dog was happy and wagged its tail at Lily.",
           "The sun was warm. Mia and her mom went to the beach to swim and play."] * 4
TRAIN = {"steps": 4, "batch_size": 8, "train_examples": 40, "warmup": 1, "threads": 1, "dtype": "fp32",
         "device": "cpu", "log_every": 2, "checkpoint_every": 2}
EVAL = {"examples": 6, "batch_size": 8}


def _train(src: Path, name: str, task: dict, model: dict | None = None) -> Path:
    cfg = from_dict({"task": task, "model": model or {"name": "linear", "d": 8}, "train": TRAIN, "eval": EVAL})
    run = src / "runs" / name
    train(cfg, run, progress=False)
    return run


@pytest.fixture(scope="module")
def moved(tmp_path_factory):
    """Runs of every task kind (and compiled ones) made in `src`, then moved to `dst` with `src` deleted."""
    import torch

    torch.set_num_threads(1)
    src, dst = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("dst")
    (src / "maj.bench").write_text(BENCH)
    shutil.copy(MACHINES / "binary-increment.json", src / "inc.json")
    (src / "stories.txt").write_text(f"\n{EOT}\n".join(STORIES) + "\n", encoding="utf-8")
    _train(src, "mult", {"name": "multiplication", "n": 2, "m": 2})
    _train(src, "parity", {"name": "parity", "n": 8, "k": 2})
    _train(src, "tm", {"name": "tm", "machine": str(src / "inc.json"), "cot": "threshold"})
    _train(src, "circuit", {"name": "circuit", "file": str(src / "maj.bench")})
    _train(src, "text", {"name": "text", "train_path": str(src / "stories.txt"), "valid_path": str(src / "stories.txt"),
                         "tokenizer": "bpe", "bpe_vocab": 300, "window": 8, "cache_dir": str(src / "cache")},
           {"name": "linear", "d": 16})
    compile_bench(src / "maj.bench", src / "runs" / "compiled-circuit")
    compile_tm(str(src / "inc.json"), src / "runs" / "compiled-tm")
    shutil.move(str(src / "runs"), str(dst / "runs"))
    shutil.rmtree(src)  # the sources (corpus, .bench, machine spec, token cache) are gone
    return dst / "runs"


GENERATE = {"mult": "12 x 34", "parity": "0 1 1 0 1 0 0 1", "tm": "0 1 1 0", "circuit": "0110",
            "compiled-circuit": "1011", "compiled-tm": "1 1 0 1"}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mult", "parity", "tm", "circuit", "text", "compiled-circuit", "compiled-tm"])
def test_a_moved_run_works_from_anywhere_without_its_sources(moved, name, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # a third directory: nothing relative to the old places resolves
    run = str(moved / name)
    assert main(["eval", run]) == 0, capsys.readouterr().err
    if name in GENERATE:
        assert main(["generate", run, "--prompt", GENERATE[name]]) == 0, capsys.readouterr().err
    if name == "text":
        assert main(["sample", run, "--prompt", "Tom had", "--max-tokens", "5", "--seed", "1"]) == 0, \
            capsys.readouterr().err
    if name in ("tm", "circuit", "compiled-circuit", "compiled-tm"):
        try:  # a few training steps do not learn the circuit: only the compiled runs must be exact
            code = main(["verify", run, "--no-progress"])
        except SystemExit as e:
            code = e.code
        assert code == (0 if name.startswith("compiled") else code) and code in (0, 1), capsys.readouterr().err
        assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["checked"] == 16
    assert main(["report", run, "-o", str(tmp_path / "r.html")]) == 0, capsys.readouterr().err
    assert "arlearn: error" not in capsys.readouterr().err


def test_input_files_are_stored_by_content_with_their_sha256(moved):
    inputs = {name: json.loads((moved / name / "inputs.json").read_text())
              for name in ("tm", "circuit", "text", "compiled-circuit", "compiled-tm")}
    assert set(inputs["text"]) == {"tokenizer.json", "valid.u16"}
    assert inputs["circuit"]["maj.bench"]["option"] == "file"
    assert inputs["compiled-tm"]["inc.json"]["option"] == "machine"
    for name, files in inputs.items():
        for fname, rec in files.items():
            import hashlib

            data = (moved / name / fname).read_bytes()
            assert rec["bytes"] == len(data) and rec["sha256"] == hashlib.sha256(data).hexdigest()
    cfg = (moved / "text" / "config.toml").read_text()
    assert 'tokenizer_file = "tokenizer.json"' in cfg and 'valid_tokens = "valid.u16"' in cfg
    assert not (moved / "mult" / "inputs.json").exists()  # nothing to store for a generated task


def test_a_changed_input_file_is_refused(moved, tmp_path):
    run = tmp_path / "circuit"
    shutil.copytree(moved / "circuit", run)
    (run / "maj.bench").write_text(BENCH.replace("OR(ab, cd)", "AND(ab, cd)"))
    with pytest.raises(ArlearnError, match="maj.bench .*has changed since the run was made"):
        load_run(run)
    (run / "maj.bench").unlink()
    with pytest.raises(ArlearnError, match="maj.bench .*is missing"):
        load_run(run)


def test_generate_on_a_text_run_points_to_sample_and_prints_no_bpe_pieces(moved, capsys):
    assert main(["generate", str(moved / "text"), "--prompt", "Tom had"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "Ġ" not in err
    assert err.strip().startswith("arlearn: error:") and "arlearn sample" in err and len(err.strip().splitlines()) == 1


def test_a_moved_text_run_resumes_where_its_corpus_exists(tmp_path, monkeypatch, capsys):
    """Resuming (here: extending) needs the training corpus, not the tokenizer or the cache."""
    (tmp_path / "stories.txt").write_text(f"\n{EOT}\n".join(STORIES) + "\n", encoding="utf-8")
    run = _train(tmp_path, "text", {"name": "text", "train_path": str(tmp_path / "stories.txt"),
                                    "valid_path": str(tmp_path / "stories.txt"), "tokenizer": "bpe",
                                    "bpe_vocab": 300, "window": 8, "cache_dir": str(tmp_path / "cache")})
    shutil.rmtree(tmp_path / "cache")
    shutil.move(str(run), str(tmp_path / "moved"))
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert main(["train", "--resume", str(tmp_path / "moved"), "--steps", "6", "--no-progress"]) == 0, \
        capsys.readouterr().err
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["steps"] == 6
