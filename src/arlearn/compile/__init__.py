"""Compile a Boolean circuit into the weights of the `linear` model (or of the one-hidden-layer
`mlp`), and verify it.

The paper's universality construction made executable. Stages (each a function), by module:

1. **parse** — a .bench file or generator (`arlearn.circuits.load_circuit`), or any
   `Circuit` built with `CircuitBuilder` (the Turing-machine unroller's route);
2. **normalize** — the threshold normal form (`normalize`): every gate `[Σ w·x ≥ b]`;
3. **lay out** (`layout`, defined once in `arlearn.circuits.layout` and shared with the tasks) —
   the sequence the `circuit` task (and the `tm` task's `threshold` CoT) uses:
   `<bos> x1 … xn = g1 … gk = o1 … om <eos>`; each signal gets the position of its token;
4. **build weights** (`build_weights`, `arlearn.compile.weights`) — the `linear` model
   `BlockCausalNet` (embedding → block-causal map W → head) with d = |vocab|, embedding =
   identity (one-hot token features) and head = identity, so the logits at position t are
   `bias[t] + Σ_{s≤t} onehot(x_s)·W[t,s]`.
   At the position that predicts gate g = [Σ_i w_i·x_i ≥ b], block (t, pos(x_i)) holds w_i in
   the entry ("1" → "1"), and the bias gives logit("1") = Σ w_i·[x_i = 1] − b + ½, logit("0")
   = 0, every other token −1. Hence argmax = "1" iff the threshold fires, with a margin of ½
   (integer sums, so fp32 is exact). Positions that copy an output bit read one block with
   weight 1 and bias −½; positions that emit `=`/`<eos>` use the bias alone. The CoT length
   is the number of threshold gates (+1 for the `=` separator);
5. **verify** (`verify_run`, `arlearn.compile.verify`) — greedy decoding from the saved run
   directory against direct circuit evaluation, CoT and answer, exhaustively for ≤ 20 inputs,
   else on random inputs; and **prove** (`prove_run`, `arlearn.compile.prove`) — a proof that
   the weights decode all 2^n inputs right, by induction over the CoT positions (each gate's
   position reads only its fan-in, whose 2^fan-in cases are enumerated).

The CoT dial (`arlearn.circuits.dial`) picks which gates stage 3 writes: the `linear` model
needs every gate (`layers:1`, each token one threshold of earlier tokens); the `mlp`
(`arlearn.compile.mlp`, `build_mlp`) computes a depth-2 threshold circuit per token, so its CoT
needs only every second layer (`layers:2`): its hidden units recompute the unwritten gates a
token reads, its output the token's gate. `prove_run` proves both (`prove_mlp` for the mlp).

`compile_circuit` (`arlearn.compile.build`) runs stages 2–4 and writes the run directory;
`compile_bench`, `compile_generator` and `compile_tm` are its `arlearn compile` front ends.

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

from arlearn.circuits import CIRCUIT_VOCAB, Layout, layout
from arlearn.compile.build import (
    CompileReport,
    bench_sha256,
    compile_bench,
    compile_circuit,
    compile_generator,
    compile_tm,
)
from arlearn.compile.prove import PROVE, prove_run
from arlearn.compile.mlp import build_mlp
from arlearn.compile.verify import (
    EXHAUSTIVE_MAX_INPUTS,
    PACKED_MAX_DENSITY,
    reference_circuit,
    reference_layout,
    verify_run,
)
from arlearn.compile.weights import SparseLinear, build_weights

__all__ = [
    "CIRCUIT_VOCAB", "CompileReport", "EXHAUSTIVE_MAX_INPUTS", "Layout", "PACKED_MAX_DENSITY", "PROVE", "SparseLinear",
    "bench_sha256", "build_mlp", "build_weights", "compile_bench", "compile_circuit", "compile_generator", "compile_tm",
    "layout", "prove_run", "reference_circuit", "reference_layout", "verify_run",
]
