"""Compile a Boolean circuit into the weights of the `linear` model, and verify it.

The paper's universality construction made executable. Stages (each a function):

1. **parse** — a .bench file or generator (`arlearn.circuits.load_circuit`), or any
   `Circuit` built with `CircuitBuilder` (the Turing-machine unroller's route);
2. **normalize** — the threshold normal form (`normalize`): every gate `[Σ w·x ≥ b]`;
3. **lay out** (`layout`) — the sequence the `circuit` task (and the `tm` task's `threshold`
   CoT) uses: `<bos> x1 … xn = g1 … gk = o1 … om <eos>`; each signal gets the position of its
   token;
4. **build weights** (`build_weights`) — the `linear` model `BlockCausalNet` (embedding →
   block-causal map W → head) with d = |vocab|, embedding = identity (one-hot token features)
   and head = identity, so the logits at position t are `bias[t] + Σ_{s≤t} onehot(x_s)·W[t,s]`.
   At the position that predicts gate g = [Σ_i w_i·x_i ≥ b], block (t, pos(x_i)) holds w_i in
   the entry ("1" → "1"), and the bias gives logit("1") = Σ w_i·[x_i = 1] − b + ½, logit("0")
   = 0, every other token −1. Hence argmax = "1" iff the threshold fires, with a margin of ½
   (integer sums, so fp32 is exact). Positions that copy an output bit read one block with
   weight 1 and bias −½; positions that emit `=`/`<eos>` use the bias alone. The CoT length
   is the number of threshold gates (+1 for the `=` separator).
5. **verify** (`verify_run`) — greedy decoding from the saved run directory against direct
   circuit evaluation, CoT and answer, exhaustively for ≤ 20 inputs, else on random inputs.

Dense vs packed. The weights are stored as the same `BlockCausalNet` the trainer trains
(`model.safetensors`, loadable by `arlearn eval`); its block-causal map already stores only
the lower triangle, T(T+1)/2·d² numbers (≈ 270 MB for the 16×16 multiplier, T = 1,939, d = 6).
The compiled map is extremely sparse (one non-zero per gate input), so the compiler also writes
`compiled.safetensors`: the same weights as a COO list of non-zero block entries (t, s, i, j, w)
plus the embedding, bias and head (`SparseLinear`). Its greedy decoding computes exactly
`bias[t] + Σ_s E[x_s] · W[t,s]` followed by the head — the `linear` model's forward, term by term
— skipping the zeros. When the dense form would exceed `max_dense_bytes` only the packed form is
written; `SparseLinear.to_model()` expands it back to the dense class when memory allows.
`verify_run` decodes with the packed form read *from the saved dense model's non-zeros* (fast)
and, for the first `dense_check` inputs, also with the dense model itself.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from arlearn.errors import ArlearnError
from arlearn.training.runs import PACKED
from arlearn.circuits import Circuit, bits_of_index, normalize
from arlearn.vocab import BOS, EOS, Vocab

#: the vocabulary of every compiled circuit (same order as the circuit and tm-threshold tasks)
CIRCUIT_VOCAB = Vocab([BOS, "=", EOS, "0", "1"])
EXHAUSTIVE_MAX_INPUTS = 20


# -- stage 3: layout ------------------------------------------------------------------------
@dataclass
class Layout:
    """Token positions of `<bos> x1 … xn = g1 … gk = o1 … om <eos>` for a normalized circuit."""

    circuit: Circuit  #: in threshold normal form
    pos: dict  #: signal name -> position of its token

    @property
    def n(self) -> int:
        return len(self.circuit.inputs)

    @property
    def k(self) -> int:
        return len(self.circuit.gates)

    @property
    def m(self) -> int:
        return len(self.circuit.outputs)

    @property
    def prompt_len(self) -> int:
        return self.n + 2

    @property
    def seq_len(self) -> int:
        return self.n + self.k + self.m + 4

    @property
    def T(self) -> int:
        return self.seq_len - 1

    def target(self, vals: dict) -> list[str]:
        """The tokens after the prompt for one assignment of all signals."""
        c = self.circuit
        return [*(str(int(vals[g.name])) for g in c.gates), "=", *(str(int(vals[o])) for o in c.outputs), EOS]


def layout(circuit: Circuit) -> Layout:
    c = circuit if all(g.op == "THRESHOLD" for g in circuit.gates) else normalize(circuit)
    pos = {s: 1 + i for i, s in enumerate(c.inputs)}
    base = len(c.inputs) + 2
    pos.update({g.name: base + i for i, g in enumerate(c.gates)})
    return Layout(c, pos)


# -- stage 4: weights -----------------------------------------------------------------------
@dataclass
class SparseLinear:
    """The `linear` model's weights with the block-causal map as a COO list of non-zeros.

    logits[t] = head_b + (bias[t] + Σ_e [t_e = t] · E[x_{s_e}, i_e] · w_e · onehot(j_e)) @ head_w
    — exactly `BlockCausalNet(linear)` (embedding E, block W[t,s][i,j], head), zeros skipped.
    """

    embed: torch.Tensor  #: [V, d]
    bias: torch.Tensor  #: [T, d]
    t: torch.Tensor  #: [nnz] output position of each non-zero, sorted
    s: torch.Tensor  #: [nnz] input position
    i: torch.Tensor  #: [nnz] input feature
    j: torch.Tensor  #: [nnz] output feature
    w: torch.Tensor  #: [nnz] value
    head_w: torch.Tensor  #: [V, d] (nn.Linear layout)
    head_b: torch.Tensor  #: [V]

    @property
    def T(self) -> int:
        return self.bias.shape[0]

    @property
    def d(self) -> int:
        return self.bias.shape[1]

    def tensors(self) -> dict:
        return {k: getattr(self, k).contiguous() for k in ("embed", "bias", "t", "s", "i", "j", "w", "head_w", "head_b")}

    @classmethod
    def from_tensors(cls, d: dict) -> "SparseLinear":
        try:
            return cls(**{k: d[k] for k in ("embed", "bias", "t", "s", "i", "j", "w", "head_w", "head_b")})
        except KeyError as e:
            raise ArlearnError(f"packed weights lack tensor {e}") from None

    @classmethod
    @torch.no_grad()
    def from_model(cls, model) -> "SparseLinear":
        """The non-zeros of a `linear` BlockCausalNet (the weights `arlearn eval` would run)."""
        from arlearn.models.block_net import BlockCausalNet

        if not isinstance(model, BlockCausalNet) or model.is_mlp or len(model.mix) != 1:
            raise ArlearnError("only a `linear` model (one block-causal map, no ReLU) can be read as a packed map")
        layer = model.mix[0]
        d_in, d_out = layer.d_in, layer.d_out
        ts, ss, is_, js, ws = [], [], [], [], []
        for k, (a, e) in enumerate(layer.bounds):
            W = layer._chunk_weight(k).float().cpu()
            r, c = torch.nonzero(W, as_tuple=True)
            ws.append(W[r, c])
            ss.append(r // d_in), is_.append(r % d_in), ts.append(a + c // d_out), js.append(c % d_out)
        t, s, i, j, w = (torch.cat(x) for x in (ts, ss, is_, js, ws))
        order = torch.argsort(t, stable=True)
        return cls(model.embed.weight.detach().float().cpu(), layer.bias.detach().float().cpu(),
                   t[order], s[order], i[order], j[order], w[order],
                   model.head.weight.detach().float().cpu(), model.head.bias.detach().float().cpu())

    def dense_bytes(self) -> int:
        """Bytes (fp32) of the dense `BlockCausalNet`'s block-causal map at chunk 1 (lower triangle)."""
        return self.T * (self.T + 1) // 2 * self.d * self.d * 4

    @torch.no_grad()
    def to_model(self, chunk: int = 8):
        """The dense `linear` BlockCausalNet holding the same weights."""
        from arlearn.models.block_net import BlockCausalNet

        V, d = self.embed.shape
        model = BlockCausalNet(V, self.T, d, chunk=chunk)
        layer = model.mix[0]
        for p in layer.weights:
            p.zero_()
        rows = self.s * d + self.i
        for k, (a, e) in enumerate(layer.bounds):
            sel = (self.t >= a) & (self.t < e)
            cols = (self.t[sel] - a) * d + self.j[sel]
            layer.weights[k].index_put_((rows[sel], cols), self.w[sel].float(), accumulate=True)
        layer.bias.copy_(self.bias)
        model.embed.weight.copy_(self.embed)
        model.head.weight.copy_(self.head_w)
        model.head.bias.copy_(self.head_b)
        return model

    @torch.no_grad()
    def generate(self, prompts: torch.Tensor, max_new: int) -> torch.Tensor:
        """Greedy continuation of equal-length prompts [B, P] for `max_new` tokens (no early stop)."""
        B, P = prompts.shape
        L = min(P + max_new, self.T + 1)
        seq = torch.zeros(B, L, dtype=torch.long)
        seq[:, :P] = prompts
        bounds = torch.searchsorted(self.t, torch.arange(self.T + 1))
        for t in range(P - 1, L - 1):
            lo, hi = int(bounds[t]), int(bounds[t + 1])
            y = self.bias[t].expand(B, -1).clone()
            if hi > lo:
                feats = self.embed[seq[:, self.s[lo:hi]], self.i[lo:hi]]  # [B, nnz_t]
                y.index_add_(1, self.j[lo:hi], feats * self.w[lo:hi])
            logits = y @ self.head_w.T + self.head_b
            seq[:, t + 1] = logits.argmax(-1)
        return seq[:, P:]


