"""Training: the one Trainer (single process = a world of 1; DDP adds only collectives),
resumable checkpoints and run directories."""

from arlearn.training.runs import build, load_run, load_run_config
from arlearn.training.step import lr_at, make_optimizer
from arlearn.training.trainer import Trainer, train

__all__ = ["Trainer", "build", "load_run", "load_run_config", "lr_at", "make_optimizer", "train"]
