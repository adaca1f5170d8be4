"""`arlearn report`: content of the HTML/Markdown page, errors, and a render in headless Chromium."""

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from arlearn.cli import main
from arlearn.config import resolve
from arlearn.errors import ArlearnError
from arlearn.reporting.report import build_report
from arlearn.training import Trainer, train

TINY = ["task.n=2", "task.m=2", "model.d=8", "train.steps=30", "train.batch_size=16", "train.train_examples=200",
        "train.warmup=3", "train.log_every=5", "train.eval_every=15", "eval.examples=24", 'train.device="cpu"']


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    import torch

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("runs")
    train(resolve("quick", None, TINY), root / "mlp-run", progress=False)
    # an unfinished run: config, a few metrics and a checkpoint, no results
    t = Trainer(resolve("quick", None, TINY), root / "unfinished", progress=False)
    for _ in range(3):
        t.train_step()
    t.log.write(step=3, loss=2.5, token_acc=0.2, lr=0.001)
    t.save_checkpoint()
    # a sweep directory as `arlearn sweep` leaves it
    sweep = root / "sweep-demo"
    sweep.mkdir()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 4, 8], [0.5, 0.8, 1.0])
    fig.savefig(sweep / "length.png")
    plt.close(fig)
    (sweep / "sweep.json").write_text(json.dumps({"kind": "length", "task": "parity n=8", "cells_done": 2,
                                                  "cells_total": 2, "plots": ["length.png"]}))
    (sweep / "table.md").write_text("| model | CoT | exact match |\n|---|---|---|\n| mlp | none | 0.5 |\n"
                                    "| mlp | threshold | 1.0 |\n\n- mlp: 8 tokens\n")
    return root


@pytest.fixture(scope="module")
def report(runs):
    out = build_report([runs / "mlp-run", runs / "unfinished", runs / "sweep-demo"], runs / "report" / "r.html")
    return out


def test_report_has_every_section_and_embeds_figures(report):
    out, tmp_path = report, report["html"].parent
    page = (tmp_path / "r.html").read_text()
    assert out["runs"] == 3
    for text in ("Configuration", "Results", "Training curves", "What each position reads",
                 "Example chains of thought", "held-out answers wrong", "length complexity", "threshold",
                 "No results.json: training has not finished", "newest checkpoint at step 3"):
        assert text in page, text
    imgs = re.findall(r"<img [^>]*src='([^']*)'", page)
    assert len(imgs) >= 4 and all(s.startswith("data:image/png;base64,") for s in imgs)
    assert "<script" not in page and not re.search(r"(src|href)=['\"]?(https?:)?//", page)  # nothing from the network
    assert "class='wrong'" in page  # the first wrong token of a wrong CoT is highlighted
    md = (tmp_path / "r.md").read_text()
    assert "## mlp-run (run)" in md and "**~~" in md
    for name in re.findall(r"\]\((r_files/[^)]+)\)", md):
        assert (tmp_path / name).is_file()


def test_report_errors(runs, tmp_path, capsys):
    with pytest.raises(ArlearnError, match="run directory not found"):
        build_report([tmp_path / "nope"], tmp_path / "r.html")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ArlearnError, match="neither a run directory"):
        build_report([tmp_path / "empty"], tmp_path / "r.html")
    with pytest.raises(ArlearnError, match="must end in .html"):
        build_report([runs / "mlp-run"], tmp_path / "r.pdf")
    bad = tmp_path / "bad"
    shutil.copytree(runs / "unfinished", bad)
    (bad / "results.json").write_text("{oops")
    assert main(["report", str(bad), "-o", str(tmp_path / "x.html")]) == 2
    assert "results.json is not valid JSON" in capsys.readouterr().err


def test_a_compiled_run_is_shown_as_compiled_with_its_verification(tmp_path):
    from arlearn.compile import compile_generator, verify_run

    run = tmp_path / "adder2"
    compile_generator("adder2", run)
    page = build_report([run], tmp_path / "before.html")["html"].read_text()
    for text in ("Compiled circuit", "threshold gates", "non-zero weights", "dense model.safetensors written",
                 "Not verified yet"):
        assert text in page, text
    for text in ("No results.json", "training has not finished", "train.steps", "Training curves"):
        assert text not in page, text  # a compiled run was never trained
    verify_run(run)
    assert json.loads((run / "verify.json").read_text())["ok"] is True
    page = build_report([run], tmp_path / "after.html")["html"].read_text()
    assert "correct on every input" in page and "Not verified yet" not in page
    assert "(compiled run)" in page


# -- headless Chromium -------------------------------------------------------------------------------
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--enable-logging=stderr", "--v=0", "--window-size=1100,1400", "--hide-scrollbars"]


def chromium() -> str | None:
    return next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)


def render(page: Path, png: Path) -> list[str]:
    """Screenshot `page` with headless Chromium; returns the console messages it logged."""
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run([chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={png}",
                               page.resolve().as_uri()], capture_output=True, text=True, timeout=90)
    if not png.is_file():
        pytest.skip(f"chromium ran but wrote no screenshot (rc {proc.returncode}): {proc.stderr[-300:]}")
    return [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]


