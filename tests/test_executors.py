"""Executors (arlearn.experiments.executors): a grid's cells serially, side by side in a spawn
process pool (`local`), or as Ray tasks — the same bits per cell, results in cell order, a dead
worker one error line, and reruns that resume at the unfinished cells. Tiny configs, one thread
per cell; the cell functions the workers call are module-level (spawn imports them by name)."""

import json
import os
import shutil
import sys
import time
from pathlib import Path

import pytest

import arlearn.experiments.sweep as sweep_mod
from arlearn.cli import main
from arlearn.config import resolve
from arlearn.errors import ArlearnError
from arlearn.experiments import executors
from arlearn.experiments.executors import plan, run_cells
from arlearn.experiments.seeds import train_seeds
from arlearn.experiments.sweep import SweepSpec, sample_sweep

SEEDS_TINY = ["task.n=2", "task.m=2", "train.steps=8", "train.warmup=2", "train.train_examples=300",
              "train.batch_size=16", "eval.examples=30", "model.hidden=16", "train.threads=1"]
SWEEP_TINY = ["task.name=parity", "task.n=6", "task.k=2", "model.d=8", "train.steps=6", "train.warmup=1",
              "train.batch_size=16", "train.train_examples=64", "train.threads=1", "eval.examples=40",
              "eval.batch_size=40"]
SWEEP_CLI = ["sweep", "samples", "--models", "linear", "--cot", "none", "--seeds", "0..2", "--no-progress",
             *[w for kv in SWEEP_TINY for w in ("--set", kv)]]
real_run_cell = sweep_mod.run_cell


# -- cell functions for the workers (module-level: spawn and Ray import them by name) ------------
def square_late_first(x: int) -> int:
    time.sleep(1.0 if x == 0 else 0.0)  # the first job finishes last
    return x * x


def crash_once(marker: str, x: int) -> int:
    """Kills its worker process the first time it is called for x == 1 (a marker file says so)."""
    if x == 1 and not os.path.exists(marker):
        Path(marker).touch()
        os._exit(3)
    return x * 10


def crashing_run_cell(spec, cell, out, progress=False):
    """`run_cell`, but the worker of seed 1 dies the first time (out/crashed marks it)."""
    marker = Path(out) / "crashed"
    if cell.seed == 1 and not marker.exists():
        marker.touch()
        os._exit(3)
    return real_run_cell(spec, cell, out, progress)


def failing_run_cell(spec, cell, out, progress=False):
    if cell.seed == 1:
        raise ArlearnError(f"cell {cell.id} cannot train: a bad option")
    return real_run_cell(spec, cell, out, progress)


def one_error_line(capsys) -> str:
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("arlearn:")]
    assert len(err) == 1, err
    return err[0]


def mtimes(out: Path) -> dict[str, int]:
    return {p.parent.name: p.stat().st_mtime_ns for p in out.glob("cells/*/cell.json")}


# -- planning and ordering --------------------------------------------------------------------
def test_plan_splits_the_cores_among_the_cells():
    # a 3-seed run on 2 cores: not two cells then one with a core idle, but all three at once
    assert plan(3, threads=1, n_cores=2) == (3, 1)
    assert plan(3, threads=0, n_cores=2) == (3, 1)  # threads unset: cores // workers
    assert plan(4, threads=1, n_cores=2) == (2, 1)  # two full rounds: no core idles
    assert plan(5, threads=1, n_cores=2) == (2, 1)  # three rounds: at most 2 cells per core-share
    assert plan(1, threads=0, n_cores=2) == (1, 2)
    assert plan(4, threads=4, n_cores=2) == (1, 4)  # more threads than cores: one at a time
    assert plan(2, threads=1, n_cores=16) == (2, 1)  # capped at the number of cells
    assert plan(8, threads=2, n_cores=16) == (8, 2)


@pytest.mark.slow
def test_local_results_come_back_in_job_order_as_they_arrive():
    arrived = []
    out = run_cells(square_late_first, [(0,), (1,), (2,)], executor="local", threads=1,
                    on_result=lambda i, r: arrived.append(i))
    assert out == [0, 1, 4]
    assert sorted(arrived) == [0, 1, 2] and arrived[-1] == 0  # job 0 (slow) arrived last
    assert run_cells(square_late_first, [(3,), (4,)], executor="serial") == [9, 16]


def test_serial_cells_hand_their_freed_memory_back_before_the_next_cell(monkeypatch):
    # a serial grid runs in one process: each cell's freed heap is released before its result is
    # published and the next cell starts (else RSS keeps every cell's high-water mark)
    import arlearn.device

    events = []
    monkeypatch.setattr(arlearn.device, "release_memory", lambda: events.append("release"))

    def cell(x):
        events.append(f"cell {x}")
        return x

    run_cells(cell, [(1,), (2,)], executor="serial", on_result=lambda i, r: events.append(f"result {r}"))
    assert events == ["cell 1", "release", "result 1", "cell 2", "release", "result 2"]


