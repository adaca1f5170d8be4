"""Stage 5 of the compiler: `verify_run` checks a run directory's model (compiled or trained)
by greedy decoding against direct evaluation of its task's circuit, CoT and answer, and records
the result in the run's verify.json (shown by `arlearn report`).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from arlearn.circuits import CIRCUIT_VOCAB, Circuit, Layout, layout, normalize
from arlearn.compile.weights import SparseLinear
from arlearn.errors import ArlearnError
from arlearn.fileio import load_safetensors, write_json
from arlearn.models.base import generate_greedy
from arlearn.tasks import make_task
from arlearn.rundir import MODEL, PACKED, VERIFY, load_model, load_run_config

EXHAUSTIVE_MAX_INPUTS = 20
#: a saved `linear` map with at most this fraction of its live weights non-zero is a compiled
#: (sparse) one and is decoded with the packed engine; a denser (trained) map is decoded densely
PACKED_MAX_DENSITY = 0.05


def reference_circuit(task) -> Circuit:
    """The threshold circuit a task's sequences lay out (circuit task, or tm with threshold CoT)."""
    if hasattr(task, "normal"):
        return task.normal
    unrolled = getattr(task, "unrolled", None)
    if unrolled is not None and getattr(task, "cot", "") == "threshold":
        return normalize(unrolled.circuit)
    raise ArlearnError(f"task {task.name!r} is not a circuit layout (use the circuit task or tm with cot=threshold)")


def reference_layout(task) -> Layout:
    """The circuit layout of a task's sequences: the circuit task's (with its CoT dial's gates)
    or the tm task's `threshold` CoT."""
    lay = getattr(task, "layout", None)
    if isinstance(lay, Layout):
        return lay
    circuit = reference_circuit(task)
    return getattr(task, "threshold_layout", None) or layout(circuit)


def _load_for_verify(run_dir: Path, cfg):
    """(cfg, task, dense model or None, packed weights or None) of a run whose config `cfg` was
    loaded through `arlearn.rundir` (`load_run_config`), so that file options (a copied .bench or
    machine spec) resolve inside the run directory, whatever the working directory. The task is
    built once, here."""
    task = make_task(cfg.task_name, cfg.task_options)
    if (run_dir / MODEL).is_file():
        model = load_model(run_dir, cfg, task)
        if cfg.model.name != "linear":
            return cfg, task, model, None
        packed = SparseLinear.from_model(model)
        if packed.w.numel() > PACKED_MAX_DENSITY * model.mix[0].live_parameters():
            return cfg, task, model, None  # a trained (dense) map: decode densely
        return cfg, task, model, packed
    if (run_dir / PACKED).is_file():
        return cfg, task, None, SparseLinear.from_tensors(load_safetensors(run_dir / PACKED))
    raise ArlearnError(f"{run_dir} has neither {MODEL} nor {PACKED}")


def _inputs_to_check(n: int, examples: int, seed: int) -> np.ndarray:
    """Every input (bit i of the index = input i) when n ≤ 20, else `examples` random ones: [B, n]."""
    if n <= EXHAUSTIVE_MAX_INPUTS:
        idx = np.arange(1 << n, dtype=np.int64)
        return ((idx[:, None] >> np.arange(n)) & 1).astype(np.int64)
    if examples < 1:
        raise ArlearnError(f"examples must be ≥ 1, got {examples}")
    rng = np.random.default_rng(seed)
    return rng.integers(0, 2, size=(examples, n), dtype=np.int64)