@pytest.mark.slow
def test_report_renders_in_headless_chromium(report, tmp_path):
    if chromium() is None:
        pytest.skip("chromium not installed (`apt-get install chromium`; .ci/run installs it when it can)")
    # control: a page that does log a console error must be caught, or the check below means nothing
    control = tmp_path / "control.html"
    control.write_text("<html><body>x<script>console.error('arlearn-control')</script></body></html>")
    if not any("arlearn-control" in m for m in render(control, tmp_path / "control.png")):
        pytest.skip("this chromium does not log console messages to stderr; cannot check the page for errors")

    console = render(report["html"], tmp_path / "shot.png")
    assert console == [], console

    import matplotlib.image as mpimg
    import numpy as np

    img = mpimg.imread(tmp_path / "shot.png")[..., :3]
    assert img.shape[0] >= 1000 and img.shape[1] >= 1000
    ink = (img.mean(-1) < 0.9).mean()  # fraction of non-white pixels
    assert ink > 0.01 and img.std() > 0.05, f"screenshot looks blank (ink {ink:.4f}, std {img.std():.4f})"
    assert len(np.unique((img * 255).astype(np.uint8).reshape(-1, 3), axis=0)) > 50  # text and figures, not one colour


@pytest.mark.slow
def test_a_trained_circuit_run_shows_learned_beside_compiled_wiring_and_its_proof(tmp_path):
    from arlearn.compile.prove import prove_run

    cfg = resolve("circuit-adder4", overrides=["task.generator=adder2", "train.steps=40", "train.eval_every=0",
                                               "eval.examples=20", 'train.device="cpu"'])
    run = tmp_path / "adder2-linear"
    train(cfg, run, progress=False)
    page = build_report([run], tmp_path / "no-proof.html")["html"].read_text()
    for text in ("What each position reads", "Left: the trained model", "arlearn compile", "Recovered wiring", "top-k precision",
                 "true edges"):
        assert text in page, text
    assert "Proof" not in page  # no prove.json yet
    rep = prove_run(run)  # a trained model: the conservative certificate
    page = build_report([run], tmp_path / "r.html")["html"].read_text()
    verdict = "proven: greedy decoding" if rep["ok"] else "not proven: greedy decoding"
    for text in ("<h3>Proof</h3>", verdict, "certificate", "all 2^4 inputs", "positions fail"):
        assert text in page, text
    md = (tmp_path / "r.md").read_text()
    assert "### Recovered wiring" in md and "### Proof" in md


def test_a_compiled_and_proven_run_shows_its_proof_and_exact_wiring(tmp_path):
    from arlearn.compile import compile_generator, prove_run

    run = tmp_path / "cmp2"
    compile_generator("cmp2", run)
    assert prove_run(run)["ok"]
    page = build_report([run], tmp_path / "r.html")["html"].read_text()
    assert "proven: greedy decoding gives the right chain of thought and answer on all 2^4 inputs" in page
    assert "exact: weights off a gate" in page and "proven: 0 of 10 positions fail; min margin 0.5" in page
    wiring = page[page.index("Recovered wiring"):]
    assert "<th>top-k precision (= recall)</th><td>1</td>" in wiring and "worst gates" not in wiring
    (run / "prove.json").write_text('["not a report"]')
    assert "prove.json is not a proof report" in build_report([run], tmp_path / "bad.html")["html"].read_text()


def test_periodic_checks_log_accuracy_per_answer_position_and_the_curves_plot_it(runs):
    from arlearn.reporting.curves import position_series

    rows = [json.loads(line) for line in (runs / "mlp-run" / "metrics.jsonl").read_text().splitlines()]
    checks = [r for r in rows if "eval_exact_match" in r]
    assert checks and all(len(r["eval_answer_position_accuracy"]) == 4 for r in checks)  # 2×2 digits: 4 answer digits
    steps, per_pos = position_series(rows)
    assert steps == [r["step"] for r in checks] and len(per_pos) == 4
    assert per_pos[0] == [r["eval_answer_position_accuracy"][0] for r in checks]


def test_position_series_skips_rows_of_another_width_and_the_figure_needs_something_to_plot():
    from arlearn.reporting.curves import curves_figure, position_series

    rows = [{"step": 10, "eval_answer_position_accuracy": [0.5, 0.1]},
            {"step": 20, "eval_answer_position_accuracy": [0.9]},  # another width: skipped
            {"step": 30, "eval_answer_position_accuracy": [1.0, 0.4]},
            {"step": 40, "loss": 1.0}]
    assert position_series(rows) == ([10, 30], [[0.5, 1.0], [0.1, 0.4]])
    assert position_series([{"step": 1, "loss": 2.0}]) == ([], [])
    assert curves_figure(rows, "t")[:8] == b"\x89PNG\r\n\x1a\n"
    assert curves_figure([{"step": 1}], "t") is None
