"""Compiling into a run directory: `compile_circuit` runs the stages (normalize → layout with the
CoT dial's gates → build_weights for the `linear` model, or build_mlp for the `mlp`) for a
circuit and writes a run directory that `arlearn eval` and `arlearn verify` load;
`compile_bench`, `compile_generator` and `compile_tm` are the `arlearn compile` front ends for
a .bench file, a generator name and a Turing machine.
"""

from __future__ import annotations

from dataclasses import dataclass

from arlearn.circuits import CIRCUIT_VOCAB, Circuit, Layout, generate, layout, load_bench, normalize
from arlearn.circuits.dial import dial
from arlearn.compile.mlp import build_mlp, depth2_tokens, mlp_dense_bytes, mlp_width
from arlearn.compile.prove import PROVE
from arlearn.compile.weights import build_weights
from arlearn.config import ModelConfig, RunConfig
from arlearn.device import available_memory
from arlearn.errors import ArlearnError
from arlearn.fileio import save_safetensors, sha256_file, write_json
from arlearn.tasks import make_task
from arlearn.rundir import COMPILE, PACKED, claim_run_dir, prepare_run_dir, save_model, task_assets


@dataclass
class CompileReport:
    run_dir: str
    circuit: str
    inputs: int
    outputs: int
    gates: int  #: gates of the circuit as given
    threshold_gates: int  #: gates of the normal form
    T: int  #: model context
    d: int
    nonzeros: int
    dense_bytes: int
    dense_written: bool
    model: str = "linear"
    cot: str = "threshold"  #: the CoT dial's setting (`arlearn.circuits.dial`)
    cot_gates: int = 0  #: gates the CoT writes (CoT length − 1)
    hidden: int = 0  #: mlp: hidden units per position

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


#: the compiled model classes, and the deepest CoT token (threshold depth) each computes exactly
MODEL_DEPTH = {"linear": 1, "mlp": 2}


def compile_layout(circuit: Circuit, model: str = "linear", cot: str = "threshold") -> Layout:
    """The layout a compile of `model` with CoT `cot` uses: the circuit's threshold normal form
    with the dial's gates; refused when a token is deeper than the model computes."""
    if model not in MODEL_DEPTH:
        raise ArlearnError(f"compile: unknown model {model!r}; known: {', '.join(MODEL_DEPTH)}")
    nf = circuit if all(g.op == "THRESHOLD" for g in circuit.gates) else normalize(circuit)
    d = dial(nf, cot)
    if d.kept is None or d.depth > MODEL_DEPTH[model]:
        need = "layers:1 (threshold)" if model == "linear" else "layers:2 or layers:1"
        raise ArlearnError(f"compile: cot {cot!r} has tokens of threshold depth {d.depth}, more than the {model} "
                           f"model computes ({MODEL_DEPTH[model]}); use cot {need}")
    return layout(nf, keep=d.kept)


def compile_circuit(circuit: Circuit, run_dir, task: dict | None = None, chunk: int = 8,
                    max_dense_bytes: int = 2 << 30, overwrite: bool = True, model: str = "linear") -> CompileReport:
    """Compile `circuit` into the `linear` model (or the one-hidden-layer `mlp`) and write a run
    directory. The CoT is the task's `cot` (default `threshold`: every gate; the mlp takes
    `layers:2`, every second layer: `arlearn.compile.mlp`).

    `task` is the run config's [task] table (e.g. `{"name": "circuit", "generator": "adder4"}`
    or the `tm` task with `cot = "threshold"`); it must describe a task whose sequences are this
    circuit's layout (checked: vocab and sequence length, and the CoT of a few examples).
    Writes config.toml, the task's input files (a .bench file or machine spec, by content, with
    their sha256 in inputs.json: the same mechanism as a trained run, `arlearn.rundir`),
    compiled.safetensors (packed) and — when the dense block-causal map fits in
    `max_dense_bytes` — model.safetensors (the dense `linear` model `arlearn eval` loads).
    A non-empty `run_dir` is replaced (its run files deleted first) when `overwrite`, else refused.
    The mlp is written dense only (model.safetensors): refused when its map exceeds
    `max_dense_bytes`.
    """
    task = dict(task or {})
    cot = task.get("cot", "threshold")
    lay = compile_layout(circuit, model, cot)
    if model == "mlp":
        return _compile_mlp(circuit, lay, run_dir, task, chunk, max_dense_bytes, overwrite)
    check_compile_memory(f"{circuit.name!r} (T={lay.T})", lay.T, len(CIRCUIT_VOCAB), chunk, max_dense_bytes)
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
                           lay.T, len(CIRCUIT_VOCAB), int(weights.w.numel()), weights.dense_bytes(), dense,
                           cot=cot, cot_gates=lay.k)
    write_json(run_dir / COMPILE, report.as_dict())
    return report