def build_weights(lay: Layout, vocab: Vocab = CIRCUIT_VOCAB) -> SparseLinear:
    """The exact weights for a laid-out threshold circuit (see the module docstring)."""
    V = len(vocab)
    one, zero, eq, eos = vocab.id("1"), vocab.id("0"), vocab.id("="), vocab.id(EOS)
    T = lay.T
    bias = torch.full((T, V), -1.0)
    entries: list[tuple[int, int, int, int, float]] = []

    def emit_fixed(t: int, tok: int) -> None:
        bias[t] = -1.0
        bias[t, tok] = 1.0

    def emit_bit(t: int, ins: dict, b: float) -> None:  # logit("1") = Σ w·[x=1] − b + ½, logit("0") = 0
        bias[t, zero] = 0.0
        bias[t, one] = -b + 0.5
        for sig, w in ins.items():
            if w:
                entries.append((t, lay.pos[sig], one, one, float(w)))

    n, c = lay.n, lay.circuit
    # positions 0..n-1 predict input bits (never generated: they are the prompt) — left at 0
    bias[:n] = 0.0
    emit_fixed(n, eq)  # position n (last input) -> "="
    for g in c.gates:  # position pos(g) − 1 predicts gate g
        merged: dict[str, int] = {}
        for sig, w in zip(g.inputs, g.weights):
            merged[sig] = merged.get(sig, 0) + int(w)
        emit_bit(lay.pos[g.name] - 1, merged, g.bias)
    t = n + 1 + lay.k  # position of the last gate token -> "="
    emit_fixed(t, eq)
    for q, o in enumerate(c.outputs):  # position t+1+q predicts output bit q: a copy of signal o
        emit_bit(t + 1 + q, {o: 1}, 1)
    emit_fixed(t + 1 + lay.m, eos)
    entries.sort(key=lambda e: e[0])
    ar = torch.tensor(entries, dtype=torch.float64) if entries else torch.zeros(0, 5, dtype=torch.float64)
    eye = torch.eye(V)
    return SparseLinear(eye.clone(), bias, ar[:, 0].long(), ar[:, 1].long(), ar[:, 2].long(), ar[:, 3].long(),
                        ar[:, 4].float(), eye.clone(), torch.zeros(V))


