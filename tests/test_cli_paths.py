"""The command line's paths that used to end half-way: `train --dry-run` (the resolved config,
each key's source, the model's size), `--set task.file=…` over a generator preset, a task
option as a sweep axis (`sweep --vary task.n=…`) and `.bench` files in `sweep --circuits`."""

import dataclasses
import json
import tomllib

import pytest

from arlearn.circuits import generate, to_bench
from arlearn.cli import main
from arlearn.config import TrainConfig, resolve
from arlearn.errors import ArlearnError
from arlearn.experiments.sweep import Cell, SweepSpec, axis_variants, circuit_variant, sample_sweep


def test_dry_run_prints_every_key_with_its_source_and_the_size(capsys):
    assert main(["train", "--preset", "circuit-adder4", "--set", "model.d=8", "--set", "train.seed=3",
                 "--dry-run"]) == 0
    out = capsys.readouterr().out
    lines, sec = {}, ""
    for line in out.splitlines():
        if line.startswith("["):
            sec = line.strip("[]")
        elif " = " in line:
            key, value = line.split(" = ", 1)
            lines[f"{sec}.{key}"] = value
    assert lines["model.d"] == "8  # --set" and lines["train.seed"] == "3  # --set"
    assert lines["eval.seed"] == "1234  # default" and lines["train.weight_decay"] == "0.1  # default"
    assert lines["train.steps"].endswith("# preset circuit-adder4")
    assert lines["task.generator"] == '"adder4"  # preset circuit-adder4' and lines["task.sha256"] == '""  # default'
    assert len([k for k in lines if k.startswith("train.")]) == len(dataclasses.fields(TrainConfig))  # every key
    cfg = tomllib.loads(out)  # the printed config loads back as a config file
    assert cfg["model"]["d"] == 8 and cfg["task"]["generator"] == "adder4"
    assert "# model linear: " in out and " parameters stored (" in out and "# training memory ≈ " in out


def test_dry_run_trains_nothing(tmp_path, capsys):
    assert main(["train", "--preset", "quick", "-o", str(tmp_path / "run"), "--dry-run"]) == 0
    assert not (tmp_path / "run").exists()


def test_a_file_over_a_generator_preset_needs_no_cleared_generator(tmp_path):
    bench = tmp_path / "add3.bench"
    bench.write_text(to_bench(generate("add3")))
    cfg = resolve("circuit-adder4", None, [f"task.file={bench}"])
    assert cfg.task == {"name": "circuit", "cot": "threshold", "file": str(bench)}
    back = resolve("circuit-adder4", None, [f"task.file={bench}", "task.generator=add2"])
    assert back.task == {"name": "circuit", "cot": "threshold", "generator": "add2"}


def test_a_file_over_a_generator_preset_trains_from_the_command_line(tmp_path, capsys):
    bench = tmp_path / "add2.bench"
    bench.write_text(to_bench(generate("add2")))
    assert main(["train", "--preset", "circuit-adder4", "--set", f"task.file={bench}", "--dry-run"]) == 0
    assert f'file = "{bench}"  # --set' in capsys.readouterr().out


def test_axis_variants_are_the_product_of_the_axes():
    v = axis_variants({"task.n": [6, 8], "model.d": [8]})
    assert v == {"n=6,d=8": {"task": {"n": 6}, "model": {"d": 8}}, "n=8,d=8": {"task": {"n": 8}, "model": {"d": 8}}}
    assert axis_variants({}) == {}
    with pytest.raises(ArlearnError, match="already an axis of the grid"):
        axis_variants({"task.cot": ["none"]})
    with pytest.raises(ArlearnError, match="section.key"):
        axis_variants({"n": [1]})


def test_sweep_vary_makes_a_task_option_an_axis(tmp_path, capsys, monkeypatch):
    import arlearn.training.trainer

    seen = []

    def fake(cfg, run_dir, progress=True):  # the grid, not the training, is under test
        seen.append((cfg.task["n"], cfg.task["cot"], cfg.model.name))
        return {"exact_match": 1.0, "token_accuracy": 1.0, "cot_length": 0, "parameters": 1, "steps": 1,
                "stopped_by": "steps", "train_seconds": 0.0, "n": 400, "correct": 400, "chance": 0.5}

    monkeypatch.setattr(arlearn.training.trainer, "train", fake)
    assert main(["sweep", "length", "--task", "parity", "--models", "linear", "--cot", "none", "--vary",
                 "task.n=6,8", "--set", "task.k=2", "--steps", "10", "--set", "train.warmup=1", "--executor",
                 "serial", "--no-progress", "-o", str(tmp_path / "s")]) == 0
    assert sorted(seen) == [(6, "none", "linear"), (8, "none", "linear")]
    rep = json.loads((tmp_path / "s" / "sweep.json").read_text())
    assert sorted(rep["length_complexity"]) == ["n=6/linear", "n=8/linear"]
    assert main(["sweep", "length", "--task", "parity", "--cot", "none", "--vary", "task.n"]) == 2
    assert "--vary must look like section.key=v1,v2" in capsys.readouterr().err


def test_circuits_take_bench_files_and_generator_names(tmp_path):
    bench = tmp_path / "my_adder.bench"
    bench.write_text(to_bench(generate("add2")))
    assert circuit_variant(str(bench)) == ("my_adder", {"task": {"file": str(bench), "generator": "", "sha256": ""}})
    assert circuit_variant("add4") == ("add4", {"task": {"generator": "add4", "file": "", "sha256": ""}})
    base = resolve("circuit-adder4", None, ["train.steps=10", "train.warmup=1"])
    spec = SweepSpec(base, models=["linear"], cots=["threshold"], circuits=[str(bench), "add3"])
    cfg = spec.config_for(Cell("linear", "threshold", 64, 0, "my_adder"))
    assert cfg.task["file"] == str(bench) and not cfg.task["generator"]
    assert spec.circuit_sizes["my_adder"]["inputs"] == 4 and spec.circuit_sizes["add3"]["inputs"] == 6


def test_a_samples_sweep_over_a_bench_file_trains_it(tmp_path, monkeypatch):
    import arlearn.training.trainer

    bench = tmp_path / "my_adder.bench"
    bench.write_text(to_bench(generate("add2")))
    real = arlearn.training.trainer.train
    dirs = []

    def tracking(cfg, run_dir, progress=True):
        dirs.append(run_dir)
        return real(cfg, run_dir, progress)

    monkeypatch.setattr(arlearn.training.trainer, "train", tracking)
    base = resolve("circuit-adder4", None, ["train.steps=8", "train.warmup=1", "train.threads=1",
                                            "eval.examples=20", "train.train_examples=32"])
    rep = sample_sweep(SweepSpec(base, models=["linear"], cots=["threshold"], circuits=[str(bench)]),
                       tmp_path / "s", progress=False)
    assert rep["circuits"]["my_adder"]["threshold_gates"] == len(generate("add2").gates) + 3  # 3 XORs: 2 each
    assert (dirs[0] / "my_adder.bench").read_text() == bench.read_text()  # the run keeps its copy
