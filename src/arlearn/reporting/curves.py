"""Training curves of one run, from its metrics.jsonl rows, as one PNG.

Panels (each only when the run logged it; the held-out ones at two steps or more): training loss, token accuracy on the training batch,
held-out exact match or validation perplexity of the periodic checks, and — for tasks with a
multi-token answer — the held-out accuracy of every answer position (`eval_answer_position_accuracy`,
one line per position, as the task writes the answer). The last panel is the one that shows *where*
a model that is wrong on every example is wrong (e.g. the middle digits of a long sum).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

PER_POSITION = "eval_answer_position_accuracy"

#: (metrics key, panel title, log scale)
PANELS = (("loss", "training loss", True), ("token_acc", "token accuracy (train batch)", False),
          ("eval_exact_match", "held-out exact match", False), ("val_perplexity", "validation perplexity", True))
ACCURACIES = ("token_acc", "eval_exact_match", PER_POSITION)
#: a held-out curve needs this many logged points: a run without periodic checks logs its held-out
#: scores once, at the end — a single point, which results.json already states (not a one-point panel)
MIN_POINTS = 2
HELD_OUT = ("eval_exact_match", "val_perplexity", PER_POSITION)


def is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _series(rows: list[dict], key: str) -> tuple[list, list]:
    pts = [(r["step"], r[key]) for r in rows if is_number(r.get("step")) and is_number(r.get(key))]
    return [p[0] for p in pts], [p[1] for p in pts]


def position_series(rows: list[dict]) -> tuple[list, list[list[float]]]:
    """(steps, one accuracy series per answer position) from the rows that logged the per-position
    accuracy; rows of another width (none in one run) are skipped."""
    logged = [r for r in rows if is_number(r.get("step")) and isinstance(r.get(PER_POSITION), list)]
    if not logged:
        return [], []
    width = len(logged[-1][PER_POSITION])
    logged = [r for r in logged if len(r[PER_POSITION]) == width]
    return [r["step"] for r in logged], [[r[PER_POSITION][i] for r in logged] for i in range(width)]


def png_bytes(draw) -> bytes:
    """The bytes of the PNG that `draw(path)` writes (into a temporary directory)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "figure.png"
        draw(out)
        return out.read_bytes()


def chosen_panels(rows: list[dict]) -> list[tuple[str, str, bool]]:
    """The (metrics key, title, log scale) of each panel the rows have data for: a training curve
    from one point on, a held-out one from MIN_POINTS points on."""
    panels = [p for p in PANELS if len(_series(rows, p[0])[0]) >= (MIN_POINTS if p[0] in HELD_OUT else 1)]
    if len(position_series(rows)[0]) >= MIN_POINTS:
        panels.append((PER_POSITION, "held-out accuracy per answer position", False))
    return panels


def curves_figure(rows: list[dict], title: str) -> bytes | None:
    """The run's curves as PNG bytes; None when no row has anything to plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = chosen_panels(rows)
    steps, per_pos = position_series(rows)
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 2.8), squeeze=False)
    for ax, (key, label, log) in zip(axes[0], panels):
        if key == PER_POSITION:
            cmap = plt.get_cmap("viridis")
            for i, ys in enumerate(per_pos):
                ax.plot(steps, ys, lw=1.0, color=cmap(i / max(len(per_pos) - 1, 1)), label=f"{i}")
            ax.legend(title="position", fontsize=6, title_fontsize=6, ncol=2, loc="lower right")
            y = [v for ys in per_pos for v in ys]
        else:
            x, y = _series(rows, key)
            ax.plot(x, y, marker="o" if len(x) < 30 else None, ms=3, lw=1.2)
        if log and all(v > 0 for v in y):
            ax.set_yscale("log")
        if key in ACCURACIES:
            ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("step")
        ax.set_title(label, fontsize=9)
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    png = png_bytes(lambda p: fig.savefig(p, format="png", dpi=90, bbox_inches="tight"))
    plt.close(fig)
    return png
