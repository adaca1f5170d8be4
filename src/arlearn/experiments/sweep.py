"""The sweep engine: train a grid of runs under one budget and collect their results.

This module owns the grid (`SweepSpec`, `Cell`), running its cells, resuming, the layout of a
sweep directory (the file names below) and the data written to `sweep.json`; the statistics
live in `arlearn.experiments.complexity`, the table and plots in `arlearn.reporting.sweep`.
A sweep is a grid over model classes × CoT formats × training-set sizes × seeds (× optional
named config *variants*, e.g. task options) on top of one base `RunConfig`. A model entry
`model:cot` (e.g. `linear:none`) trains that model with that one CoT only, not every CoT
(`SweepSpec.lines`). Variants over config values (task.n = 8, 16, 32: `axis_variants`) make a
task option an axis. A list of *circuits* (generator names: adder4, mult8, cmp16, …,
py:MODULE:FUNCTION, or .bench files) is the variants of the `circuit` task, one per circuit, so
one sweep measures learning against circuit size; `sweep.json` then also holds each circuit's size (threshold gates, T per CoT) and per
circuit and line the fewest training examples reaching 1 − ε (`size_complexity`), which
`arlearn.reporting.sweep` writes as `sizes.md` and the log–log plot `sizes.png`. Every cell is an
ordinary run — `arlearn.training.trainer.train(cfg, <sweep>/cells/<cell id>)` — so it can be
inspected, evaluated and generated from like any other run. When a cell finishes its summary is
written atomically to `<cell dir>/cell.json`; a rerun of the same sweep skips every cell that
has one, and a cell stopped mid-training continues from its newest checkpoint (SIGINT/SIGTERM
save one; `train.checkpoint_minutes` or `checkpoint_every` write them as it goes) when its
directory holds that cell's run (`same_run_config`: the bookkeeping keys may differ), so a killed
sweep loses at most the steps since the cell's last checkpoint; a cell directory without a
checkpoint, or of another config, is cleared and trained afresh. Rerunning into a sweep directory
that holds a *different* sweep is an error (the base config is recorded in `sweep.json`).
The unfinished cells of a grid run on an executor (`arlearn.experiments.executors`: `serial`,
the library default; `local`, side by side on this machine's cores; `ray`, a Ray cluster), each
writing only its own cell directory; the driver reads finished cells back and publishes.

After every finished cell and at the end the engine rewrites `sweep.json` (the spec, the
budget, every cell's result and the measured complexities), then calls `on_update(out, report)`
if given — `arlearn.reporting.sweep.write_outputs`, which the CLI passes, rewrites `table.md`,
`length.png` and `samples.png` there — so a partial sweep is always readable.

Two entry points share the engine:

- `length_sweep(...)` (`arlearn sweep length`): all CoT formats at the largest training-set
  size; then, for each model class, the shortest successful CoT (or, if none succeeds, its best
  one — marked in `sweep.json` under `sample_focus`) is re-run at the smaller sizes in
  `train_examples`, giving the sample-complexity side of the trade-off. With `cots = ["ladder"]`
  the formats are the task's own dial (`Task.cot_ladder()`, per variant: a family such as
  parity n = 8, 16, 32 has a ladder per member); with `until_target` they run shortest first and
  a line (variant, model) stops at the first format that reaches 1 − ε (`reached`): its length
  complexity, without training the longer formats. `search = "bisect"` finds that format by
  bisection instead, training O(log n) of a line's n formats on the assumption that a longer
  CoT reaches 1 − ε when a shorter one does; `sweep.json` records per line which formats were
  trained, which inferred, and any trained format that contradicts the assumption (the line
  then falls back to the walk below its shortest success) (`line_searches`).
- `sample_sweep(...)` (`arlearn sweep samples`): exact match vs training-set size for the given
  CoT formats (learning curves), e.g. for circuits or Turing machines. With `until_target` the
  sizes run smallest first and a line (variant, model, CoT) stops at the first size whose mean
  exact match reaches 1 − ε: the fewest examples needed, without training the larger sizes.

The *measured length complexity* of a model class is the shortest CoT (in tokens) whose mean
exact match over seeds reaches 1 − ε at the base training-set size, or "not reached".
"""

from __future__ import annotations

import copy
import itertools
import json
import shutil
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Callable, Sequence

