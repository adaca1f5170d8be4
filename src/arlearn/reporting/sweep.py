"""Sweep outputs for people: the Markdown table and the exact-match plots of a sweep directory.

This module owns how a sweep's report data (`sweep.json`, built by `arlearn.experiments.sweep`)
is shown: `markdown_table` (mean ± std exact match per cell group, the measured length and
sample complexities, and with --until-target each line's search along its CoT formats,
`search_lines`), `plot_length` (exact match vs CoT length) and `plot_samples` (exact match
vs training examples); for a sweep over circuits also `sizes_table` (per circuit and line: its
threshold gates, T, the samples needed, training seconds, exact match) and `plot_sizes` (samples
needed and training seconds vs threshold gates, log–log). `write_outputs(out, report)` writes
`table.md` (with the sizes table when there is one), `sizes.md` and the plots into the sweep
directory; the CLI passes it to `length_sweep`/`sample_sweep` as their `on_update`
callback, so the table and plots are rewritten after every finished cell.
"""

from __future__ import annotations

import re
import textwrap

from pathlib import Path
from typing import Callable, Sequence

from arlearn.evaluation.scores import TOO_SMALL, examples_needed, fmt_rate, too_small_line
from arlearn.experiments.complexity import line_key
from arlearn.experiments.sweep import LENGTH_PNG, SAMPLES_PNG, SIZES_MD, SIZES_PNG, TABLE
from arlearn.fileio import write_text


def write_outputs(out: Path, report: dict) -> list[str]:
    """Write `table.md` and the plots the report has data for into `out`; return the plots'
    file names (the engine records them in report["plots"])."""
    out = Path(out)
    write_text(out / TABLE, markdown_table(report))
    b = report["budget"]
    size = report["main_size"]
    title = f"{report['task']} — {b['steps']} steps × {b['batch_size']}"
    plots = []
    length = report["kind"] == "length"
    target = 1 - report["spec"]["epsilon"]
    if length and plot_length(report["groups"], size, out / LENGTH_PNG, f"{title}, {size} train examples", target):
        plots.append(LENGTH_PNG)
    if length:
        focus = {(k, f["cot"]) for k, f in report["sample_focus"].items()}
        keep = lambda g: (line_key(g), g["cot"]) in focus  # noqa: E731
    else:
        keep = lambda g: True  # noqa: E731
    if plot_samples(report["groups"], out / SAMPLES_PNG, title, keep, target):
        plots.append(SAMPLES_PNG)
    sizes = report.get("size_complexity") or []
    if sizes:
        write_text(out / SIZES_MD, sizes_table(report))
        if plot_sizes(sizes, out / SIZES_PNG, f"{title}: fewest examples reaching exact match ≥ {target:g}"):
            plots.append(SIZES_PNG)
    return plots


def scored_on(groups: Sequence[dict]) -> str:
    """How many held-out examples the cells were scored on, as counted (not as asked for: a split
    smaller than eval.examples is scored on every one of its inputs)."""
    ns = sorted({g.get("n", 0) for g in groups})
    if not ns:
        return "no cells scored yet"
    return f"{ns[0]:,}" if len(ns) == 1 else f"{ns[0]:,}–{ns[-1]:,}"


def _seq(g: dict) -> str:
    v = g.get("sequence_exact_match_mean")
    return "n/a" if v is None else f"{v:.4f}"


#: the columns of a sweep trained to a periodic check's target (train.target_exact_match)
TARGET_HEAD = " at target | steps to target | s to target |"


def _to_target(g: dict) -> str:
    """The TARGET_HEAD cells of a group or row: seeds that stopped on the target, of all, and their
    mean steps and training seconds to it ("n/a" for cells trained without one)."""
    if "at_target" not in g:
        return " n/a | n/a | n/a |"
    steps, secs = g.get("steps_to_target_mean"), g.get("seconds_to_target_mean")
    return (f" {g['at_target']}/{g['seeds']} | {'—' if steps is None else f'{steps:,.0f}'} "
            f"| {'—' if secs is None else f'{secs:.1f}'} |")


