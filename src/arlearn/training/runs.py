"""Run directories: everything a run leaves behind, written atomically, and the one loader
(`load_run`) every command uses to read a run back.

    config.toml          the fully resolved configuration (re-loadable with --config)
    metrics.jsonl        one JSON object per logged step / eval
    model.safetensors    the weights (safetensors only: nothing is ever unpickled)
    results.json         the final evaluation summary
    eval_examples.jsonl  per-example generations of the final evaluation
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from arlearn.config import RunConfig, dumps_toml, from_dict, load_toml
from arlearn.errors import ArlearnError
from arlearn.fileio import load_safetensors, save_safetensors, write_json, write_text
from arlearn.models import context_for, make_model
from arlearn.models.base import ARModel
from arlearn.tasks import Task, make_task

CONFIG, MODEL, RESULTS, METRICS, EXAMPLES = (
    "config.toml", "model.safetensors", "results.json", "metrics.jsonl", "eval_examples.jsonl"
)
PACKED = "compiled.safetensors"  #: a compiled run's packed non-zeros (arlearn.compile)


def _files_inside(task: dict, run_dir: Path) -> dict:
    """Task options naming files inside the run directory, rewritten relative to it, so a run
    directory (e.g. a compiled circuit with its copied .bench) can be moved and still loads."""
    out = dict(task)
    for key, value in task.items():
        if isinstance(value, str) and key != "name" and Path(value).is_file():
            try:
                out[key] = Path(value).resolve().relative_to(run_dir.resolve()).as_posix()
            except ValueError:
                pass  # outside the run directory: keep as given
    return out


def _resolve_files(task: dict, run_dir: Path) -> dict:
    """Inverse of `_files_inside`: relative file options found in the run directory."""
    return {k: str(run_dir / v) if isinstance(v, str) and k != "name" and not Path(v).is_absolute()
            and (run_dir / v).is_file() else v for k, v in task.items()}


def prepare_run_dir(run_dir: str | Path, cfg: RunConfig) -> Path:
    """Create the run directory (failing early if it is unwritable) and write config.toml."""
    run_dir = Path(run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        d = cfg.to_dict()
        d["task"] = _files_inside(d["task"], run_dir)
        write_text(run_dir / CONFIG, dumps_toml(d))
    except OSError as e:
        raise ArlearnError(f"cannot write run directory {run_dir}: {e.strerror}") from None
    return run_dir


def build(cfg: RunConfig) -> tuple[Task, ARModel]:
    task = make_task(cfg.task_name, cfg.task_options)
    model = make_model(cfg.model, len(task.vocab), context_for(cfg.model, task.seq_len))
    return task, model


def save_model(run_dir: Path, model: ARModel) -> None:
    state = {k: v for k, v in model.state_dict().items()}
    save_safetensors(run_dir / MODEL, state, metadata={"format": "arlearn-model-v1"})


def load_model_state(model: ARModel, path: Path) -> None:
    state = load_safetensors(path)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    if missing or extra:
        raise ArlearnError(
            f"checkpoint {path} does not match the config's model "
            f"(missing {missing[:3]}, unexpected {extra[:3]})"
        )
    for k, v in state.items():
        if v.shape != expected[k].shape:
            raise ArlearnError(
                f"checkpoint {path}: '{k}' has shape {tuple(v.shape)}, the config's model needs "
                f"{tuple(expected[k].shape)}"
            )
    model.load_state_dict(state)


def load_run_config(run_dir: str | Path) -> RunConfig:
    """The resolved config a run directory was trained with."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ArlearnError(f"run directory not found: {run_dir}")
    if not (run_dir / CONFIG).is_file():
        raise ArlearnError(f"{run_dir} is not a run directory (no {CONFIG})")
    cfg = from_dict(load_toml(run_dir / CONFIG))
    cfg.task = _resolve_files(cfg.task, run_dir)
    return cfg


def load_run(run_dir: str | Path) -> tuple[RunConfig, Task, ARModel]:
    run_dir = Path(run_dir)
    cfg = load_run_config(run_dir)
    if not (run_dir / MODEL).exists() and (run_dir / PACKED).exists():
        raise ArlearnError(f"{run_dir} is a compiled run written without its dense {MODEL} (over "
                           "--max-dense-mb): check it with `arlearn verify`, or recompile with a larger "
                           "--max-dense-mb to evaluate or generate from it")
    task, model = build(cfg)
    load_model_state(model, run_dir / MODEL)
    return cfg, task, model


def write_results(run_dir: Path, results: dict, records: list[dict] | None = None) -> None:
    write_json(run_dir / RESULTS, results)
    if records is not None:
        write_text(run_dir / EXAMPLES, "".join(json.dumps(r) + "\n" for r in records))


class MetricsLog:
    """Append-only JSONL log (a crash can cut only the last line, which readers skip)."""

    def __init__(self, path: Path, fresh: bool = True):
        self.path = path
        if fresh and path.exists():
            os.unlink(path)

    def write(self, **row) -> None:
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")

    def truncate_after(self, step: int) -> None:
        """Drop rows logged after `step` (a resumed run logs them again) and any cut last line."""
        keep = [r for r in read_metrics(self.path) if isinstance(r, dict) and r.get("step", 0) <= step]
        write_text(self.path, "".join(json.dumps(r) + "\n" for r in keep))


def read_metrics(path: Path) -> list[dict]:
    rows = []
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows

