"""Compiling into a run directory: `compile_circuit` runs the stages (normalize → layout →
build_weights) for a circuit and writes a run directory that `arlearn eval` and `arlearn verify`
load; `compile_bench`, `compile_generator` and `compile_tm` are the `arlearn compile` front ends
for a .bench file, a generator name and a Turing machine.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from arlearn.circuits import CIRCUIT_VOCAB, Circuit, Layout, generate, layout, load_bench
from arlearn.compile.weights import build_weights
from arlearn.config import ModelConfig, RunConfig
from arlearn.errors import ArlearnError
from arlearn.fileio import save_safetensors, write_json
from arlearn.tasks import make_task
from arlearn.training.runs import COMPILE, PACKED, claim_run_dir, prepare_run_dir, save_model, task_assets


@dataclass
class CompileReport:
    run_dir: str
    circuit: str
    inputs: int
    outputs: int
    gates: int  #: gates of the circuit as given
    threshold_gates: int  #: gates of the normal form = CoT length − 1
    T: int  #: model context
    d: int
    nonzeros: int
    dense_bytes: int
    dense_written: bool

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def bench_sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def compile_circuit(circuit: Circuit, run_dir, task: dict | None = None, chunk: int = 8,
                    max_dense_bytes: int = 2 << 30, overwrite: bool = True) -> CompileReport:
    """Compile `circuit` into the `linear` model and write a run directory.

    `task` is the run config's [task] table (e.g. `{"name": "circuit", "generator": "adder4"}`
    or the `tm` task with `cot = "threshold"`); it must describe a task whose sequences are this
    circuit's layout (checked: vocab and sequence length, and the CoT of a few examples).
    Writes config.toml, the task's input files (a .bench file or machine spec, by content, with
    their sha256 in inputs.json: the same mechanism as a trained run, `arlearn.training.runs`),
    compiled.safetensors (packed) and — when the dense block-causal map fits in
    `max_dense_bytes` — model.safetensors (the dense `linear` model `arlearn eval` loads).
    A non-empty `run_dir` is replaced (its run files deleted first) when `overwrite`, else refused.
    """
    lay = layout(circuit)
    task = dict(task or {})
    t = _check_task_lays_out(task, lay)
    weights = build_weights(lay)
    cfg = RunConfig(task=task, model=ModelConfig(name="linear", d=len(CIRCUIT_VOCAB), chunk=chunk))
    assets = task_assets(t)  # read before the directory is cleared (the source may lie inside it)
    claim_run_dir(run_dir, overwrite)
    run_dir, _ = prepare_run_dir(run_dir, cfg, assets)
    save_safetensors(run_dir / PACKED, weights.tensors(), metadata={"format": "arlearn-packed-linear-v1"})
    dense = weights.dense_bytes() <= max_dense_bytes
    if dense:
        save_model(run_dir, weights.to_model(chunk))
    src = lay.circuit
    report = CompileReport(str(run_dir), circuit.name, lay.n, lay.m, len(circuit.gates), len(src.gates),
                           lay.T, len(CIRCUIT_VOCAB), int(weights.w.numel()), weights.dense_bytes(), dense)
    write_json(run_dir / COMPILE, report.as_dict())
    return report


def _check_task_lays_out(task: dict, lay: Layout):
    """The run's [task] table describes a task whose sequences are this circuit's layout
    (vocab and sequence length, and the CoT of a few examples). Returns the task."""
    if "name" not in task:
        raise ArlearnError("compile_circuit needs the run's [task] table (a 'name' and its options)")
    t = make_task(task["name"], {k: v for k, v in task.items() if k != "name"})
    if list(t.vocab.symbols) != list(CIRCUIT_VOCAB.symbols) or t.seq_len != lay.seq_len:
        raise ArlearnError(f"task {task['name']!r} does not lay out this circuit (vocab {t.vocab.symbols}, "
                           f"seq_len {t.seq_len} vs {lay.seq_len}); use its threshold CoT")
    for ex in t.sample("test", 4, 0):
        bits = [int(b) for b in ex.prompt[1:-1]]
        if list(t.sequence(ex)[len(ex.prompt):]) != lay.target(lay.circuit.evaluate_all(bits)):
            raise ArlearnError(f"task {task['name']!r}'s CoT differs from this circuit's gate values")
    return t


def compile_bench(path, run_dir, **kw) -> CompileReport:
    """`arlearn compile circuit FILE.bench -o RUN_DIR`: the .bench file is stored in the run
    directory (under its own name) and pinned by its sha256, so the run stays evaluable on its own."""
    circuit = load_bench(path)
    task = {"name": "circuit", "file": str(path), "sha256": bench_sha256(path), "cot": "threshold"}
    return compile_circuit(circuit, run_dir, task, **kw)


def compile_generator(spec: str, run_dir, **kw) -> CompileReport:
    """`arlearn compile circuit NAME -o RUN_DIR` for a generator name (adder4, mult16, …)."""
    return compile_circuit(generate(spec), run_dir, {"name": "circuit", "generator": spec, "cot": "threshold"}, **kw)


def compile_tm(spec: str, run_dir, steps: int = 0, tape: int = 0, n: int = 0, **kw) -> CompileReport:
    """`arlearn compile tm SPEC --steps N --tape M -o RUN_DIR`: unroll the machine into a circuit
    (`arlearn.turing.unroll`) and compile that. The run's task is `tm` with the `threshold`
    CoT, so `arlearn eval` and `arlearn verify` work on it; bounds left at 0 are the smallest that
    every input needs. A spec file (not a shipped name) is stored in the run directory."""
    options = {"machine": spec, "cot": "threshold",
               **{k: v for k, v in (("n", n), ("steps", steps), ("tape", tape)) if v}}
    task = make_task("tm", options)  # bad specs and bounds fail here, before anything is written
    return compile_circuit(task.unrolled.circuit, run_dir, {"name": "tm", **options}, **kw)
