"""The best weights by the periodic held-out check, and stopping once the checks stop improving.

Turned on by `train.keep_best` or `train.early_stop_patience` > 0 (both need `train.eval_every`;
a sequence task's periodic checks then use all `eval.examples`, not a quarter, as they choose).
Each periodic check's row is scored by one number: the validation loss (`val_loss`, lower is
better) when the evaluator gives one — text — else held-out exact match (`eval_exact_match`,
higher is better). A check improves on the best when it beats it by more than
`train.early_stop_min_delta`; the weights of every improving check are written (atomically) to

    <run_dir>/checkpoints/best-<step>.safetensors

and `early_stop_patience` consecutive checks without improvement end the run. At the end the run's
model.safetensors holds the best weights (the final weights are checked too), and results.json
records `best_step`, `best_epoch` and the best check's values (`best_val_loss`, ...).

The tracker's state (best step and value, checks without improvement) is part of every resumable
checkpoint, so a resumed run continues it exactly. Best-weight files are kept while the tracker or a
kept checkpoint refers to them (`prune`), so resuming from an older checkpoint still finds its best.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from arlearn.errors import ArlearnError
from arlearn.fileio import save_safetensors
from arlearn.training import checkpoint
from arlearn.rundir import load_model_state

#: the row keys that score a check, in order of preference, and whether higher is better
SCORES = (("val_loss", False), ("eval_exact_match", True))


def score_key(row: dict) -> tuple[str, bool]:
    """(key, higher is better) of the number that scores a periodic check's row."""
    for key, higher in SCORES:
        if key in row:
            return key, higher
    raise ArlearnError(f"a held-out check gave none of {', '.join(k for k, _ in SCORES)} to keep the best by")


def best_path(run_dir: str | Path, step: int) -> Path:
    return checkpoint.checkpoint_root(run_dir) / f"best-{step:08d}.safetensors"


@dataclass
class BestState:
    """What a checkpoint stores of the tracker (JSON)."""

    step: int = -1  #: step of the best check so far (-1: none yet)
    epoch: float = 0.0
    row: dict = field(default_factory=dict)  #: the best check's row
    bad: int = 0  #: consecutive checks without improvement
    checked: int = -1  #: step of the latest check


class BestKeeper:
    """Tracks the best check of a run and writes its weights (only `write`: rank 0 writes)."""

    def __init__(self, run_dir: Path, train_cfg, train_size: int, write: bool = True):
        """`train_cfg`: the TrainConfig (patience, min_delta, batch_size); `train_size`: the training
        examples or windows of one epoch (so epoch = step·batch_size / train_size)."""
        self.run_dir, self.write = Path(run_dir), write
        self.patience, self.min_delta = train_cfg.early_stop_patience, train_cfg.early_stop_min_delta
        self.per_step = train_cfg.batch_size / max(train_size, 1)
        self.state = BestState()

    def improves(self, row: dict) -> bool:
        if self.state.step < 0:
            return True
        key, higher = score_key(row)
        new, old = row[key], self.state.row[key]
        return new > old + self.min_delta if higher else new < old - self.min_delta

    def observe(self, step: int, row: dict, model) -> bool:
        """Score the check of `step` (writing the weights when it improves on the best); True when
        it is the `patience`-th check in a row without improvement (early stopping)."""
        score_key(row)  # a row that cannot be scored is an error, not a silent non-improvement
        if self.improves(row):
            if self.write:
                save_safetensors(best_path(self.run_dir, step), model.state_dict(),
                                 metadata={"format": "arlearn-model-v1", "step": str(step)})
            self.state = BestState(step, round(step * self.per_step, 3), dict(row), 0, step)
        else:
            self.state.bad += 1
            self.state.checked = step
        return bool(self.patience) and self.state.bad >= self.patience

    def to_json(self) -> dict:
        return asdict(self.state)

    def load_json(self, d: dict | None) -> None:
        self.state = BestState(**d) if isinstance(d, dict) else BestState()

    def restore(self, model, step: int) -> None:
        """Load the best weights into `model` (a no-op when the best is the current step)."""
        if self.state.step < 0 or self.state.step == step:
            return
        path = best_path(self.run_dir, self.state.step)
        if not path.is_file():
            raise ArlearnError(f"the best weights of step {self.state.step} are missing ({path})")
        load_model_state(model, path)

    def summary(self) -> dict:
        """results.json's record of the best check: best_step, best_epoch, best_<row key>..."""
        if self.state.step < 0:
            return {}
        return {"best_step": self.state.step, "best_epoch": self.state.epoch,
                **{f"best_{k}": v for k, v in self.state.row.items()}}

    def prune(self) -> None:
        """Delete best-weight files that neither the tracker nor a kept checkpoint refers to."""
        if not self.write:
            return
        keep = {self.state.step}
        for _, path in checkpoint.list_checkpoints(self.run_dir):
            try:
                keep.add(int(json.loads((path / checkpoint.STATE).read_text(encoding="utf-8"))["best"]["step"]))
            except (OSError, ValueError, KeyError, TypeError):
                continue  # a damaged checkpoint (resume skips it) or one without a tracker
        root = checkpoint.checkpoint_root(self.run_dir)
        for path in root.glob("best-*.safetensors") if root.is_dir() else []:
            stem = path.name[len("best-"): -len(".safetensors")]
            if stem.isdigit() and int(stem) not in keep:
                path.unlink(missing_ok=True)