from arlearn.config import RunConfig, from_dict, switch_model
from arlearn.errors import ArlearnError, Interrupted, TrainingStopped
from arlearn.evaluation.scores import examples_needed, too_small_line
from arlearn.experiments.complexity import (
    BISECT,
    SEARCHES,
    WALK,
    aggregate,
    length_complexity,
    line_key,
    reached,
    rung_search,
    sample_complexity,
    sample_focus,
    size_complexity,
)
from arlearn.experiments.executors import check_executor, run_cells
from arlearn.fileio import make_dir, write_json
from arlearn.rundir import RESULTS, finished_steps, same_run_config
from arlearn.training.checkpoint import list_checkpoints

#: the files of a sweep directory: each cell's summary (in its run directory), the report data
#: (this module), the table and the plots (`arlearn.reporting.sweep.write_outputs`)
CELL = "cell.json"
#: what results.json says about a periodic check's target (train.target_exact_match), copied into a
#: cell's summary: the step and training seconds it stopped at on target (None: it did not)
TARGET_KEYS = ("steps_to_target", "seconds_to_target")
SWEEP, TABLE, LENGTH_PNG, SAMPLES_PNG = "sweep.json", "table.md", "length.png", "samples.png"
#: a sweep over circuits: the samples-needed table alone, and its log–log plot
SIZES_MD, SIZES_PNG = "sizes.md", "sizes.png"

#: `cots = [LADDER]`: the CoT formats are each variant's task's dial (`Task.cot_ladder()`)
LADDER = "ladder"

#: called with the sweep directory and the report data after every finished cell and at the
#: end; returns the names of the plot files it wrote (they go into report["plots"])
OnUpdate = Callable[[Path, dict], list]


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


def circuit_variant(source: str) -> tuple[str, dict]:
    """(label, overrides) of one entry of a sweep's `circuits`: a .bench file (label: the file's
    stem; task.file) or a generator name (task.generator; `py:MODULE:FUNCTION` included)."""
    if source.endswith(".bench") or Path(source).is_file():
        return Path(source).stem, {"task": {"file": source, "generator": "", "sha256": ""}}
    return source, {"task": {"generator": source, "file": "", "sha256": ""}}


def axis_variants(axes: dict[str, Sequence]) -> dict[str, dict]:
    """Variants (`SweepSpec.variants`) for every combination of config values, e.g.
    {"task.n": [8, 16]} → {"n=8": {"task": {"n": 8}}, "n=16": {"task": {"n": 16}}}; keys are
    "section.key" of any section but the grid's own axes (model.name, task.cot, train.seed,
    train.train_examples). A *linked* axis moves several keys together: its key joins them with
    "+" and each of its values is a tuple, one value per key, e.g. {"task.n+task.steps": [(15, 16),
    (31, 32)]} → "n=15,steps=16" and "n=31,steps=32" (not the four combinations)."""
    own = {"model.name": "models", "task.cot": "cots", "train.seed": "seeds", "train.train_examples": "sizes"}
    seen: set[str] = set()
    for key, values in axes.items():
        parts = key.split("+")
        for part in parts:
            sec, dot, name = part.partition(".")
            if not dot or not name or sec not in ("task", "model", "train", "eval"):
                raise ArlearnError(f"sweep axis {key!r}: name a config key, section.key (e.g. task.n)")
            if part in own:
                raise ArlearnError(f"sweep axis {part!r} is already an axis of the grid (its {own[part]})")
            if part in seen:
                raise ArlearnError(f"sweep axis {part!r} is given twice")
            seen.add(part)
        if not values or len(set(map(repr, values))) != len(values):
            raise ArlearnError(f"sweep axis {key!r}: give distinct values, got {list(values)}")
        if len(parts) > 1 and any(not isinstance(v, (tuple, list)) or len(v) != len(parts) for v in values):
            raise ArlearnError(f"sweep axis {key!r} links {len(parts)} keys: give each value as {len(parts)} "
                               f"values joined by '+', got {list(values)}")
    out: dict[str, dict] = {}
    if not axes:
        return out
    for combo in itertools.product(*axes.values()):
        pairs = [(k, v) for key, value in zip(axes, combo)
                 for k, v in (zip(key.split("+"), value) if "+" in key else [(key, value)])]
        label = ",".join(f"{k.partition('.')[2]}={v}" for k, v in pairs)
        over: dict[str, dict] = {}
        for k, v in pairs:
            sec, _, name = k.partition(".")
            over.setdefault(sec, {})[name] = v
        out[label] = over
    return out