def test_an_unknown_executor_is_an_error():
    with pytest.raises(ArlearnError, match="unknown executor 'threads'"):
        run_cells(square_late_first, [(1,)], executor="threads")


# -- local vs serial: the same bits ------------------------------------------------------------
@pytest.mark.slow
def test_local_trains_the_same_seeds_bit_for_bit_as_serial_and_resumes(tmp_path):
    cfg = resolve("quick", None, SEEDS_TINY)
    serial = train_seeds(cfg, tmp_path / "serial", [0, 1, 2], executor="serial")
    local = train_seeds(cfg, tmp_path / "local", [0, 1, 2], executor="local")
    assert [r["seed"] for r in local["runs"]] == [0, 1, 2] == local["seeds"]
    for a, b in zip(serial["runs"], local["runs"]):
        assert (a["exact_match"], a["token_accuracy"]) == (b["exact_match"], b["token_accuracy"])
        assert (Path(a["run_dir"]) / "model.safetensors").read_bytes() == \
            (Path(b["run_dir"]) / "model.safetensors").read_bytes()
    assert json.loads((tmp_path / "local" / "seeds.json").read_text())["summary"]["exact_match"] == \
        serial["summary"]["exact_match"]
    # a lost seed is the only one trained again, to the same weights
    before = {s: (tmp_path / "local" / f"seed-{s}" / "results.json").stat().st_mtime_ns for s in (0, 2)}
    weights = (tmp_path / "local" / "seed-1" / "model.safetensors").read_bytes()
    (tmp_path / "local" / "seed-1" / "results.json").unlink()
    again = train_seeds(cfg, tmp_path / "local", [0, 1, 2], executor="local")
    assert {s: (tmp_path / "local" / f"seed-{s}" / "results.json").stat().st_mtime_ns for s in (0, 2)} == before
    assert (tmp_path / "local" / "seed-1" / "model.safetensors").read_bytes() == weights
    assert [r["exact_match"] for r in again["runs"]] == [r["exact_match"] for r in serial["runs"]]


# -- failures -----------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_killed_local_worker_is_one_error_line_and_a_rerun_completes_the_sweep(tmp_path, monkeypatch, capsys):
    out = tmp_path / "sweep"
    monkeypatch.setattr(sweep_mod, "run_cell", crashing_run_cell)
    assert main([*SWEEP_CLI, "-o", str(out), "--executor", "local"]) == 2
    line = one_error_line(capsys)
    assert "worker process died" in line and "rerun" in line
    assert "linear-none-n64-s1" in line  # named among the unfinished cells
    kept = mtimes(out)
    assert "linear-none-n64-s1" not in kept
    assert main([*SWEEP_CLI, "-o", str(out), "--executor", "local"]) == 0
    capsys.readouterr()
    now = mtimes(out)
    assert set(now) == {f"linear-none-n64-s{s}" for s in range(3)}
    assert {k: now[k] for k in kept} == kept  # finished cells were not trained again
    assert json.loads((out / "sweep.json").read_text())["cells_done"] == 3


def test_a_rerun_trains_again_a_cell_whose_worker_was_killed_mid_write(tmp_path):
    # a worker killed while it writes (inside an atomic write's fsync) leaves the run's files, no
    # cell.json, the write's temp file and whatever else it made (a tensorboard/): a run that had
    # written results.json is read back; one that had not (nor a checkpoint) is cleared and trained
    # again instead of refusing a non-empty run directory
    spec = SweepSpec(resolve(None, None, SWEEP_TINY), models=["linear"], cots=["none"], seeds=[0])
    first = sample_sweep(spec, tmp_path, progress=False, executor="serial")
    cell = tmp_path / "cells" / "linear-none-n64-s0"
    (cell / "cell.json").unlink()
    model = (cell / "model.safetensors").stat().st_mtime_ns
    again = sample_sweep(spec, tmp_path, progress=False, executor="serial")
    assert again["cells"] == first["cells"] and (cell / "model.safetensors").stat().st_mtime_ns == model
    (cell / "cell.json").unlink()
    (cell / "results.json").unlink()
    shutil.rmtree(cell / "checkpoints", ignore_errors=True)
    (cell / ".cell.json.0123456789ab.tmp").write_text("{")
    (cell / "tensorboard").mkdir()
    (cell / "tensorboard" / "events").write_text("")
    again = sample_sweep(spec, tmp_path, progress=False, executor="serial")
    assert again["cells_done"] == 1 and (cell / "cell.json").is_file()
    assert not (cell / ".cell.json.0123456789ab.tmp").exists() and not (cell / "tensorboard").exists()
    assert again["cells"][0]["exact_match"] == first["cells"][0]["exact_match"]  # the same seed, trained again