def verify_run(run_dir, examples: int = 10_000, seed: int = 0, batch_size: int = 4096,
               dense_check: int = 1000, progress: bool = False, record: bool = True) -> dict:
    """Greedy decoding of a run's model vs direct evaluation of its task's circuit.

    Exhaustive when the circuit has ≤ 20 inputs, else `examples` uniformly random inputs.
    Every input is decoded with the packed form of the saved weights (`SparseLinear`); the first
    `dense_check` of them also with the dense model `arlearn eval` runs (when it was saved). A
    trained model (an mlp, or a linear map that is not sparse) is decoded densely on every input.
    A mismatch is any difference in CoT or answer tokens.
    Returns a report: inputs checked, mismatches (count and the first few), engines used; with
    `record` it is also written (atomically) to the run's verify.json, which `arlearn report`
    shows (a read-only run directory is verified all the same, without the record).
    """
    run_dir = Path(run_dir)
    cfg = load_run_config(run_dir)  # once: the input files' SHA-256 checked, the task built once below
    if getattr(cfg.model, "weights", "per-pair") == "shared":  # the time-invariant tm model
        from arlearn.compile.shared import verify_shared_run
        return verify_shared_run(run_dir, cfg=cfg)
    cfg, task, model, packed = _load_for_verify(run_dir, cfg)
    lay = reference_layout(task)
    circuit = lay.circuit
    if task.vocab.symbols != CIRCUIT_VOCAB.symbols or task.seq_len != lay.seq_len or not lay.cot:
        raise ArlearnError(f"{run_dir}: the task's sequences are not this circuit's layout with a CoT")
    bits = _inputs_to_check(lay.n, examples, seed)
    check = _Check(lay, model, packed, dense_check)
    with tqdm(total=len(bits), desc="verify", unit="input", disable=not progress) as bar:
        for k in range(0, len(bits), batch_size):
            check.batch(bits[k : k + batch_size])
            bar.update(len(bits[k : k + batch_size]))
    engines = (["packed"] if packed is not None else []) + (["dense"] if model is not None and check.dense_done else [])
    disagree = _files_disagree(run_dir, model, packed)
    report = {"run_dir": str(run_dir), "circuit": circuit.name, "inputs": lay.n,
              "threshold_gates": len(circuit.gates), "cot_gates": lay.k,
              "checked": len(bits), "exhaustive": lay.n <= EXHAUSTIVE_MAX_INPUTS, "mismatches": check.mismatches,
              "ok": check.mismatches == 0 and not disagree, "dense_checked": check.dense_done, "engines": engines,
              "first_mismatches": check.first}
    if disagree is not None:
        report["files_agree"] = not disagree
        if disagree:
            report["disagreement"] = disagree
    if record:
        try:
            rec = {k: v for k, v in report.items() if k != "run_dir"}  # the directory may move
            write_json(run_dir / VERIFY, {**rec, "seed": seed, "verified_at": time.strftime("%Y-%m-%d %H:%M:%S %Z")})
        except OSError:
            pass  # a read-only copy of a run: the report is returned, not recorded
    return report


def _files_disagree(run_dir: Path, model, packed: SparseLinear | None) -> str | None:
    """When the run holds both weight files: "" if compiled.safetensors holds exactly the weights
    of model.safetensors (which were decoded), else what is wrong with it; None otherwise."""
    if model is None or not (run_dir / PACKED).is_file():
        return None
    try:
        mine = packed if packed is not None else SparseLinear.from_model(model)
        why = mine.differs_from(SparseLinear.from_tensors(load_safetensors(run_dir / PACKED)))
    except (ArlearnError, RuntimeError, ValueError) as e:
        return f"{PACKED}: {str(e).splitlines()[0]}"
    return f"{PACKED} and {MODEL}: {why}" if why else ""


class _Check:
    """Decodes batches of inputs with the packed and/or dense engine and tallies mismatches."""

    def __init__(self, lay, model, packed: SparseLinear | None, dense_check: int):
        self.lay, self.model, self.packed, self.dense_check = lay, model, packed, dense_check
        self.mismatches, self.dense_done = 0, 0
        self.first: list[dict] = []

    def batch(self, b: np.ndarray) -> None:
        prompts, want = self.lay.encode_batch(b)
        prompts = torch.tensor(prompts)
        packed, model = self.packed, self.model
        got_runs = []
        if packed is not None:
            got_runs.append(packed.generate(prompts, want.shape[1]).numpy())
        nd = min(len(b), self.dense_check - self.dense_done) if packed is not None else len(b)
        if model is not None and nd > 0:
            model.eval()
            g = generate_greedy(model, prompts[:nd], want.shape[1], None, CIRCUIT_VOCAB.pad_id).numpy()
            got_runs.append(np.concatenate([g, got_runs[0][nd:]]) if packed is not None else g)
            self.dense_done += nd
        bad = np.zeros(len(b), dtype=bool)
        for got in got_runs:
            bad |= (got != want).any(1)
        for r in np.nonzero(bad)[0][: max(0, 5 - len(self.first))]:
            got = got_runs[-1][r]
            wrong = np.nonzero(got != want[r])[0]
            self.first.append({"input": "".join(map(str, b[r])),
                               "first_wrong_position": int(wrong[0]) if len(wrong) else None})
        self.mismatches += int(bad.sum())