# -- compile into a run directory --------------------------------------------------------------
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
                    max_dense_bytes: int = 2 << 30) -> CompileReport:
    """Compile `circuit` into the `linear` model and write a run directory.

    `task` is the run config's [task] table (e.g. `{"name": "circuit", "generator": "adder4"}`
    or the `tm` task with `cot = "threshold"`); it must describe a task whose sequences are this
    circuit's layout (checked: vocab and sequence length, and the CoT of a few examples).
    Writes config.toml, compiled.safetensors (packed) and — when the dense block-causal map
    fits in `max_dense_bytes` — model.safetensors (the dense `linear` model `arlearn eval` loads).
    """
    from arlearn.config import RunConfig
    from arlearn.models import ModelConfig
    from arlearn.training.runs import prepare_run_dir, save_model
    from arlearn.fileio import save_safetensors, write_json
    from arlearn.tasks.base import make_task

    lay = layout(circuit)
    task = dict(task or {})
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
    weights = build_weights(lay)
    cfg = RunConfig(task=task, model=ModelConfig(name="linear", d=len(CIRCUIT_VOCAB), chunk=chunk))
    run_dir = prepare_run_dir(run_dir, cfg)
    save_safetensors(run_dir / PACKED, weights.tensors(), metadata={"format": "arlearn-packed-linear-v1"})
    dense = weights.dense_bytes() <= max_dense_bytes
    if dense:
        save_model(run_dir, weights.to_model(chunk))
    elif (run_dir / "model.safetensors").exists():
        (run_dir / "model.safetensors").unlink()
    src = lay.circuit
    report = CompileReport(str(run_dir), circuit.name, lay.n, lay.m, len(circuit.gates), len(src.gates),
                           lay.T, len(CIRCUIT_VOCAB), int(weights.w.numel()), weights.dense_bytes(), dense)
    write_json(run_dir / "compile.json", report.as_dict())
    return report


