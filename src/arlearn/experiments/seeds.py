"""Seeds as an axis: the same config trained once per seed, and the mean ± standard deviation of
its results — what a headline number should be reported as.

Each seed is an ordinary run directory `<out>/seed-<s>`; a seed whose run has results.json is read
back, not retrained, so a killed multi-seed run continues where it stopped — only if that run was
trained with the same config (but its seed): a finished run of another config is a one-line error
naming the first differing key (`--force` retrains it), never silently averaged in; a seed killed
mid-training continues from its newest checkpoint when the command is run again. The CPU
thread count is not part of that identity: like another CPU, it changes only the order of float
sums, so seeds trained with different `train.threads` are read back together. Nor is a
`train.max_minutes` that did not bind: a run that trained all its steps within the limit asked for
now (or with none) is the run this config trains, on a CPU of any speed. `<out>/seeds.json`
(written atomically after every seed) holds every run's results and the summary. The seeds to
train run on an executor (`arlearn.experiments.executors`): serially, side by side on this
machine's cores (`local`), or as Ray tasks.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
from pathlib import Path

from arlearn.config import RunConfig, from_dict, load_toml
from arlearn.errors import ArlearnError
from arlearn.fileio import write_json
from arlearn.rundir import CONFIG, RESULTS, portable_config, same_run_config

SEEDS_FILE = "seeds.json"
#: (section, key) pairs that say how a run was executed, not what was trained
EXECUTION_ONLY = frozenset({("train", "threads")})
#: the results summarised over seeds (those a run has: exact match for sequence tasks, perplexity for text)
SUMMARISED = ("exact_match", "sequence_exact_match", "token_accuracy", "val_loss", "val_perplexity", "test_loss",
              "test_perplexity", "train_seconds")


def summarise(results: list[dict]) -> dict:
    """{metric: {mean, sd, min, max, values}} over the runs (sd: sample standard deviation)."""
    out = {}
    for key in SUMMARISED:
        vals = [r[key] for r in results if isinstance(r.get(key), (int, float))]
        if len(vals) == len(results) and vals:
            out[key] = {"mean": statistics.fmean(vals), "sd": statistics.stdev(vals) if len(vals) > 1 else 0.0,
                        "min": min(vals), "max": max(vals), "values": vals}
    return out


def _time_limit_unbound(results: dict, limit_minutes: float) -> bool:
    """Whether a finished run would have ended the same under `limit_minutes` (0: no limit):
    it stopped at its step count, within that much training time."""
    return results.get("stopped_by") == "steps" and (
        not limit_minutes or results.get("train_seconds", float("inf")) <= 60 * limit_minutes)


def _check_same_config(run_dir: Path, cfg: RunConfig, results: dict) -> None:
    """A finished seed is reused only if it was trained with `cfg` (as config.toml stores it)."""
    stored = from_dict(load_toml(run_dir / CONFIG)).to_dict()
    wanted = from_dict(portable_config(cfg, run_dir)).to_dict()
    for section in wanted:
        for key in sorted(set(stored.get(section, {})) | set(wanted[section])):
            if (section, key) in EXECUTION_ONLY:
                continue
            if (section, key) == ("train", "max_minutes") and _time_limit_unbound(results, cfg.train.max_minutes):
                continue
            old, new = stored.get(section, {}).get(key), wanted[section].get(key)
            if old != new:
                raise ArlearnError(f"{run_dir} is a finished run of another config ({section}.{key} = {old!r}, "
                                   f"this one has {new!r}): use another -o, or --force to retrain it")


def train_one(cfg: RunConfig, run_dir: str, progress: bool, afresh: bool = False) -> dict:
    """One seed's run (what a worker process of an executor calls): continued from its newest
    checkpoint when `run_dir` holds this seed's unfinished run (killed mid-training) and not
    `afresh` (`--force`), else trained afresh into it."""
    from arlearn.training import trainer  # looked up at call time (tests may replace trainer.train)
    from arlearn.training.checkpoint import list_checkpoints

    own = None if afresh or not list_checkpoints(run_dir) else same_run_config(run_dir, cfg, ignore=EXECUTION_ONLY)
    if own is not None:
        return trainer.train(own, run_dir, progress=progress, resume=True)
    return trainer.train(cfg, run_dir, progress=progress, overwrite=True)


def train_seeds(cfg: RunConfig, out, seeds, progress: bool = False, overwrite: bool = False,
                executor: str = "serial", ray_address: str | None = None) -> dict:
    """Train `cfg` once per seed (train.seed = s) into `<out>/seed-<s>`; returns
    {"seeds", "runs": [results…], "summary": summarise(runs)}. The unfinished seeds run on
    `executor` (`arlearn.experiments.executors`: serial, local or ray), side by side but for
    serial; seeds.json is rewritten as each finishes, its runs in seed order."""
    from arlearn.experiments.executors import check_executor, run_cells

    seeds = list(seeds)
    if not seeds or len(set(seeds)) != len(seeds):
        raise ArlearnError(f"seeds must be distinct and at least one, got {seeds}")
    check_executor(executor)
    out = Path(out)
    runs: dict[int, dict] = {}
    todo = []  # (index, config, run directory) of the seeds to train

    def publish() -> dict:
        done = [runs[i] for i in sorted(runs)]
        report = {"seeds": [r["seed"] for r in done], "runs": done, "summary": summarise(done)}
        write_json(out / SEEDS_FILE, report)
        return report

    for i, s in enumerate(seeds):
        run_dir = out / f"seed-{s}"
        done = run_dir / RESULTS
        one = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, seed=s))
        if done.is_file() and not overwrite:
            res = json.loads(done.read_text(encoding="utf-8"))
            _check_same_config(run_dir, one, res)
            runs[i] = {"seed": s, "run_dir": str(run_dir), **res}
        else:
            todo.append((i, one, run_dir))
    report = publish() if runs else {}

    def arrived(j: int, res: dict) -> None:
        nonlocal report
        i, one, run_dir = todo[j]
        runs[i] = {"seed": one.train.seed, "run_dir": str(run_dir), **res}
        report = publish()

    serial = executor == "serial"  # serial: each run's own progress bar; else one bar over the seeds
    run_cells(train_one, [(one, str(run_dir), progress and serial, overwrite) for _, one, run_dir in todo],
              executor=executor, threads=cfg.train.threads, device=cfg.train.device, ray_address=ray_address,
              progress=progress and not serial, desc="seeds", labels=[f"seed {one.train.seed}" for _, one, _ in todo],
              on_result=arrived)
    return report