@dataclass
class SweepSpec:
    """The grid. `base` is the shared config; each cell overrides model, cot, size and seed.
    `models` entries are model classes (every CoT of `cots`) or `model:cot` (that CoT only);
    `cots = [LADDER]` takes each variant's task's CoT dial (`ladder`)."""

    base: RunConfig
    models: Sequence[str]
    cots: Sequence[str]
    seeds: Sequence[int] = (0,)
    train_examples: Sequence[int] = ()  #: empty: the base config's train.train_examples
    #: named extra overrides {"label": {"task": {...}, "model": {...}, ...}} (empty: none)
    variants: dict[str, dict] = field(default_factory=dict)
    epsilon: float = 0.01
    #: circuit generator names or .bench files: one variant per circuit (`circuit_variant`), named
    #: by it (a file by its stem) (the base task must be `circuit`; not together with `variants`)
    circuits: Sequence[str] = ()
    #: samples sweeps: sizes smallest first; a line stops at the first size reaching 1 − ε;
    #: length sweeps: CoT formats shortest first; a line stops at the first reaching 1 − ε
    until_target: bool = False
    #: length sweeps with `until_target`: how each line searches its CoT formats (`SEARCHES`):
    #: "walk" trains them shortest first up to the first success; "bisect" bisects, assuming a
    #: longer CoT succeeds when a shorter one does (`rung_search`)
    search: str = WALK

    def __post_init__(self):
        if not self.models or not self.cots or not self.seeds:
            raise ArlearnError("empty sweep: give at least one model, one CoT format and one seed")
        if not 0 <= self.epsilon < 1:
            raise ArlearnError(f"epsilon must be in [0, 1), got {self.epsilon}")
        sizes = self.sizes
        if any(s < 1 for s in sizes):
            raise ArlearnError(f"training-set sizes must be ≥ 1, got {sorted(sizes)}")
        for key, values in (("models", self.models), ("cots", self.cots), ("seeds", self.seeds),
                            ("circuits", self.circuits)):
            if len(set(values)) != len(values):
                raise ArlearnError(f"sweep {key} has duplicates: {list(values)}")
        if LADDER in self.cots and len(self.cots) > 1:
            raise ArlearnError(f"sweep cots: {LADDER!r} (the task's CoT dial) stands alone, got {list(self.cots)}")
        bad = [m for m in self.models if ":" in m and not all(m.split(":"))]
        if bad or any(m.count(":") > 1 for m in self.models):
            raise ArlearnError(f"sweep models: {bad or list(self.models)} — write a model class or model:cot")
        if self.circuits:
            if self.variants:
                raise ArlearnError("a sweep takes circuits or variants, not both")
            if self.base.task_name != "circuit":
                raise ArlearnError(f"a sweep over circuits needs the circuit task (task.name=circuit), "
                                   f"not {self.base.task_name!r}")
            self.variants = dict(circuit_variant(c) for c in self.circuits)
            if len(self.variants) != len(self.circuits):
                raise ArlearnError(f"sweep circuits: two entries share a name: {list(self.circuits)}")
        if self.search not in SEARCHES:
            raise ArlearnError(f"sweep search {self.search!r}: choose one of {', '.join(SEARCHES)}")
        if self.search == BISECT and not self.until_target:
            raise ArlearnError("search bisect needs until_target (--until-target): without it every CoT format "
                               "is trained")
        tc = self.base.train
        if tc.steps <= tc.warmup:
            raise ArlearnError(
                f"budget too small to train: train.steps={tc.steps} must exceed train.warmup={tc.warmup}"
            )

    @property
    def lines(self) -> list[tuple[str, str]]:
        """The (model, CoT) pairs of the grid, in order: every CoT for a plain model class, the one
        named for `model:cot` (with `cots = [LADDER]`: the base task's dial; `lines_for` gives a
        variant's)."""
        return self.lines_for("")

    def lines_for(self, variant: str) -> list[tuple[str, str]]:
        """`lines` of one variant: its task's dial's formats when `cots = [LADDER]`."""
        cots = [r.cot for r in self.ladder(variant)] if list(self.cots) == [LADDER] else list(self.cots)
        out: list[tuple[str, str]] = []
        for m in self.models:
            name, sep, cot = m.partition(":")
            out += [(name, c) for c in ([cot] if sep else cots) if (name, c) not in out]
        return out

    def ladder(self, variant: str = "") -> list:
        """The CoT dial (`Task.cot_ladder()`, shortest first) of a variant's task."""
        if variant not in self._ladders:
            from arlearn.tasks import Task, make_task

            d = copy.deepcopy(self.base.to_dict())
            for sec, over in self.variants.get(variant, {}).items():
                d.setdefault(sec, {}).update(over)
            cfg = from_dict(d)
            task = make_task(cfg.task_name, cfg.task_options)
            if not isinstance(task, Task):
                raise ArlearnError(f"task {cfg.task_name!r} has no CoT dial (a token stream)")
            self._ladders[variant] = task.cot_ladder()
        return self._ladders[variant]

    @cached_property
    def _ladders(self) -> dict:
        return {}

    @cached_property
    def _orders(self) -> dict:  #: `cot_order` per variant
        return {}

    @cached_property
    def task_sizes(self) -> dict[str, dict]:
        """Per variant ("" without variants) whose task has sizes: the task's size measures
        (`Task.size()`, e.g. a circuit's name, inputs, outputs, gates, threshold gates and depth)
        and its context T per CoT format of the grid ("T": {cot: T}). A task without sizes (the
        default, e.g. a plug-in's) adds nothing."""
        from arlearn.tasks import make_task

        out: dict[str, dict] = {}
        for v in list(self.variants) or [""]:
            for model, cot in self.lines_for(v):
                cfg = self.config_for(Cell(model, cot, self.main_size, self.seeds[0], v))
                task = make_task(cfg.task_name, cfg.task_options)
                if v not in out:
                    size = task.size()
                    if not size:
                        break
                    out[v] = {**size, "T": {}}
                out[v]["T"][cot] = task.seq_len - 1
        return out

    @property
    def circuit_sizes(self) -> dict[str, dict]:
        """`task_sizes` of a sweep over `circuits` (what `size_complexity` sets against threshold
        gates); empty for other sweeps."""
        return self.task_sizes if self.circuits else {}

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
        from arlearn.tasks import task_class

        d = copy.deepcopy(self.base.to_dict())
        for sec, over in self.variants.get(cell.variant, {}).items():
            d.setdefault(sec, {}).update(over)
        d["model"] = switch_model(d["model"], cell.model)  # a plug-in class keeps only its own options
        d["task"].update(task_class(d["task"]["name"]).cot_options(cell.cot))  # the task says how
        d["train"]["seed"] = cell.seed
        d["train"]["train_examples"] = cell.train_examples
        return from_dict(d)

    def to_dict(self) -> dict:
        return {"base": self.base.to_dict(), "models": list(self.models), "cots": list(self.cots),
                "seeds": list(self.seeds), "train_examples": self.sizes, "variants": self.variants,
                "epsilon": self.epsilon, "circuits": list(self.circuits), "until_target": self.until_target,
                "search": self.search}


