"""Sweeps: train a grid of runs under one budget and measure length and sample complexity.

A sweep is a grid over model classes × CoT formats × training-set sizes × seeds (× optional
named config *variants*, e.g. task options) on top of one base `RunConfig`. Every cell is an
ordinary run — `arlearn.training.trainer.train(cfg, <sweep>/cells/<cell id>)` — so it can be inspected,
evaluated and generated from like any other run. When a cell finishes its summary is written
atomically to `<cell dir>/cell.json`; a rerun of the same sweep skips every cell that has one,
so a killed sweep loses at most the cell in progress. Rerunning into a sweep directory that
holds a *different* sweep is an error (the base config is recorded in `sweep.json`).

Outputs, rewritten after every cell (so a partial sweep is always readable):

    sweep.json   the spec, the budget, every cell's result and the measured complexities
    table.md     mean ± std exact match per (model, CoT, training examples) and the verdicts
    length.png   exact match vs CoT length, one line per model class (mean, min–max band)
    samples.png  exact match vs number of training examples (when the grid has several sizes)

Two entry points share the engine:

- `length_sweep(...)` (`arlearn sweep length`): all CoT formats at the largest training-set
  size; then, for each model class, the shortest successful CoT (or, if none succeeds, its best
  one — marked in `sweep.json` under `sample_focus`) is re-run at the smaller sizes in
  `train_examples`, giving the sample-complexity side of the trade-off.
- `sample_sweep(...)` (`arlearn sweep samples`): exact match vs training-set size for the given
  CoT formats (learning curves), e.g. for circuits or Turing machines.

The *measured length complexity* of a model class is the shortest CoT (in tokens) whose mean
exact match over seeds reaches 1 − ε at the base training-set size, or "not reached".
"""

from __future__ import annotations

import copy
import itertools
import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from arlearn.config import RunConfig, from_dict
from arlearn.errors import ArlearnError
from arlearn.fileio import write_json, write_text

CELL = "cell.json"
SWEEP, TABLE, LENGTH_PNG, SAMPLES_PNG = "sweep.json", "table.md", "length.png", "samples.png"


@dataclass(frozen=True)
class Cell:
    model: str
    cot: str
    train_examples: int
    seed: int
    variant: str = ""

    @property
    def id(self) -> str:
        v = f"{self.variant}-" if self.variant else ""
        return f"{v}{self.model}-{self.cot}-n{self.train_examples}-s{self.seed}"


@dataclass
class SweepSpec:
    """The grid. `base` is the shared config; each cell overrides model, cot, size and seed."""

    base: RunConfig
    models: Sequence[str]
    cots: Sequence[str]
    seeds: Sequence[int] = (0,)
    train_examples: Sequence[int] = ()  #: empty: the base config's train.train_examples
    #: named extra overrides {"label": {"task": {...}, "model": {...}, ...}} (empty: none)
    variants: dict[str, dict] = field(default_factory=dict)
    epsilon: float = 0.01

    def __post_init__(self):
        if not self.models or not self.cots or not self.seeds:
            raise ArlearnError("empty sweep: give at least one model, one CoT format and one seed")
        if not 0 <= self.epsilon < 1:
            raise ArlearnError(f"epsilon must be in [0, 1), got {self.epsilon}")
        sizes = self.sizes
        if any(s < 1 for s in sizes):
            raise ArlearnError(f"training-set sizes must be ≥ 1, got {sorted(sizes)}")
        for key, values in (("models", self.models), ("cots", self.cots), ("seeds", self.seeds)):
            if len(set(values)) != len(values):
                raise ArlearnError(f"sweep {key} has duplicates: {list(values)}")
        tc = self.base.train
        if tc.steps <= tc.warmup:
            raise ArlearnError(
                f"budget too small to train: train.steps={tc.steps} must exceed train.warmup={tc.warmup}"
            )

    @property
    def sizes(self) -> list[int]:
        return sorted(set(self.train_examples)) or [self.base.train.train_examples]

    @property
    def main_size(self) -> int:
        """The training-set size at which length complexity is judged (the largest)."""
        return max(self.sizes)

    def budget(self) -> dict:
        tc = self.base.train
        return {"steps": tc.steps, "batch_size": tc.batch_size, "examples_seen": tc.steps * tc.batch_size,
                "max_minutes": tc.max_minutes, "lr": tc.lr, "eval_examples": self.base.eval.examples,
                "target_exact_match": tc.target_exact_match, "eval_every": tc.eval_every}

    def config_for(self, cell: Cell) -> RunConfig:
        d = copy.deepcopy(self.base.to_dict())
        for sec, over in self.variants.get(cell.variant, {}).items():
            d.setdefault(sec, {}).update(over)
        d["model"]["name"] = cell.model
        d["task"]["cot"] = cell.cot
        d["train"]["seed"] = cell.seed
        d["train"]["train_examples"] = cell.train_examples
        return from_dict(d)

    def to_dict(self) -> dict:
        return {"base": self.base.to_dict(), "models": list(self.models), "cots": list(self.cots),
                "seeds": list(self.seeds), "train_examples": self.sizes,
                "variants": self.variants, "epsilon": self.epsilon}