def compile_bench(path, run_dir, **kw) -> CompileReport:
    """`arlearn compile circuit FILE.bench -o RUN_DIR`: the .bench file is copied into the run
    directory (circuit.bench) and pinned by its sha256, so the run stays evaluable on its own."""
    from arlearn.circuits import load_bench

    circuit = load_bench(path)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    copy = run_dir / Path(path).name
    if Path(path).resolve() != copy.resolve():
        shutil.copyfile(path, copy)
    task = {"name": "circuit", "file": str(copy), "sha256": bench_sha256(copy), "cot": "threshold"}
    return compile_circuit(circuit, run_dir, task, **kw)


def compile_generator(spec: str, run_dir, **kw) -> CompileReport:
    from arlearn.circuits import generate

    return compile_circuit(generate(spec), run_dir, {"name": "circuit", "generator": spec, "cot": "threshold"}, **kw)


def compile_tm(spec: str, run_dir, steps: int = 0, tape: int = 0, n: int = 0, **kw) -> CompileReport:
    """`arlearn compile tm SPEC --steps N --tape M -o RUN_DIR`: unroll the machine into a circuit
    (`arlearn.turing.unroll`) and compile that. The run's task is `tm` with the `threshold`
    CoT, so `arlearn eval` and `arlearn verify` work on it; bounds left at 0 are the smallest that
    every input needs. A spec file (not a shipped name) is copied into the run directory."""
    from arlearn.tasks.base import make_task
    from arlearn.turing import machine_names

    options = {"machine": spec, "cot": "threshold",
               **{k: v for k, v in (("n", n), ("steps", steps), ("tape", tape)) if v}}
    task = make_task("tm", options)  # bad specs and bounds fail here, before anything is written
    run_dir = Path(run_dir)
    if spec not in machine_names():
        run_dir.mkdir(parents=True, exist_ok=True)
        copy = run_dir / "machine.json"
        if Path(spec).resolve() != copy.resolve():
            shutil.copyfile(spec, copy)
        options["machine"] = str(copy)
    return compile_circuit(task.unrolled.circuit, run_dir, {"name": "tm", **options}, **kw)


# -- stage 5: verify ------------------------------------------------------------------------------
def reference_circuit(task) -> Circuit:
    """The threshold circuit a task's sequences lay out (circuit task, or tm with threshold CoT)."""
    if hasattr(task, "normal"):
        return task.normal
    unrolled = getattr(task, "unrolled", None)
    if unrolled is not None and getattr(task, "cot", "") == "threshold":
        return normalize(unrolled.circuit)
    raise ArlearnError(f"task {task.name!r} is not a circuit layout (use the circuit task or tm with cot=threshold)")


def _load_for_verify(run_dir: Path):
    from arlearn.config import from_dict, load_toml
    from arlearn.fileio import load_safetensors
    from arlearn.training.runs import CONFIG, MODEL, load_run
    from arlearn.tasks.base import make_task

    if not (run_dir / CONFIG).is_file():
        raise ArlearnError(f"{run_dir} is not a run directory (no {CONFIG})")
    if (run_dir / MODEL).is_file():
        cfg, task, model = load_run(run_dir)
        if cfg.model.name != "linear":
            return cfg, task, model, None
        packed = SparseLinear.from_model(model)
        if packed.w.numel() > 0.05 * model.mix[0].live_parameters():  # a trained (dense) map: decode densely
            return cfg, task, model, None
        return cfg, task, model, packed
    if (run_dir / PACKED).is_file():
        cfg = from_dict(load_toml(run_dir / CONFIG))
        return cfg, make_task(cfg.task_name, cfg.task_options), None, SparseLinear.from_tensors(
            load_safetensors(run_dir / PACKED))
    raise ArlearnError(f"{run_dir} has neither {MODEL} nor {PACKED}")


