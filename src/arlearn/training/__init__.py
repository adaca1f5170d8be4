"""Training: the one Trainer (single process = a world of 1; DDP adds only collectives),
resumable checkpoints, run directories, and the memory check that refuses a run too big to fit."""

from arlearn.training.memory import NotEnoughMemory, check_fits, estimate_training_memory
from arlearn.rundir import build, load_run, load_run_config
from arlearn.training.step import lr_at, make_optimizer
from arlearn.training.trainer import Trainer, train

__all__ = ["NotEnoughMemory", "Trainer", "build", "check_fits", "estimate_training_memory", "load_run", "load_run_config",
           "lr_at", "make_optimizer", "train"]