def _compile_mlp(circuit: Circuit, lay: Layout, run_dir, task: dict, chunk: int, max_dense_bytes: int,
                 overwrite: bool) -> CompileReport:
    """`compile_circuit` for the mlp: `build_mlp`, saved as model.safetensors (no packed form)."""
    V = len(CIRCUIT_VOCAB)
    h = mlp_width(depth2_tokens(lay))
    dense = mlp_dense_bytes(lay.T, V, h)
    if dense > max_dense_bytes:
        raise ArlearnError(f"compiling {circuit.name!r} into the mlp needs its dense block-causal map of "
                           f"{_gb(dense)} (T={lay.T}, h={h}), over max_dense_bytes = {_gb(max_dense_bytes)}; "
                           "the mlp compile has no packed form: raise the limit")
    avail = available_memory()
    if avail is not None and 2 * dense + (64 << 20) > avail:
        raise NotEnoughMemory(f"{circuit.name!r} (T={lay.T}) into the mlp", 2 * dense + (64 << 20), avail, dense)
    t = _check_task_lays_out(task, lay)
    net = build_mlp(lay, chunk)
    cfg = RunConfig(task=task, model=ModelConfig(name="mlp", d=V, hidden=h, layers=1, chunk=chunk))
    assets = task_assets(t)
    claim_run_dir(run_dir, overwrite)
    run_dir, _ = prepare_run_dir(run_dir, cfg, assets)
    for stale in (PROVE, PACKED):
        (run_dir / stale).unlink(missing_ok=True)
    save_model(run_dir, net)
    nnz = sum(int((w != 0).sum()) for w in net.mix[0].weights)
    report = CompileReport(str(run_dir), circuit.name, lay.n, lay.m, len(circuit.gates), len(lay.circuit.gates),
                           lay.T, V, nnz, dense, True, model="mlp", cot=task.get("cot", "threshold"),
                           cot_gates=lay.k, hidden=h)
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


def compile_bench(path, run_dir, cot: str = "threshold", **kw) -> CompileReport:
    """`arlearn compile circuit FILE.bench -o RUN_DIR`: the .bench file is stored in the run
    directory (under its own name) and pinned by its sha256, so the run stays evaluable on its own."""
    circuit = load_bench(path)
    task = {"name": "circuit", "file": str(path), "sha256": bench_sha256(path), "cot": cot}
    return compile_circuit(circuit, run_dir, task, **kw)


def compile_generator(spec: str, run_dir, cot: str = "threshold", **kw) -> CompileReport:
    """`arlearn compile circuit NAME -o RUN_DIR` for a generator name (adder4, mult16, …)."""
    return compile_circuit(generate(spec), run_dir, {"name": "circuit", "generator": spec, "cot": cot}, **kw)


def compile_tm(spec: str, run_dir, steps: int = 0, tape: int = 0, n: int = 0, **kw) -> CompileReport:
    """`arlearn compile tm SPEC --steps N --tape M -o RUN_DIR`: unroll the machine into a circuit
    (`arlearn.turing.unroll`) and compile that. The run's task is `tm` with the `threshold`
    CoT, so `arlearn eval` and `arlearn verify` work on it; bounds left at 0 are the smallest that
    every input needs. A spec file (not a shipped name) is stored in the run directory."""
    options = {"machine": spec, "cot": "threshold",
               **{k: v for k, v in (("n", n), ("steps", steps), ("tape", tape)) if v}}
    task = make_task("tm", options)  # bad specs and bounds fail here, before anything is written
    return compile_circuit(task.unrolled.circuit, run_dir, {"name": "tm", **options}, **kw)