def markdown_table(report: dict) -> str:
    eps = report["spec"]["epsilon"]
    b = report["budget"]
    groups = report["groups"]
    small = sorted({g["n"] for g in groups if g.get("n") is not None and g["n"] < examples_needed(1 - eps)})
    lines = [f"Task: {report['task']}", "",
             f"Budget per cell: {b['steps']} steps × batch {b['batch_size']} = {b['examples_seen']} "
             f"examples seen (lr {b['lr']}" + (f", at most {b['max_minutes']} min" if b["max_minutes"] else "")
             + (f", stopping early once a check every {b['eval_every']} steps reaches exact match "
                f"{b['target_exact_match']:g}" if b.get("target_exact_match") and b.get("eval_every") else "")
             + f"); answer exact match on {scored_on(groups)} distinct held-out examples per cell (the 95% "
             f"interval is Wilson's, of the mean over seeds read as mean·n of n); a line counts as having "
             f"learned the task when the interval's lower bound is ≥ {1 - eps:g} and the score is above "
             f"chance; {report['cells_done']}/{report['cells_total']} cells done.", ""]
    if small:  # one line, instead of a verdict the data cannot support
        lines += [f"Too small: {too_small_line(min(small), eps)}.", ""]
    targeted = any("at_target" in g for g in groups)
    lines += ["| variant | model | CoT | CoT len | train examples | seeds | n | answer exact match (mean ± std) "
              "| 95% CI | min–max | sequence exact match | chance | token acc | params | train s |"
              + (TARGET_HEAD if targeted else ""),
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|" + ("---|" * 3 if targeted else "")]
    for g in groups:
        lo, hi = g.get("exact_match_interval", (0.0, 1.0))
        lines.append(
            f"| {g['variant'] or '-'} | {g['model']} | {g['cot']} | {g['cot_length']} | {g['train_examples']} "
            f"| {g['seeds']} | {g.get('n', '?')} | {g['exact_match_mean']:.4f} ± {g['exact_match_std']:.4f} "
            f"| [{lo:.4f}, {hi:.4f}] | {g['exact_match_min']:.4f}–{g['exact_match_max']:.4f} | {_seq(g)} "
            f"| {g.get('chance', 0.0):.4g} | {g['token_accuracy_mean']:.4f} "
            f"| {g['parameters']:,} | {g['train_seconds_mean']:.1f} |"
            + (_to_target(g) if targeted else ""))
    if report.get("length_complexity"):
        lines += ["", f"Measured length complexity (shortest CoT whose 95% interval clears {1 - eps:g}, above "
                  f"chance, at {report['main_size']} training examples):", ""]
        for key, lc in report["length_complexity"].items():
            best = report.get("sample_focus", {}).get(key, {}).get("cot")
            verdict = (f"{lc['cot_length']} CoT tokens (`{lc['cot']}`)" if lc["cot"] is not None
                       else "held-out set too small to tell" if lc.get("verdict") == TOO_SMALL
                       else f"not reached (best: `{best}`)")
            lines.append(f"- {key}: {verdict}")
    if report.get("search"):
        lines += ["", search_lines(report["search"]).rstrip()]
    if report.get("sample_complexity"):
        lines += ["", f"Sample complexity (fewest training examples in the grid whose 95% interval clears "
                  f"{1 - eps:g}):", ""]
        for key, sc in report["sample_complexity"].items():
            n = sc["train_examples"]
            tried = ", ".join(map(str, sc["sizes_tried"]))
            lines.append(f"- {key}: {n if n is not None else 'not reached'} (sizes tried: {tried})")
    if report.get("size_complexity"):
        lines += ["", sizes_table(report).rstrip()]
    return "\n".join(lines) + "\n"


def search_lines(search: dict) -> str:
    """Per line of a length sweep with --until-target: its CoT formats shortest first, each
    marked trained (✓ reached, ✗ not), inferred by bisection ((✓), (✗)) or neither (–), and
    every trained format that contradicts monotonicity."""
    modes = sorted({st["search"] for st in search.values()})
    inferred = ("; (✓) and (✗) inferred by bisection, which assumes a longer CoT reaches the target when a "
                "shorter one does" if "bisect" in modes else "")
    lines = [f"Search along the CoT formats, shortest first ({', '.join(f'`{m}`' for m in modes)}): ✓ reached "
             f"and ✗ not, when trained{inferred}; – not trained.", ""]
    for key, st in search.items():
        marks = []
        for cot in st["formats"]:
            if cot in st["trained"]:
                marks.append(f"{cot} {'✓' if cot in st['reached'] else '✗'}")
            elif cot in st["inferred"]:
                marks.append(f"{cot} ({'✓' if st['inferred'][cot] else '✗'})")
            else:
                marks.append(f"{cot} –")
        todo = "" if st["next"] is None else f", next `{st['next']}`"
        lines.append(f"- {key} ({st['search']}: {len(st['trained'])} of {len(st['formats'])} formats "
                     f"trained{todo}): " + " · ".join(marks))
        for shorter, longer in st["contradictions"]:
            lines.append(f"  - not monotone: `{longer}` ✗ although the shorter `{shorter}` ✓ — no format is "
                         "inferred; the untrained formats below the shortest ✓ are walked")
    return "\n".join(lines) + "\n"


def sizes_table(report: dict) -> str:
    """Per circuit and (model, CoT) line of a sweep over circuits: its size and the fewest
    training examples reaching the target (or "not reached", with the best exact match)."""
    target = 1 - report["spec"]["epsilon"]
    targeted = any("at_target" in r for r in report["size_complexity"])
    lines = [f"Samples needed vs circuit size: the fewest training examples (of the sizes tried) whose mean "
             f"held-out answer exact match has a 95% interval clearing {target:g} (and is above chance); train s "
             "and exact match [95% CI] n at that size (not reached: at the size with the best exact match)"
             + ("; its sequence exact match, and the seeds that stopped on the periodic check's target with "
                "their mean steps and training seconds to it" if targeted else "") + ".", "",
             "| circuit | threshold gates | T | model | samples needed | train s | exact match | sizes tried |"
             + (" sequence exact match |" + TARGET_HEAD if targeted else ""),
             "|---|---|---|---|---|---|---|---|" + ("---|" * 4 if targeted else "")]
    for r in report["size_complexity"]:
        need = f"{r['samples_needed']:,}" if r["samples_needed"] is not None else \
            f"not reached (> {max(r['sizes_tried']):,})"
        em = (fmt_rate(r["exact_match"], r["n"], r.get("exact_match_interval")) if r.get("n") is not None
              else f"{r['exact_match']:.4f}") + ("" if r["samples_needed"] is not None else f" at {r['train_examples']:,}")
        lines.append(f"| {r['circuit']} | {r['threshold_gates']:,} | {r['T']} | {r['line']} | {need} "
                     f"| {r['train_seconds']:.1f} | {em} | {', '.join(map(str, r['sizes_tried']))} |"
                     + (f" {_seq_rate(r)} |{_to_target(r)}" if targeted else ""))
    return "\n".join(lines) + "\n"


def _seq_rate(r: dict) -> str:
    v = r.get("sequence_exact_match")
    return "n/a" if v is None else fmt_rate(v, r["n"]) if r.get("n") is not None else f"{v:.4f}"


def plot_sizes(rows: Sequence[dict], path: Path, title: str) -> bool:
    """Two log–log panels against the number of threshold gates: samples needed and training
    seconds, one line per (model, CoT); a line that did not reach the target at a circuit is an
    open triangle at the largest size tried (samples) or at its best size (seconds)."""
    if not rows:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(dict.fromkeys(r["line"] for r in rows))
    legend_rows = -(-2 * len(labels) // 4)  # a reached and a not-reached entry per line, 4 columns below the panels
    fig, axes = plt.subplots(1, 2, figsize=(10.5, 4.2 + 0.17 * legend_rows), layout="constrained")
    for i, label in enumerate(labels):
        line = sorted((r for r in rows if r["line"] == label), key=lambda r: (r["threshold_gates"], r["circuit"]))
        color = f"C{i % 10}"  # past 10 lines the colours repeat: the line style and marker tell them apart
        k = i // 10 % 3
        style, mark, miss_mark = ("-", "--", ":")[k], ("o", "s", "D")[k], ("^", "v", "<")[k]
        for ax, y_of in ((axes[0], lambda r: r["samples_needed"]), (axes[1], lambda r: r["train_seconds"])):
            ok = [r for r in line if r["samples_needed"] is not None]
            ax.plot([r["threshold_gates"] for r in ok], [max(y_of(r), 1e-3) for r in ok], marker=mark,
                    linestyle=style, color=color, label=label)
            miss = [r for r in line if r["samples_needed"] is None]
            miss_y = [max(r["sizes_tried"]) if ax is axes[0] else max(r["train_seconds"], 1e-3) for r in miss]
            ax.plot([r["threshold_gates"] for r in miss], miss_y, linestyle="none", marker=miss_mark,
                    markerfacecolor="none", color=color, label=f"{label}: not reached" if miss else None)
    from matplotlib.ticker import FuncFormatter, NullFormatter

    gates = sorted({r["threshold_gates"] for r in rows})
    for ax, ylabel in zip(axes, ("training examples needed (not reached: the largest tried)",
                                 "training seconds at that size")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(gates, [f"{g:,}" for g in gates])  # the circuits' sizes, not 10^k ticks
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.10g}"))
        ax.set_xlabel("threshold gates of the circuit (CoT length − 1)")
        ax.set_ylabel(ylabel, fontsize=9)
        ax.grid(alpha=0.3, which="both")
    tried = sorted({n for r in rows for n in r["sizes_tried"]})
    axes[0].set_yticks(tried, [f"{n:,}" for n in tried])
    axes[0].yaxis.set_minor_formatter(NullFormatter())
    for r in {r["circuit"]: r for r in rows}.values():
        axes[0].annotate(r["circuit"], (r["threshold_gates"], 1), xycoords=("data", "axes fraction"),
                         rotation=60, fontsize=7, ha="left", va="bottom", annotation_clip=False)
    # below the panels: a sweep of many circuits × CoT formats has more lines than a panel holds
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=4, fontsize=7)
    fig.suptitle(textwrap.fill(title, 150), fontsize=9)  # a long circuit list wraps instead of running off the page
    _save_fig(fig, path)
    plt.close(fig)
    return True


def _natural(name: str) -> list:
    """A sort key that puts adder8 before adder10: digit runs compare as numbers."""
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", name) if t]


def plot_length(groups: Sequence[dict], size: int, path: Path, title: str, target: float | None = None) -> bool:
    """Exact match vs CoT length at training-set size `size`: one line per model class, with the
    chance level and the target 1 − ε as horizontal lines; a sweep over several variants (a
    family, several circuits) gets one panel per variant, each with its own CoT formats."""
    pts = [g for g in groups if g["train_examples"] == size]
    if not pts:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    variants = sorted(dict.fromkeys(g["variant"] for g in pts), key=_natural)
    cols = min(3, len(variants))
    rows = -(-len(variants) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6.4 if cols == 1 else 4.6 * cols, 4.2 if rows == 1 else 3.6 * rows),
                             squeeze=False, sharey=True)
    colors = {m: f"C{i}" for i, m in enumerate(dict.fromkeys(g["model"] for g in pts))}
    for ax, variant in zip(axes.flat, variants):
        mine = [g for g in pts if g["variant"] == variant]
        for model in dict.fromkeys(g["model"] for g in mine):
            line = sorted((g for g in mine if g["model"] == model), key=lambda g: (g["cot_length"], g["cot"]))
            x = [g["cot_length"] for g in line]
            ax.plot(x, [g["exact_match_mean"] for g in line], marker="o", color=colors[model],
                    label=model if len(variants) > 1 else line_key(line[0]))
            ax.fill_between(x, [g["exact_match_min"] for g in line], [g["exact_match_max"] for g in line],
                            color=colors[model], alpha=0.15)
        for cot, xlen in sorted({(g["cot"], g["cot_length"]) for g in mine}, key=lambda t: t[1]):
            ax.annotate(cot, (xlen, 1.02), rotation=60, fontsize=7, ha="left", va="bottom",
                        annotation_clip=False)
        ax.set_xlabel("CoT length (tokens)")
        if len(variants) > 1:
            ax.set_title(variant, fontsize=9, pad=40)
    for ax in list(axes.flat)[len(variants):]:
        ax.set_visible(False)
    if len(variants) > 1:
        fig.suptitle(textwrap.fill(title, 150), fontsize=9)
    else:
        axes[0, 0].set_title(title, fontsize=9, pad=38)
    _finish_exact_match_plot(fig, list(axes.flat)[:len(variants)], path, pts, target)
    return True


