"""`arlearn bench` runs end to end at toy sizes and reports consistent ratios (no timing asserted)."""

import json

import pytest

from arlearn.experiments.bench import BenchConfig, cases, estimate_step_gb, model_shape, run_bench, step_useful_flops
from arlearn.cli import main
from arlearn.errors import ArlearnError

TOY = dict(reps=1, threads=1, peak_size=(64, 64, 64), peak_warmup_s=0.0, layer_T=6, layer_d=4, layer_batches=(3,), chunk=2,
           linear_T=6, linear_d=4, linear_V=30, linear_batch=2, mlp_T=7, mlp_d=4, mlp_batch=2, isolate=False)


def test_bench_reports_every_case_and_its_ratios():
    report = run_bench(BenchConfig(**TOY), progress=False)
    kinds = [(r["what"], r.get("model"), r.get("impl"), r["dtype"]) for r in report["results"]]
    assert len(kinds) == 2 + 4 + 8 + 2 and all("skipped" not in r for r in report["results"])
    r = report["ratios"]
    assert "peak bf16 / fp32" in r and r["step/linear fp32: speed-up vs dense-masked"] > 0
    # packed weights at T=6, chunk=2: 3 chunks of (2, 4, 6 rows)×2 cols of 4×4 blocks vs 36 blocks
    assert r["layer batch 3 fp32: weight memory / dense-masked"] == pytest.approx((24 * 16 + 6 * 4) / (36 * 16 + 6 * 4))
    step = next(x for x in report["results"] if x["what"] == "step" and x["model"] == "mlp")
    assert step["tokens_per_s"] == pytest.approx(2 * 7 / step["seconds"])
    # one projected TinyStories epoch per linear step case, from its own tokens/s
    proj = report["projections"]
    assert len(proj) == 4
    lin = next(x for x in report["results"] if x["what"] == "step" and x["model"] == "linear"
               and x["impl"] == "arlearn" and x["dtype"] == "bf16")
    key = "TinyStories epoch (470M tokens), arlearn bf16 batch 2: hours"
    assert proj[key] == pytest.approx(470e6 / lin["tokens_per_s"] / 3600)


def test_useful_flops_count_the_triangle_head_and_ffn():
    shape = model_shape(BenchConfig(), "linear")
    assert step_useful_flops(shape) == 6 * 16 * (64 * 65 // 2 * 256**2 + 64 * 256 * 50258)
    assert estimate_step_gb(model_shape(BenchConfig(), "mlp"), "dense", 4) > 2 * estimate_step_gb(
        model_shape(BenchConfig(), "mlp"), "arlearn", 4)


def test_memory_limit_skips_with_a_reason():
    report = run_bench(BenchConfig(**{**TOY, "memory_limit_gb": 1e-9, "dtypes": ("fp32",)}), progress=False)
    assert all("skipped" in r for r in report["results"] if r["what"] == "step")


def test_cli_bench_rejects_bad_options(capsys):
    assert main(["bench", "dtypes=fp16", "--no-progress"]) == 2
    assert "fp16" in capsys.readouterr().err
    assert main(["bench", "nonsense=1"]) == 2
    for bad, says in (("layer_batches=abc", "layer_batches"), ("layer_batches=0", "layer_batches"),
                      ("peak_size=2x3", "MxKxN"), ("linear_batch=-1", "linear_batch"), ("rounds=0", "rounds"),
                      ("epoch_tokens=0", "epoch_tokens")):
        capsys.readouterr()
        assert main(["bench", bad, "--no-progress"]) == 2, bad
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and says in err[0], (bad, err)


def test_cli_bench_prints_ratios_as_json(tmp_path, capsys):
    opts = [f"{k}={'x'.join(map(str, v)) if isinstance(v, tuple) else str(v).lower()}" for k, v in TOY.items()]
    assert main(["bench", *opts, "dtypes=fp32", "models=linear", "--no-progress", "-o", str(tmp_path / "r.json")]) == 0
    ratios = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert "step/linear fp32: speed-up vs dense-masked" in ratios
    assert json.loads((tmp_path / "r.json").read_text())["ratios"] == ratios


def test_rounds_alternate_the_implementations_and_ratios_use_medians():
    cfg = BenchConfig(**{**TOY, "rounds": 3, "dtypes": ("fp32",), "models": ("linear",)})
    order = [args[0] if kind == "layer" else args[1] for kind, args in cases(cfg) if kind != "peak"]
    assert order == ["arlearn", "dense"] * 2 + ["dense", "arlearn"] * 2 + ["arlearn", "dense"] * 2
    report = run_bench(cfg, progress=False)
    step = [r for r in report["results"] if r["what"] == "step" and r["impl"] == "arlearn"]
    assert len(step) == 3
    med = next(r for r in report["medians"] if r["what"] == "step" and r["impl"] == "arlearn")
    assert med["rounds"] == 3 and med["seconds"] == sorted(r["seconds"] for r in step)[1]
    dense = next(r for r in report["medians"] if r["what"] == "step" and r["impl"] == "dense")
    assert report["ratios"]["step/linear fp32: speed-up vs dense-masked"] == pytest.approx(
        dense["seconds"] / med["seconds"])
    with pytest.raises(ArlearnError, match="rounds"):
        run_bench(BenchConfig(**{**TOY, "rounds": 0}), progress=False)
