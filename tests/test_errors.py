"""Errors a user can cause end as one line `arlearn: error: …` and exit status 2: unwritable
outputs, non-finite config values, YAML config files; and `arlearn bench -o` keeps the cases that
finished when a benchmark is stopped."""

import json
import math

import pytest

from arlearn.cli import main
from arlearn.config import resolve
from arlearn.errors import ArlearnError
from arlearn.fileio import save_safetensors, write_json, write_text

BENCH = ["reps=1", "rounds=1", "threads=1", "peak_size=32x32x32", "peak_warmup_s=0", "layer_T=4", "layer_d=4",
         "layer_batches=2", "chunk=2", "linear_T=4", "linear_d=4", "linear_V=20", "linear_batch=2",
         "dtypes=fp32", "models=linear", "isolate=false", "--no-progress"]
SWEEP = ["samples", "--models", "linear", "--cot", "none", "--set", "task.name=parity", "--set", "task.n=6",
         "--set", "task.k=2", "--set", "model.d=8", "--steps", "2", "--set", "train.warmup=1",
         "--set", "train.train_examples=64",
         "--set", "eval.examples=8", "--no-progress"]


def one_error_line(capsys) -> str:
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("arlearn: error: "), err
    assert out == ""
    return lines[0]


@pytest.fixture(scope="module")
def compiled_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("err") / "adder"
    assert main(["compile", "circuit", "adder2", "-o", str(run)]) == 0
    return run


def test_atomic_writes_name_the_path_they_cannot_write(tmp_path):
    """A path under a regular file cannot be created, whoever runs the test (root included)."""
    (tmp_path / "afile").write_text("x")
    for write in (lambda p: write_text(p, "x"), lambda p: write_json(p, {}), lambda p: save_safetensors(p, {})):
        with pytest.raises(ArlearnError, match="cannot write .*afile/sub/x"):
            write(tmp_path / "afile" / "sub" / "x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]  # no temporary files left behind


@pytest.mark.parametrize("command", ["heatmap", "sweep", "report", "bench"])
def test_unwritable_output_is_one_line(command, request, tmp_path, capsys):
    compiled_run = request.getfixturevalue("compiled_run") if command in ("heatmap", "report") else None
    (tmp_path / "afile").write_text("x")
    bad = tmp_path / "afile" / "out"
    argv = {"heatmap": ["heatmap", str(compiled_run), "-o", f"{bad}.png"],
            "sweep": ["sweep", *SWEEP, "-o", str(bad)],
            "report": ["report", str(compiled_run), "-o", f"{bad}.html"],
            "bench": ["bench", *BENCH, "-o", f"{bad}.json"]}[command]
    capsys.readouterr()
    assert main(argv) == 2
    assert "afile/out" in one_error_line(capsys)


def test_bench_out_is_written_as_cases_finish(tmp_path, monkeypatch, capsys):
    """Stopped after its second case, `bench -o` leaves a valid file with the finished cases."""
    import arlearn.experiments.bench as bench

    real, calls = bench._run_case, []

    def stop_on_third(*a):
        calls.append(a)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*a)

    monkeypatch.setattr(bench, "_run_case", stop_on_third)
    out = tmp_path / "b.json"
    assert main(["bench", *BENCH, "-o", str(out)]) == 130
    report = json.loads(out.read_text())
    assert report["complete"] is False and report["cases_done"] == 2 and len(report["results"]) == 2
    assert report["cases_total"] > 2 and report["environment"]["device"] == "cpu"


def test_bench_on_case_sees_every_case_then_the_final_report():
    from arlearn.experiments.bench import BenchConfig, run_bench

    cfg = BenchConfig(reps=1, threads=1, peak_size=(16, 16, 16), peak_warmup_s=0.0, layer_T=4, layer_d=4,
                      layer_batches=(2,), chunk=2, linear_T=4, linear_d=4, linear_V=20, linear_batch=2,
                      dtypes=("fp32",), models=("linear",), isolate=False)
    seen = []
    report = run_bench(cfg, progress=False, on_case=lambda r: seen.append((r["cases_done"], r["complete"])))
    n = report["cases_total"]
    assert seen == [(k, False) for k in range(n + 1)] + [(n, True)]
    assert "ratios" in report and len(report["results"]) == n


@pytest.mark.parametrize("override", ["train.lr=nan", "train.grad_clip=inf", "train.max_minutes=-inf",
                                      "train.target_exact_match=nan"])
def test_non_finite_floats_are_rejected_by_key(override, tmp_path, capsys):
    key = override.split("=")[0].split(".")[1]
    assert main(["train", "--set", override, "-o", str(tmp_path / "r"), "--no-progress"]) == 2
    line = one_error_line(capsys)
    assert f"'{key}'" in line and "finite" in line
    assert not (tmp_path / "r").exists()  # nothing written, not even config.toml


def test_non_finite_floats_are_rejected_everywhere_floats_are_configured():
    from arlearn.config import build_dataclass
    from arlearn.experiments.bench import BenchConfig

    with pytest.raises(ArlearnError, match="bench: 'peak_warmup_s' must be a finite number, got nan"):
        build_dataclass(BenchConfig, {"peak_warmup_s": math.nan}, "bench")


# -- YAML config files ------------------------------------------------------------------------
def test_yaml_config_equals_its_toml_twin(tmp_path):
    import tomllib
    from importlib import resources

    import yaml

    d = tomllib.loads(resources.files("arlearn.presets").joinpath("quick.toml").read_text())
    for suffix in (".yaml", ".yml"):
        f = tmp_path / f"quick{suffix}"
        f.write_text(yaml.safe_dump(d))
        assert resolve(None, str(f)).to_dict() == resolve("quick").to_dict()
    f = tmp_path / "over.yaml"
    f.write_text("train:\n  steps: 7\nmodel:\n  name: linear\n")
    cfg = resolve("quick", str(f))
    assert (cfg.train.steps, cfg.model.name, cfg.model.d) == (7, "linear", 16)  # merged over the preset


@pytest.mark.parametrize("text,says", [
    ("train:\n  steps: [1\n", "is not valid YAML"),
    ("train: {steps: 3\n", "is not valid YAML"),
    ("- just\n- a list\n", "expected a mapping of sections"),
    ("train:\n  stepz: 3\n", "unknown option 'stepz'"),
    ("train:\n  steps: ten\n", "'steps' must be int"),
    ("train:\n  lr: .nan\n", "'lr' must be a finite number"),
    ("bogus:\n  x: 1\n", "unknown section [bogus]"),
    ("!!python/object:os.system {}\n", "is not valid YAML"),  # safe_load only
])
def test_bad_yaml_config_is_one_line(text, says, tmp_path, capsys):
    f = tmp_path / "c.yaml"
    f.write_text(text)
    assert main(["train", "--preset", "quick", "--config", str(f), "-o", str(tmp_path / "r"), "--no-progress"]) == 2
    line = one_error_line(capsys)
    assert says in line
    if "YAML" in says or "mapping" in says:
        assert str(f) in line


def test_yaml_without_pyyaml_is_a_clear_error(tmp_path, monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "yaml", None)  # `import yaml` now raises ImportError
    f = tmp_path / "c.yml"
    f.write_text("train:\n  steps: 3\n")
    assert main(["train", "--config", str(f)]) == 2
    assert "arlearn[yaml]" in one_error_line(capsys)