def test_a_pool_that_cannot_take_a_cell_raises_its_own_error(monkeypatch):
    from concurrent.futures import ProcessPoolExecutor

    def refuses(self, *args, **kw):
        raise RuntimeError("cannot start a worker")

    monkeypatch.setattr(ProcessPoolExecutor, "submit", refuses)
    with pytest.raises(RuntimeError, match="cannot start a worker"):
        run_cells(square_late_first, [(1,), (2,)], executor="local", threads=1)


@pytest.mark.slow
def test_an_error_inside_a_cell_is_one_error_line_in_the_driver(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sweep_mod, "run_cell", failing_run_cell)
    assert main([*SWEEP_CLI, "-o", str(tmp_path / "sweep"), "--executor", "local"]) == 2
    assert one_error_line(capsys) == "arlearn: error: cell linear-none-n64-s1 cannot train: a bad option"


@pytest.mark.slow
def test_a_killed_driver_resumes_at_the_unfinished_cells(tmp_path, monkeypatch):
    spec = SweepSpec(resolve(None, None, SWEEP_TINY), models=["linear"], cots=["none", "running"], seeds=[0, 1])
    real_publish, published = sweep_mod._publish, []

    def stops_after_one(*a, **k):
        published.append(1)
        real_publish(*a, **k)
        raise KeyboardInterrupt  # the driver is killed after its first finished cell

    monkeypatch.setattr(sweep_mod, "_publish", stops_after_one)
    with pytest.raises(KeyboardInterrupt):
        sample_sweep(spec, tmp_path, progress=False, executor="local")
    monkeypatch.setattr(sweep_mod, "_publish", real_publish)
    kept = mtimes(tmp_path)  # cells already handed to a worker finish and are kept; no new one starts
    assert 1 <= len(kept) <= 4 and json.loads((tmp_path / "sweep.json").read_text())["cells_done"] == 1
    rep = sample_sweep(spec, tmp_path, progress=False, executor="local")
    now = mtimes(tmp_path)
    assert rep["cells_done"] == 4 and len(now) == 4
    assert {k: now[k] for k in kept} == kept  # only the unfinished cells were trained
    assert [c["id"] for c in rep["cells"]] == [c.id for c in sweep_mod._grid(spec, spec.sizes)]


def test_executor_ray_without_ray_is_one_error_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as if not installed
    assert main(["train", "--preset", "quick", "--seeds", "0", "-o", str(tmp_path / "s"), "--executor", "ray",
                 "--no-progress"]) == 2
    assert "pip install 'arlearn[ray]'" in one_error_line(capsys)
    assert not (tmp_path / "s").exists()


def test_ray_address_needs_executor_ray_and_executor_needs_seeds(tmp_path, capsys):
    assert main(["train", "--preset", "quick", "--seeds", "0", "--ray-address", "auto", "-o", str(tmp_path)]) == 2
    assert "--ray-address is for --executor ray" in one_error_line(capsys)
    assert main(["train", "--preset", "quick", "--executor", "serial", "-o", str(tmp_path)]) == 2
    assert "add --seeds" in one_error_line(capsys)


# -- Ray (embedded, 2 CPUs) ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'arlearn[ray]')")
    here = Path(__file__).resolve().parent
    path = os.pathsep.join([str(here), str(here.parent / "src"), os.environ.get("PYTHONPATH", "")])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": path}})  # the workers import this module's functions
    yield ray
    ray.shutdown()


@pytest.mark.slow
def test_ray_trains_the_same_seeds_as_serial(ray_local, tmp_path):
    cfg = resolve("quick", None, SEEDS_TINY)
    serial = train_seeds(cfg, tmp_path / "serial", [0, 1], executor="serial")
    ray = train_seeds(cfg, tmp_path / "ray", [0, 1], executor="ray")
    for a, b in zip(serial["runs"], ray["runs"]):
        assert (a["seed"], a["exact_match"], a["token_accuracy"]) == (b["seed"], b["exact_match"], b["token_accuracy"])
        assert (Path(a["run_dir"]) / "model.safetensors").read_bytes() == \
            (Path(b["run_dir"]) / "model.safetensors").read_bytes()


@pytest.mark.slow
def test_ray_retries_a_cell_whose_worker_died(ray_local, tmp_path):
    marker = str(tmp_path / "crashed")
    assert run_cells(crash_once, [(marker, 0), (marker, 1), (marker, 2)], executor="ray", threads=1) == [0, 10, 20]
    assert os.path.exists(marker)  # it did die once


@pytest.mark.slow
def test_ray_cell_errors_surface_as_themselves(ray_local, tmp_path):
    with pytest.raises(ArlearnError, match="cannot train: a bad option"):
        spec = SweepSpec(resolve(None, None, SWEEP_TINY), models=["linear"], cots=["none"], seeds=[0, 1])
        run_cells(failing_run_cell, [(spec, c, tmp_path) for c in sweep_mod._grid(spec, spec.sizes)],
                  executor="ray", threads=1)
    assert executors.RAY_MISSING.endswith("pip install 'arlearn[ray]'")
