"""Pictures of block-causal models: which earlier positions each position reads.

`block_norm_heatmap` draws the Frobenius norm of every (t, s) block W[t,s] of a `linear` or
`mlp` model's (first) block-causal map as a T×T image: row t = the output position (it predicts
token t+1), column s = the input position it reads. For a compiled circuit the non-zero cells
are exactly the wires: row pos(g)−1 has a cell at the position of each input of gate g.
`sparse_block_norms` gives the same [T, T] norms of a compiled model's packed (COO) weights, and
`heatmap_pair` draws two such maps side by side (a trained circuit model beside the model the
compiler builds for the same circuit, as `arlearn report` shows them).
"""

from __future__ import annotations

from pathlib import Path

import torch

from arlearn.errors import ArlearnError


def block_norms(model, layer: int = 0) -> torch.Tensor:
    """[T, T] norms of the blocks of block-causal map `layer` of a linear/mlp model."""
    mix = getattr(model, "mix", None)
    if mix is None:
        raise ArlearnError(f"{type(model).__name__} has no block-causal map (heatmaps are for linear and mlp models)")
    if not 0 <= layer < len(mix):
        raise ArlearnError(f"layer {layer} does not exist; the model has {len(mix)} block-causal map(s)")
    return mix[layer].block_norms()


def block_norm_heatmap(model, path, title: str = "", layer: int = 0, marks=(), log: bool = True) -> Path:
    """Save the block-norm heatmap of `model` as a PNG at `path`; returns the path.

    `marks`: positions where a new part of the sequence starts (e.g. the first CoT and answer
    tokens), drawn as thin lines. `log`: colour by log10 of the norm (zeros stay blank).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    norms = block_norms(model, layer).numpy()
    T = norms.shape[0]
    size = min(12.0, 4.0 + T / 60)
    fig, ax = plt.subplots(figsize=(size + 1.5, size), dpi=max(100, min(300, T // 6)))
    _draw(fig, ax, norms, title or f"block norms, T={T}", marks, log)
    return _save(fig, path)


def heatmap_pair(left, right, path, titles=("", ""), marks=(), log: bool = True) -> Path:
    """Two [T, T] block-norm maps (tensors or arrays) side by side, each with its own colour
    scale, saved as a PNG at `path` (e.g. a trained model beside the compiled one)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    left, right = (np.asarray(x, dtype=np.float64) for x in (left, right))
    T = max(left.shape[0], right.shape[0])
    size = min(7.0, 3.5 + T / 80)
    fig, axes = plt.subplots(1, 2, figsize=(2 * size + 3, size), dpi=max(100, min(200, T // 6)))
    for ax, norms, title in zip(axes, (left, right), titles):
        _draw(fig, ax, norms, title or f"block norms, T={norms.shape[0]}", marks, log)
    return _save(fig, path)


def sparse_block_norms(T: int, t, s, w):
    """[T, T] Frobenius norms of the blocks of a packed (COO) block-causal map: entries at
    output position t[e], input position s[e] with value w[e] (`arlearn.compile.SparseLinear`)."""
    out = torch.zeros(T * T, dtype=torch.float64)
    out.index_add_(0, (t.long() * T + s.long()), w.double() ** 2)
    return out.sqrt().view(T, T).float()


def _draw(fig, ax, norms, title: str, marks, log: bool) -> None:
    """One block-norm map on `ax`: log10 colours (zeros blank), a colour bar, section marks."""
    import numpy as np

    shown = np.where(norms > 0, np.log10(np.maximum(norms, 1e-30)) if log else norms, np.nan)
    im = ax.imshow(shown, cmap="viridis", interpolation="nearest", origin="upper")
    cb = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    cb.set_label("log10 ‖W[t,s]‖" if log else "‖W[t,s]‖")
    for m in marks:
        ax.axhline(m - 1.5, color="0.6", lw=0.5)  # row m−1 is the first to predict token m
        ax.axvline(m - 0.5, color="0.6", lw=0.5)
    ax.set_xlabel("input position s (read)")
    ax.set_ylabel("output position t (predicts token t+1)")
    ax.set_title(title, fontsize=9)


def _save(fig, path) -> Path:
    import matplotlib.pyplot as plt

    from arlearn.fileio import atomic_path

    path = Path(path)
    try:
        with atomic_path(path) as tmp:  # makes the directory; an unwritable path is an ArlearnError
            fig.savefig(tmp, format="png", bbox_inches="tight")
    finally:
        plt.close(fig)
    return path


def run_heatmap(run_dir, out, layer: int = 0) -> dict:
    """`arlearn heatmap RUN_DIR -o file.png`: the heatmap of a run's model, with the prompt /
    CoT / answer boundaries marked for circuit-layout tasks."""
    from arlearn.rundir import load_run

    cfg, task, model = load_run(run_dir)
    marks = []
    try:
        from arlearn.compile.verify import reference_layout

        lay = reference_layout(task)
        if task.seq_len == lay.seq_len:
            marks = [lay.prompt_len, lay.prompt_len + lay.k + 1]
    except ArlearnError:
        pass
    title = f"{Path(run_dir).name}: {cfg.model.name} on {cfg.task_name} — block norms (layer {layer})"
    path = block_norm_heatmap(model, out, title, layer, marks)
    norms = block_norms(model, layer)
    return {"run_dir": str(run_dir), "png": str(path), "T": int(norms.shape[0]),
            "nonzero_blocks": int((norms > 0).sum())}