def verify_run(run_dir, examples: int = 10_000, seed: int = 0, batch_size: int = 4096,
               dense_check: int = 1000, progress: bool = False) -> dict:
    """Greedy decoding of a run's model vs direct evaluation of its task's circuit.

    Exhaustive when the circuit has ≤ 20 inputs, else `examples` uniformly random inputs.
    Every input is decoded with the packed form of the saved weights (`SparseLinear`); the first
    `dense_check` of them also with the dense model `arlearn eval` runs (when it was saved). A
    trained model (an mlp, or a linear map that is not sparse) is decoded densely on every input.
    A mismatch is any difference in CoT or answer tokens.
    Returns a report: inputs checked, mismatches (count and the first few), engines used.
    """
    from arlearn.models.base import generate_greedy
    from tqdm import tqdm

    run_dir = Path(run_dir)
    cfg, task, model, packed = _load_for_verify(run_dir)
    circuit = reference_circuit(task)
    lay = layout(circuit)
    if task.vocab.symbols != CIRCUIT_VOCAB.symbols or task.seq_len != lay.seq_len:
        raise ArlearnError(f"{run_dir}: the task's sequences are not this circuit's layout")
    n = lay.n
    exhaustive = n <= EXHAUSTIVE_MAX_INPUTS
    if exhaustive:
        idx = np.arange(1 << n, dtype=np.int64)
        bits = ((idx[:, None] >> np.arange(n)) & 1).astype(np.int64)
    else:
        if examples < 1:
            raise ArlearnError(f"examples must be ≥ 1, got {examples}")
        rng = np.random.default_rng(seed)
        bits = rng.integers(0, 2, size=(examples, n), dtype=np.int64)
    vocab = CIRCUIT_VOCAB
    ids = np.array([vocab.id("0"), vocab.id("1")])
    mismatches, first = 0, []
    dense_done = 0
    total = len(bits)
    bar = tqdm(total=total, desc="verify", unit="input", disable=not progress)
    for k in range(0, total, batch_size):
        b = bits[k : k + batch_size]
        vals = circuit.evaluate_batch(b)
        want = np.stack([ids[vals[g.name]] for g in circuit.gates]
                        + [np.full(len(b), vocab.id("="))]
                        + [ids[vals[o]] for o in circuit.outputs]
                        + [np.full(len(b), vocab.id(EOS))], 1)
        prompts = torch.tensor(np.concatenate([np.full((len(b), 1), vocab.id(BOS)), ids[b],
                                               np.full((len(b), 1), vocab.id("="))], 1))
        got_runs = []
        if packed is not None:
            got_runs.append(packed.generate(prompts, want.shape[1]).numpy())
        nd = min(len(b), dense_check - dense_done) if packed is not None else len(b)
        if model is not None and nd > 0:
            model.eval()
            g = generate_greedy(model, prompts[:nd], want.shape[1], None, vocab.pad_id).numpy()
            got_runs.append(np.concatenate([g, got_runs[0][nd:]]) if packed is not None else g)
            dense_done += nd
        bad = np.zeros(len(b), dtype=bool)
        for got in got_runs:
            bad |= (got != want).any(1)
        for r in np.nonzero(bad)[0][: max(0, 5 - len(first))]:
            got = got_runs[-1][r]
            first.append({"input": "".join(map(str, b[r])),
                          "first_wrong_position": int(np.nonzero(got != want[r])[0][0]) if (got != want[r]).any() else None})
        mismatches += int(bad.sum())
        bar.update(len(b))
    bar.close()
    engines = (["packed"] if packed is not None else []) + (["dense"] if model is not None and dense_done else [])
    return {"run_dir": str(run_dir), "circuit": circuit.name, "inputs": n, "threshold_gates": lay.k,
            "checked": total, "exhaustive": exhaustive, "mismatches": mismatches, "ok": mismatches == 0,
            "dense_checked": dense_done, "engines": engines, "first_mismatches": first}