def plot_samples(groups: Sequence[dict], path: Path, title: str,
                 keep: Callable[[dict], bool] = lambda g: True, target: float | None = None) -> bool:
    """Exact match vs number of training examples (log x): one line per (model, CoT)."""
    pts = [g for g in groups if keep(g)]
    lines: dict[str, list[dict]] = {}
    for g in pts:
        lines.setdefault(f"{line_key(g)}, {g['cot']}", []).append(g)
    lines = {k: v for k, v in lines.items() if len(v) > 1}
    if not lines:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for key, line in lines.items():
        line.sort(key=lambda g: g["train_examples"])
        x = [g["train_examples"] for g in line]
        (h,) = ax.plot(x, [g["exact_match_mean"] for g in line], marker="o", label=key)
        ax.fill_between(x, [g["exact_match_min"] for g in line], [g["exact_match_max"] for g in line],
                        color=h.get_color(), alpha=0.15)
    ax.set_xscale("log")
    sizes = sorted({g["train_examples"] for line in lines.values() for g in line})
    ax.set_xticks(sizes, [f"{n:,}" for n in sizes])  # the grid's sizes, not 2×10^1-style ticks
    ax.minorticks_off()
    ax.set_xlabel("training examples (train.train_examples: the pool drawn from the train split)")
    ax.set_title(title, fontsize=9)
    _finish_exact_match_plot(fig, ax, path, [g for line in lines.values() for g in line], target)
    return True


def _finish_exact_match_plot(fig, axes, path: Path, groups: Sequence[dict] = (), target: float | None = None) -> None:
    """The y axis, the chance level of the plotted groups and the target 1 − ε (dashed lines),
    grid and legend both sweep plots share (on each of `axes`, one or a list; the legend on the
    first); then save atomically and close."""
    import matplotlib.pyplot as plt

    chance = max((g.get("chance", 0.0) for g in groups), default=0.0)
    for i, ax in enumerate(axes if isinstance(axes, list) else [axes]):
        if chance:
            ax.axhline(chance, color="grey", linestyle="--", linewidth=0.9, label=f"chance ({chance:.3g})")
        if target is not None:
            ax.axhline(target, color="black", linestyle=":", linewidth=0.9, label=f"target 1 − ε ({target:g})")
        if i == 0:
            ax.set_ylabel("held-out answer exact match")
            ax.legend(fontsize=8, title="mean over seeds; band min–max", title_fontsize=7)
        ax.set_ylim(-0.03, 1.03)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    _save_fig(fig, path)
    plt.close(fig)


def _save_fig(fig, path: Path) -> None:
    from arlearn.fileio import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