def check_cells(spec: SweepSpec) -> None:
    """Validate every (variant, model, cot) config and task up front (without allocating the
    models), so a bad CoT name or option fails before any training."""
    from arlearn.models import context_for
    from arlearn.tasks import make_task

    variants = list(spec.variants) or [""]
    for v, model, cot in itertools.product(variants, spec.models, spec.cots):
        cfg = spec.config_for(Cell(model, cot, spec.main_size, spec.seeds[0], v))
        context_for(cfg.model, make_task(cfg.task_name, cfg.task_options).seq_len)


def run_cell(spec: SweepSpec, cell: Cell, out: Path, progress: bool = False) -> dict:
    """Train one cell (or read its finished result) and return its summary."""
    from arlearn.training.trainer import train

    cell_dir = out / "cells" / cell.id
    done = cell_dir / CELL
    if done.is_file():
        try:
            return json.loads(done.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            pass  # cannot happen with atomic writes, but retrain rather than fail
    res = train(spec.config_for(cell), cell_dir, progress=progress)
    row = {"id": cell.id, "variant": cell.variant, "model": cell.model, "cot": cell.cot,
           "train_examples": cell.train_examples, "seed": cell.seed,
           **{k: res[k] for k in ("exact_match", "token_accuracy", "cot_length", "parameters", "steps",
                                  "stopped_by", "train_seconds", "n")}}
    write_json(done, row)
    return row


# -- aggregation -----------------------------------------------------------------------------
def aggregate(rows: Sequence[dict]) -> list[dict]:
    """Mean, std, min, max of exact match over seeds per (variant, model, cot, train_examples)."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["variant"], r["model"], r["cot"], r["train_examples"]), []).append(r)
    out = []
    for (v, model, cot, n), rs in groups.items():
        em = [r["exact_match"] for r in rs]
        out.append({"variant": v, "model": model, "cot": cot, "train_examples": n,
                    "cot_length": rs[0]["cot_length"], "seeds": len(rs),
                    "exact_match_mean": statistics.fmean(em),
                    "exact_match_std": statistics.pstdev(em) if len(em) > 1 else 0.0,
                    "exact_match_min": min(em), "exact_match_max": max(em),
                    "token_accuracy_mean": statistics.fmean(r["token_accuracy"] for r in rs),
                    "parameters": rs[0]["parameters"],
                    "train_seconds_mean": statistics.fmean(r["train_seconds"] for r in rs)})
    out.sort(key=lambda g: (g["variant"], g["model"], g["cot_length"], g["cot"], g["train_examples"]))
    return out


def length_complexity(groups: Sequence[dict], size: int, epsilon: float) -> dict[str, dict]:
    """Per (variant/)model: the shortest CoT whose mean exact match at `size` is ≥ 1 − ε."""
    out: dict[str, dict] = {}
    for g in groups:
        key = _line_key(g)
        out.setdefault(key, {"cot": None, "cot_length": None})
        if g["train_examples"] != size or g["exact_match_mean"] < 1 - epsilon - 1e-12:
            continue
        best = out[key]
        if best["cot_length"] is None or g["cot_length"] < best["cot_length"]:
            out[key] = {"cot": g["cot"], "cot_length": g["cot_length"],
                        "exact_match_mean": g["exact_match_mean"]}
    return out


def sample_focus(groups: Sequence[dict], size: int, epsilon: float) -> dict[str, dict]:
    """Per (variant/)model: the CoT whose sample complexity a length sweep plots — the shortest
    successful one, or (when none succeeds) the one with the best mean exact match (ties — e.g.
    all at 0 — broken by teacher-forced token accuracy, then by the shorter CoT)."""
    lc = length_complexity(groups, size, epsilon)
    out = {}
    for key, win in lc.items():
        if win["cot"] is not None:
            out[key] = {"cot": win["cot"], "successful": True}
        else:
            best = max((g for g in groups if _line_key(g) == key and g["train_examples"] == size),
                       key=lambda g: (g["exact_match_mean"], g["token_accuracy_mean"], -g["cot_length"]))
            out[key] = {"cot": best["cot"], "successful": False}
    return out


def sample_complexity(groups: Sequence[dict], epsilon: float) -> dict[str, dict]:
    """Per (variant/)model and CoT tried at two or more sizes: the fewest training examples
    reaching mean ≥ 1 − ε (None: not reached), and the sizes tried."""
    out: dict[str, dict] = {}
    sizes: dict[str, list[int]] = {}
    for g in groups:
        sizes.setdefault(f"{_line_key(g)} / {g['cot']}", []).append(g["train_examples"])
    for g in groups:
        key = f"{_line_key(g)} / {g['cot']}"
        if len(sizes[key]) < 2:
            continue
        out.setdefault(key, {"train_examples": None, "sizes_tried": sorted(sizes[key])})
        if g["exact_match_mean"] >= 1 - epsilon - 1e-12:
            cur = out[key]["train_examples"]
            if cur is None or g["train_examples"] < cur:
                out[key]["train_examples"] = g["train_examples"]
    return out


def _line_key(g: dict) -> str:
    return f"{g['variant']}/{g['model']}" if g["variant"] else g["model"]


# -- reports ---------------------------------------------------------------------------------
def markdown_table(report: dict) -> str:
    eps = report["spec"]["epsilon"]
    b = report["budget"]
    lines = [f"Task: {report['task']}", "",
             f"Budget per cell: {b['steps']} steps × batch {b['batch_size']} = {b['examples_seen']} "
             f"examples seen (lr {b['lr']}" + (f", at most {b['max_minutes']} min" if b["max_minutes"] else "")
             + (f", stopping early once a check every {b['eval_every']} steps reaches exact match "
                f"{b['target_exact_match']:g}" if b.get("target_exact_match") and b.get("eval_every") else "")
             + f"); exact match on {b['eval_examples']} held-out examples; "
             f"{report['cells_done']}/{report['cells_total']} cells done.", "",
             "| variant | model | CoT | CoT len | train examples | seeds | exact match (mean ± std) "
             "| min–max | token acc | params | train s |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for g in report["groups"]:
        lines.append(
            f"| {g['variant'] or '-'} | {g['model']} | {g['cot']} | {g['cot_length']} | {g['train_examples']} "
            f"| {g['seeds']} | {g['exact_match_mean']:.4f} ± {g['exact_match_std']:.4f} "
            f"| {g['exact_match_min']:.4f}–{g['exact_match_max']:.4f} | {g['token_accuracy_mean']:.4f} "
            f"| {g['parameters']:,} | {g['train_seconds_mean']:.1f} |")
    if report.get("length_complexity"):
        lines += ["", f"Measured length complexity (shortest CoT with mean exact match ≥ {1 - eps:g} "
                  f"at {report['main_size']} training examples):", ""]
        for key, lc in report["length_complexity"].items():
            best = report.get("sample_focus", {}).get(key, {}).get("cot")
            verdict = (f"{lc['cot_length']} CoT tokens (`{lc['cot']}`)" if lc["cot"] is not None
                       else f"not reached (best: `{best}`)")
            lines.append(f"- {key}: {verdict}")
    if report.get("sample_complexity"):
        lines += ["", f"Sample complexity (fewest training examples in the grid with mean exact match "
                  f"≥ {1 - eps:g}):", ""]
        for key, sc in report["sample_complexity"].items():
            n = sc["train_examples"]
            tried = ", ".join(map(str, sc["sizes_tried"]))
            lines.append(f"- {key}: {n if n is not None else 'not reached'} (sizes tried: {tried})")
    return "\n".join(lines) + "\n"


def plot_length(groups: Sequence[dict], size: int, path: Path, title: str) -> bool:
    """Exact match vs CoT length at training-set size `size`: one line per model class."""
    pts = [g for g in groups if g["train_examples"] == size]
    if not pts:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for key in dict.fromkeys(_line_key(g) for g in pts):
        line = sorted((g for g in pts if _line_key(g) == key), key=lambda g: (g["cot_length"], g["cot"]))
        x = [g["cot_length"] for g in line]
        y = [g["exact_match_mean"] for g in line]
        lo = [g["exact_match_min"] for g in line]
        hi = [g["exact_match_max"] for g in line]
        (h,) = ax.plot(x, y, marker="o", label=key)
        ax.fill_between(x, lo, hi, color=h.get_color(), alpha=0.15)
    for cot, xlen in sorted({(g["cot"], g["cot_length"]) for g in pts}, key=lambda t: t[1]):
        ax.annotate(cot, (xlen, 1.02), rotation=60, fontsize=7, ha="left", va="bottom",
                    annotation_clip=False)
    ax.set_xlabel("CoT length (tokens)")
    ax.set_title(title, fontsize=9, pad=38)
    _finish_exact_match_plot(fig, ax, path)
    return True


def plot_samples(groups: Sequence[dict], path: Path, title: str,
                 keep: Callable[[dict], bool] = lambda g: True) -> bool:
    """Exact match vs number of training examples (log x): one line per (model, CoT)."""
    pts = [g for g in groups if keep(g)]
    lines: dict[str, list[dict]] = {}
    for g in pts:
        lines.setdefault(f"{_line_key(g)}, {g['cot']}", []).append(g)
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
    _finish_exact_match_plot(fig, ax, path)
    return True


def _finish_exact_match_plot(fig, ax, path: Path) -> None:
    """The y axis, grid and legend both sweep plots share; then save atomically and close."""
    import matplotlib.pyplot as plt

    ax.set_ylabel("held-out exact match")
    ax.set_ylim(-0.03, 1.03)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, title="mean over seeds; band min–max", title_fontsize=7)
    fig.tight_layout()
    _save_fig(fig, path)
    plt.close(fig)


def _save_fig(fig, path: Path) -> None:
    from arlearn.fileio import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)


# -- the engine ------------------------------------------------------------------------------
def _check_dir(spec: SweepSpec, out: Path, kind: str) -> None:
    prev = out / SWEEP
    if not prev.is_file():
        return
    try:
        old = json.loads(prev.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return
    try:  # compare through from_dict so config fields added since then take their defaults
        same_base = from_dict(old.get("spec", {}).get("base", {})).to_dict() == spec.base.to_dict()
    except ArlearnError:
        same_base = False
    if old.get("kind") != kind or not same_base:
        raise ArlearnError(
            f"{out} holds a different sweep (other kind or base config); choose another --out "
            "or delete it"
        )


def _task_label(spec: SweepSpec) -> str:
    from arlearn.tasks import make_task

    opts = {k: v for k, v in spec.base.task_options.items() if k != "cot"}
    cfg = spec.base.task_name + (" " + " ".join(f"{k}={v}" for k, v in opts.items()) if opts else "")
    make_task(spec.base.task_name, spec.base.task_options)  # validates
    return cfg


def write_report(spec: SweepSpec, out: Path, kind: str, rows: list[dict], total: int) -> dict:
    groups = aggregate(rows)
    report = {
        "kind": kind,
        "task": _task_label(spec),
        "spec": spec.to_dict(),
        "budget": spec.budget(),
        "main_size": spec.main_size,
        "cells_done": len(rows),
        "cells_total": total,
        "cells": rows,
        "groups": groups,
        "length_complexity": length_complexity(groups, spec.main_size, spec.epsilon) if kind == "length" else {},
        "sample_complexity": sample_complexity(groups, spec.epsilon),
        "sample_focus": sample_focus(groups, spec.main_size, spec.epsilon) if kind == "length" else {},
    }
    write_json(out / SWEEP, report)
    write_text(out / TABLE, markdown_table(report))
    b = report["budget"]
    title = f"{report['task']} — {b['steps']} steps × {b['batch_size']}"
    plots = []
    if kind == "length" and plot_length(groups, spec.main_size, out / LENGTH_PNG,
                                        f"{title}, {spec.main_size} train examples"):
        plots.append(LENGTH_PNG)
    if kind == "length":
        focus = {(k, f["cot"]) for k, f in report["sample_focus"].items()}
        keep = lambda g: (_line_key(g), g["cot"]) in focus  # noqa: E731
    else:
        keep = lambda g: True  # noqa: E731
    if plot_samples(groups, out / SAMPLES_PNG, title, keep):
        plots.append(SAMPLES_PNG)
    report["plots"] = plots
    write_json(out / SWEEP, report)
    return report


def _run_cells(spec: SweepSpec, cells: list[Cell], out: Path, kind: str, rows: dict, total: int,
               progress: bool, log: Callable[[str], None]) -> None:
    from tqdm.auto import tqdm

    bar = tqdm(cells, desc=f"sweep {kind}", unit="cell", disable=not progress, dynamic_ncols=True)
    for cell in bar:
        bar.set_postfix_str(cell.id)
        fresh = not (out / "cells" / cell.id / CELL).is_file()
        row = run_cell(spec, cell, out)
        rows[cell.id] = row
        if fresh:
            log(f"{cell.id}: exact match {row['exact_match']:.4f} (CoT length {row['cot_length']}, "
                f"{row['train_seconds']:.0f} s)")
            write_report(spec, out, kind, list(rows.values()), total)
    bar.close()


def _grid(spec: SweepSpec, cots, sizes) -> list[Cell]:
    variants = list(spec.variants) or [""]
    return [Cell(m, c, n, s, v) for v, m, c, n, s in
            itertools.product(variants, spec.models, cots, sizes, spec.seeds)]


def length_sweep(spec: SweepSpec, out: str | Path, progress: bool = True,
                 log: Callable[[str], None] = lambda s: None) -> dict:
    """Every (model, CoT, seed) at the largest size; then each model's shortest successful CoT
    at the other sizes. Returns the report (also written to `out`)."""
    out = Path(out)
    _check_dir(spec, out, "length")
    check_cells(spec)
    out.mkdir(parents=True, exist_ok=True)
    rows: dict[str, dict] = {}
    main = _grid(spec, spec.cots, [spec.main_size])
    smaller = [n for n in spec.sizes if n != spec.main_size]
    total = len(main)
    _run_cells(spec, main, out, "length", rows, total, progress, log)
    if smaller:
        focus = sample_focus(aggregate(list(rows.values())), spec.main_size, spec.epsilon)
        extra = []
        for v in list(spec.variants) or [""]:
            for model in spec.models:
                cot = focus[f"{v}/{model}" if v else model]["cot"]
                extra += [Cell(model, cot, n, s, v) for n in smaller for s in spec.seeds]
        total += len(extra)
        _run_cells(spec, extra, out, "length", rows, total, progress, log)
    return write_report(spec, out, "length", list(rows.values()), total)


def sample_sweep(spec: SweepSpec, out: str | Path, progress: bool = True,
                 log: Callable[[str], None] = lambda s: None) -> dict:
    """Exact match vs number of training examples: every (model, CoT, size, seed) cell."""
    out = Path(out)
    _check_dir(spec, out, "samples")
    if len(spec.sizes) < 1:
        raise ArlearnError("sample sweep needs at least one training-set size")
    check_cells(spec)
    out.mkdir(parents=True, exist_ok=True)
    rows: dict[str, dict] = {}
    cells = _grid(spec, spec.cots, spec.sizes)
    _run_cells(spec, cells, out, "samples", rows, len(cells), progress, log)
    return write_report(spec, out, "samples", list(rows.values()), len(cells))


def parse_list(text: str, what: str, cast=str) -> list:
    """'a,b,c' → ['a','b','c'] (ints with cast=int; 'a..b' ranges allowed for ints)."""
    items = [t.strip() for t in (text or "").split(",") if t.strip()]
    if not items:
        raise ArlearnError(f"empty sweep: --{what} is empty")
    out = []
    for t in items:
        try:
            if cast is int and ".." in t:
                lo, hi = (int(x) for x in t.split(".."))
                out += list(range(lo, hi + 1))
            else:
                out.append(cast(t))
        except ValueError:
            raise ArlearnError(f"--{what}: {t!r} is not a valid {cast.__name__}") from None
    return out