def check_cells(spec: SweepSpec) -> None:
    """Validate every (variant, model, cot) config and task up front (without allocating the
    models), so a bad CoT name or option fails before any training."""
    from arlearn.models import context_for
    from arlearn.tasks import make_task

    variants = list(spec.variants) or [""]
    for v, (model, cot) in ((v, line) for v in variants for line in spec.lines_for(v)):
        cfg = spec.config_for(Cell(model, cot, spec.main_size, spec.seeds[0], v))
        context_for(cfg.model, make_task(cfg.task_name, cfg.task_options).seq_len)


def warn_if_too_small(spec: SweepSpec, log: Callable[[str], None]) -> None:
    """Say in one line, before training, when eval.examples is too few for any cell to show
    1 − ε (the cells are still trained and scored; their verdicts then read "too small")."""
    asked = spec.base.eval.examples
    if asked < examples_needed(1 - spec.epsilon):
        log(f"warning: {too_small_line(asked, spec.epsilon)}")


def finished_cell(out: Path, cell: Cell) -> dict | None:
    """A finished cell's summary (its cell.json), or None when it has yet to be trained."""
    done = out / "cells" / cell.id / CELL
    if done.is_file():
        try:
            row = json.loads(done.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            return None  # cannot happen with atomic writes, but retrain rather than fail
        return row if "steps_to_target" in row else _with_target(row, done.parent / "results.json")
    return None


def _with_target(row: dict, results: Path) -> dict:
    """A cell summary written before it carried TARGET_KEYS, with them read from its results.json
    (unchanged where that has none: a run without a target)."""
    try:
        res = json.loads(results.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return row
    return {**row, **{k: res[k] for k in TARGET_KEYS if k in res}}


def _clear(cell_dir: Path) -> None:
    """Delete an unfinished cell's directory whole, so it is trained again in an empty one.
    (`claim_run_dir(overwrite=True)` deletes only the run's own files; a worker killed mid-write
    leaves others too — an atomic write's `.results.json.<hex>.tmp`, `.cell.json.<hex>.tmp`, a
    tensorboard/ — and the fresh run would refuse the directory as not empty.)"""
    try:
        shutil.rmtree(cell_dir)
    except OSError as e:
        raise ArlearnError(f"cannot delete the unfinished cell {cell_dir} to train it again: "
                           f"{e.strerror or e}") from None


def run_cell(spec: SweepSpec, cell: Cell, out: Path, progress: bool = False) -> dict:
    """Train one cell (or read its finished result) and return its summary. What a worker
    process of an executor calls; it writes only the cell's own directory."""
    from arlearn.training import trainer  # looked up at call time (tests replace trainer.train)

    cell_dir = out / "cells" / cell.id
    done = cell_dir / CELL
    row = finished_cell(out, cell)
    if row is not None:
        return row
    cfg = spec.config_for(cell)
    own = same_run_config(cell_dir, cfg, ignore=BOOKKEEPING_KEYS) if cell_dir.is_dir() else None
    if own is not None and finished_steps(cell_dir):  # 0: results.json unreadable (trained again)
        res = json.loads((cell_dir / RESULTS).read_text(encoding="utf-8"))  # trained, summary not yet written
    else:
        resume = own is not None and bool(list_checkpoints(cell_dir))
        if cell_dir.is_dir() and not resume:  # an unfinished cell without a checkpoint (or another run's)
            _clear(cell_dir)
        try:  # resume: from its newest checkpoint, bit-exact, as `arlearn train --resume` does
            res = (trainer.train(own, cell_dir, progress=progress, resume=True) if resume
                   else trainer.train(cfg, cell_dir, progress=progress))
        except TrainingStopped as e:
            raise Interrupted(f"{e}; rerun the same sweep to continue it") from None
    row = {"id": cell.id, "variant": cell.variant, "model": cell.model, "cot": cell.cot,
           "train_examples": cell.train_examples, "seed": cell.seed,
           **{k: res[k] for k in ("exact_match", "token_accuracy", "cot_length", "parameters", "steps",
                                  "stopped_by", "train_seconds", "n")},
           **{k: res[k] for k in ("sequence_exact_match", "correct", "chance", "score", *TARGET_KEYS)
              if k in res}}
    write_json(done, row)
    return row


# -- the engine ------------------------------------------------------------------------------
#: train keys that change what a run writes to disk or logs, not what it learns: a sweep resumed
#: with other values (e.g. checkpoints off, to save disk) is the same sweep
BOOKKEEPING = ("checkpoint_every", "checkpoint_minutes", "keep_checkpoints", "log_every", "logger")
BOOKKEEPING_KEYS = frozenset(("train", k) for k in BOOKKEEPING)  #: as (section, key) pairs


def _identity(base: dict) -> dict:
    """A base config as a dict, less the bookkeeping keys (`BOOKKEEPING`)."""
    return {**base, "train": {k: v for k, v in base.get("train", {}).items() if k not in BOOKKEEPING}}


def _check_dir(spec: SweepSpec, out: Path, kind: str) -> None:
    prev = out / SWEEP
    if not prev.is_file():
        return
    try:
        old = json.loads(prev.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return
    try:  # compare through from_dict so config fields added since then take their defaults
        same_base = (_identity(from_dict(old.get("spec", {}).get("base", {})).to_dict())
                     == _identity(spec.base.to_dict()))
    except ArlearnError:
        same_base = False
    if old.get("kind") != kind or not same_base:
        raise ArlearnError(
            f"{out} holds a different sweep (other kind or base config); choose another output "
            "directory or delete it"
        )


def _task_label(spec: SweepSpec) -> str:
    from arlearn.tasks import make_task

    circuit_keys = ("generator", "file", "sha256") if spec.circuits else ("generator",)
    opts = {k: v for k, v in spec.base.task_options.items() if k != "cot" and k not in circuit_keys}
    if spec.circuits:  # every circuit is validated by `check_cells`
        opts["circuits"] = ",".join(spec.circuits)
    else:
        opts.update({k: v for k, v in spec.base.task_options.items() if k == "generator"})
        make_task(spec.base.task_name, spec.base.task_options)  # validates
    return spec.base.task_name + (" " + " ".join(f"{k}={v}" for k, v in opts.items()) if opts else "")


def sweep_report(spec: SweepSpec, kind: str, rows: list[dict], total: int) -> dict:
    """The data of `sweep.json`: spec, budget, cells, groups and measured complexities."""
    groups = aggregate(rows)
    length = kind == "length"
    return {
        "kind": kind,
        "task": _task_label(spec),
        "spec": spec.to_dict(),
        "budget": spec.budget(),
        "main_size": spec.main_size,
        "cells_done": len(rows),
        "cells_total": total,
        "cells": rows,
        "groups": groups,
        "length_complexity": length_complexity(groups, spec.main_size, spec.epsilon) if length else {},
        "sample_complexity": sample_complexity(groups, spec.epsilon),
        "sample_focus": sample_focus(groups, spec.main_size, spec.epsilon) if length else {},
        "circuits": spec.circuit_sizes,
        "task_sizes": spec.task_sizes,
        "ladders": ({v: [r.as_dict() for r in spec.ladder(v)] for v in (list(spec.variants) or [""])}
                    if list(spec.cots) == [LADDER] else {}),
        "size_complexity": size_complexity(groups, spec.circuit_sizes, spec.epsilon),
        "search": line_searches(spec, rows) if length and spec.until_target else {},
        "plots": [],
    }


def _publish(spec: SweepSpec, out: Path, kind: str, rows: list[dict], total: int,
             on_update: OnUpdate | None) -> dict:
    """Write `sweep.json`; then let `on_update` write its outputs and record their plots."""
    report = sweep_report(spec, kind, rows, total)
    write_json(out / SWEEP, report)
    if on_update is not None:
        report["plots"] = list(on_update(out, report))
        write_json(out / SWEEP, report)
    return report


def _run_cells(spec: SweepSpec, cells: list[Cell], out: Path, kind: str, rows: dict, total: int,
               progress: bool, log: Callable[[str], None], on_update: OnUpdate | None,
               executor: str = "serial", ray_address: str | None = None) -> None:
    """Train the unfinished `cells` on `executor` (`arlearn.experiments.executors`); finished
    ones are read back here. `rows` gains every cell's row, in cell order; each fresh one is
    logged and published (sweep.json rewritten) as it arrives."""
    before = dict(rows)  # the rows of earlier calls (a length sweep's main grid) come first
    got: dict[int, dict] = {}
    todo = []
    for i, cell in enumerate(cells):
        row = finished_cell(out, cell)
        if row is None:
            todo.append(i)
        else:
            got[i] = row

    def collect() -> None:
        rows.clear()
        rows.update(before)
        rows.update({cells[i].id: got[i] for i in sorted(got)})

    def arrived(j: int, row: dict) -> None:
        got[todo[j]] = row
        collect()
        log(f"{row['id']}: exact match {row['exact_match']:.4f} (CoT length {row['cot_length']}, "
            f"{row['train_seconds']:.0f} s)")
        _publish(spec, out, kind, list(rows.values()), total, on_update)

    collect()
    configs = [spec.config_for(cells[i]) for i in todo]
    # `run_cell` is looked up here, at call time (tests replace it)
    run_cells(run_cell, [(spec, cells[i], out) for i in todo], executor=executor,
              threads=max((c.train.threads for c in configs), default=0),
              device=configs[0].train.device if configs else "cpu", ray_address=ray_address,
              progress=progress, desc=f"sweep {kind}", labels=[cells[i].id for i in todo], on_result=arrived)


def _grid(spec: SweepSpec, sizes) -> list[Cell]:
    """Every (variant, line, size, seed) cell, each variant with its own lines (`lines_for`)."""
    variants = list(spec.variants) or [""]
    return [Cell(m, c, n, s, v) for v in variants for (m, c), n, s in
            itertools.product(spec.lines_for(v), sizes, spec.seeds)]


def length_sweep(spec: SweepSpec, out: str | Path, progress: bool = True,
                 log: Callable[[str], None] = lambda s: None, on_update: OnUpdate | None = None,
                 executor: str = "serial", ray_address: str | None = None) -> dict:
    """Every (model, CoT, seed) at the largest size — with `spec.until_target`, each (variant,
    model) line searching its CoTs (shortest first, or by bisection: `spec.search`) for the
    first that reaches 1 − ε; then
    each model's shortest successful CoT at the other sizes. Returns the report data (also
    written to `out`/sweep.json)."""
    out = Path(out)
    check_executor(executor)
    if any(":" in m for m in spec.models):
        raise ArlearnError("a length sweep trains every model with every CoT: model:cot entries are for "
                           "samples sweeps")
    _check_dir(spec, out, "length")
    check_cells(spec)
    make_dir(out)
    warn_if_too_small(spec, log)
    rows: dict[str, dict] = {}
    main = _grid(spec, [spec.main_size])
    smaller = [n for n in spec.sizes if n != spec.main_size]
    total = len(main)
    if spec.until_target:
        total = _search(spec, main, out, rows, progress, log, on_update, executor, ray_address)
    else:
        _run_cells(spec, main, out, "length", rows, total, progress, log, on_update, executor, ray_address)
    if smaller:
        focus = sample_focus(aggregate(list(rows.values())), spec.main_size, spec.epsilon)
        extra = []
        for v in list(spec.variants) or [""]:
            for model in spec.models:
                cot = focus[f"{v}/{model}" if v else model]["cot"]
                extra += [Cell(model, cot, n, s, v) for n in smaller for s in spec.seeds]
        total += len(extra)
        _run_cells(spec, extra, out, "length", rows, total, progress, log, on_update, executor, ray_address)
    return _publish(spec, out, "length", list(rows.values()), total, on_update)


def cot_order(spec: SweepSpec, variant: str = "") -> list[str]:
    """A variant's CoT formats shortest first: its ladder's order (`cots = [LADDER]`), or the
    formats named, by the sequence length of the task with each (ties by name)."""
    from arlearn.tasks import make_task

    if variant in spec._orders:
        return list(spec._orders[variant])
    if list(spec.cots) == [LADDER]:
        order = [r.cot for r in spec.ladder(variant)]
    else:
        length: dict[str, int] = {}
        for model, cot in spec.lines_for(variant):
            if cot not in length:
                cfg = spec.config_for(Cell(model, cot, spec.main_size, spec.seeds[0], variant))
                length[cot] = make_task(cfg.task_name, cfg.task_options).seq_len
        order = sorted(length, key=lambda c: (length[c], c))
    spec._orders[variant] = order
    return list(order)


def line_searches(spec: SweepSpec, rows: Sequence[dict]) -> dict[str, dict]:
    """Per (variant/)model line of a length sweep with `until_target`: its search along its CoT
    formats shortest first (`cot_order`) at the largest size, by `spec.search` (`rung_search`)
    over the formats whose every seed is trained — the formats, those trained and those of them
    that reached 1 − ε, the untrained ones the search inferred (format → reached), the
    contradictions to monotonicity ([shorter format that reached, longer that did not]), the
    format to train next (None: decided) and the shortest that reached (None: none, or undecided)."""
    groups = {(g["variant"], g["model"], g["cot"]): g
              for g in aggregate([r for r in rows if r["train_examples"] == spec.main_size])}
    out: dict[str, dict] = {}
    for v in list(spec.variants) or [""]:
        order = cot_order(spec, v)
        for model in spec.models:
            gs = [groups.get((v, model, c)) for c in order]
            known = [None if g is None or g["seeds"] < len(spec.seeds) else reached(g, spec.epsilon) for g in gs]
            st = rung_search(known, spec.search)
            out[f"{v}/{model}" if v else model] = {
                "variant": v, "model": model, "search": spec.search, "formats": order,
                "trained": [c for c, k in zip(order, known) if k is not None],
                "reached": [c for c, k in zip(order, known) if k],
                "inferred": {order[i]: ok for i, ok in sorted(st["inferred"].items())},
                "contradictions": [[order[i], order[j]] for i, j in st["contradictions"]],
                "next": None if st["next"] is None else order[st["next"]],
                "cot": None if st["shortest"] is None else order[st["shortest"]]}
    return out


def _search(spec: SweepSpec, cells: list[Cell], out: Path, rows: dict, progress, log, on_update,
            executor, ray_address) -> int:
    """A length sweep's main grid with `until_target`: each (variant, model) line searches its CoT
    formats (`line_searches`: walk or bisect). Every finished cell of the grid is read first (a
    rerun, or an earlier sweep into this directory, trains nothing it holds); then each round
    trains, side by side on the executor, the next format of every line still open. Returns the
    grid's cells trained or still possibly needed (the open lines' untrained cells)."""
    key = lambda c: f"{c.variant}/{c.model}" if c.variant else c.model  # noqa: E731
    _run_cells(spec, [c for c in cells if finished_cell(out, c) is not None], out, "length", rows, len(cells),
               False, log, None, "serial")
    seen: set[tuple] = set()
    while True:
        state = line_searches(spec, list(rows.values()))
        for line, st in state.items():
            for shorter, longer in st["contradictions"]:
                if (line, shorter, longer) not in seen:
                    seen.add((line, shorter, longer))
                    log(f"warning: {line}: `{longer}` did not reach 1 − ε although the shorter `{shorter}` did "
                        f"(not monotone); {spec.search}: the formats below the shortest that reached are walked")
        total = sum(1 for c in cells if c.id in rows or state[key(c)]["next"] is not None)
        todo = [c for c in cells if state[key(c)]["next"] == c.cot]
        if not todo:
            return total
        if all(c.id in rows for c in todo):  # cannot happen: the next format always has an untrained seed
            raise RuntimeError(f"sweep search made no progress at {[c.id for c in todo]}")
        _run_cells(spec, todo, out, "length", rows, total, progress, log, on_update, executor, ray_address)


def sample_sweep(spec: SweepSpec, out: str | Path, progress: bool = True,
                 log: Callable[[str], None] = lambda s: None, on_update: OnUpdate | None = None,
                 executor: str = "serial", ray_address: str | None = None) -> dict:
    """Exact match vs number of training examples: every (variant, model, CoT, size, seed) cell —
    or, with `spec.until_target`, sizes smallest first, each line stopping at the first size
    whose mean exact match over seeds reaches 1 − ε. Returns the report data (also written to
    `out`/sweep.json)."""
    out = Path(out)
    check_executor(executor)
    if spec.search != WALK:
        raise ArlearnError(f"search {spec.search} is for length sweeps (along the CoT formats); a samples "
                           "sweep with --until-target walks its sizes smallest first")
    _check_dir(spec, out, "samples")
    check_cells(spec)
    make_dir(out)
    warn_if_too_small(spec, log)
    rows: dict[str, dict] = {}
    cells = _grid(spec, spec.sizes)
    if not spec.until_target:
        _run_cells(spec, cells, out, "samples", rows, len(cells), progress, log, on_update, executor, ray_address)
        return _publish(spec, out, "samples", list(rows.values()), len(cells), on_update)
    total, done = len(cells), set()  # done: lines (variant/model, cot) that reached the target
    line = lambda c: (f"{c.variant}/{c.model}" if c.variant else c.model, c.cot)  # noqa: E731
    for i, size in enumerate(spec.sizes):
        todo = [c for c in cells if c.train_examples == size and line(c) not in done]
        _run_cells(spec, todo, out, "samples", rows, total, progress, log, on_update, executor, ray_address)
        for g in aggregate([r for r in rows.values() if r["train_examples"] == size]):
            key = (line_key(g), g["cot"])
            if key not in done and reached(g, spec.epsilon):
                done.add(key)
                total -= len(spec.seeds) * (len(spec.sizes) - i - 1)  # its larger sizes are not needed
    return _publish(spec, out, "samples", list(rows.values()), total, on_update)
