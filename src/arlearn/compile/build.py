"""Compiling into a run directory: `compile_circuit` runs the stages (normalize → layout →
build_weights) for a circuit and writes a run directory that `arlearn eval` and `arlearn verify`
load; `compile_bench`, `compile_generator` and `compile_tm` are the `arlearn compile` front ends
for a .bench file, a generator name and a Turing machine.
"""

from __future__ import annotations

from dataclasses import dataclass

from arlearn.circuits import CIRCUIT_VOCAB, Circuit, Layout, generate, layout, load_bench
from arlearn.compile.prove import PROVE
from arlearn.compile.weights import build_weights
from arlearn.config import ModelConfig, RunConfig
from arlearn.device import available_memory
from arlearn.errors import ArlearnError
from arlearn.fileio import save_safetensors, sha256_file, write_json
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


class NotEnoughMemory(ArlearnError):
    """Compiling would need more memory than is available (raised before any work is done)."""

    def __init__(self, what: str, needed: int, available: int, dense: int):
        self.what, self.needed, self.available, self.dense = what, needed, available, dense
        super().__init__(self.advice("max_dense_bytes", dense))

    def advice(self, knob: str, limit) -> str:
        """The message, naming the setting that writes only the packed form (`knob` below `limit`)."""
        return (f"compiling {self.what} with its dense model.safetensors needs about {_gb(self.needed)} of "
                f"memory (the dense block-causal map alone is {_gb(self.dense)}), but only "
                f"{_gb(self.available)} is available: set {knob} below {limit} to write only the packed "
                "compiled.safetensors (`verify` and `verify --prove` use it), or free memory")


def _gb(n: int) -> str:
    return f"{n / 2**30:.2f} GB" if n >= 2**30 else f"{n / 2**20:.0f} MB"


def dense_model_bytes(T: int, d: int, chunk: int) -> int:
    """Bytes (fp32) of the dense `linear` model's block-causal map as stored with `chunk`."""
    chunk = max(1, min(chunk, T))
    return sum(e * d * (e - a) * d * 4 for a, e in ((a, min(a + chunk, T)) for a in range(0, T, chunk)))


def check_compile_memory(what: str, T: int, d: int, chunk: int, max_dense_bytes: int) -> None:
    """Refuse, before any work, a compile whose dense model would not fit in memory: building it
    and writing model.safetensors hold about two copies of the map (the model and its bytes)."""
    dense = T * (T + 1) // 2 * d * d * 4
    if dense > max_dense_bytes:
        return  # only the packed form is written: O(non-zeros + T) memory
    needed = 2 * dense_model_bytes(T, d, chunk) + (64 << 20)
    avail = available_memory()
    if avail is not None and needed > avail:
        raise NotEnoughMemory(what, needed, avail, dense)


def bench_sha256(path) -> str:
    return sha256_file(path)


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
    check_compile_memory(f"{circuit.name!r} (T={lay.T})", lay.T, len(CIRCUIT_VOCAB), chunk, max_dense_bytes)
    task = dict(task or {})
    t = _check_task_lays_out(task, lay)
    weights = build_weights(lay)
    cfg = RunConfig(task=task, model=ModelConfig(name="linear", d=len(CIRCUIT_VOCAB), chunk=chunk))
    assets = task_assets(t)  # read before the directory is cleared (the source may lie inside it)
    claim_run_dir(run_dir, overwrite)
    run_dir, _ = prepare_run_dir(run_dir, cfg, assets)
    (run_dir / PROVE).unlink(missing_ok=True)  # a proof of the weights this run held before
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
