"""Optional TensorBoard output (`train.logger = "tensorboard"`): every numeric field of every
metrics.jsonl row, written as a TensorBoard scalar of the same name at the row's step, into
`<run_dir>/tensorboard/` (a list of numbers, e.g. the accuracy per answer position, as one scalar
per entry: `key/0`, `key/1`, …). metrics.jsonl is always written as well; this is a second view of it.

Needs the `tensorboard` package (`pip install 'arlearn[tensorboard]'`), imported only when used.
On resume, events after the resumed step are purged, as rows of metrics.jsonl are.
"""

from __future__ import annotations

from pathlib import Path

from arlearn.errors import ArlearnError

DIRNAME = "tensorboard"
LOGGERS = ("jsonl", "tensorboard")


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def require_tensorboard():
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ArlearnError("train.logger = \"tensorboard\" needs the tensorboard package: "
                           "pip install 'arlearn[tensorboard]'") from None
    return SummaryWriter


class TensorBoardLog:
    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / DIRNAME
        self._writer_class = require_tensorboard()  # a missing package fails before training starts
        self.writer = None

    def _open(self, purge_step: int | None = None) -> None:
        if self.writer is None:
            self.writer = self._writer_class(str(self.path), purge_step=purge_step)

    def write(self, **row) -> None:
        step = row.get("step")
        if step is None:
            return
        self._open()
        for key, value in row.items():
            if key == "step":
                continue
            if _is_number(value):
                self.writer.add_scalar(key, value, step)
            elif isinstance(value, list):  # a per-position series: one scalar per position, key/i
                for i, v in enumerate(value):
                    if _is_number(v):
                        self.writer.add_scalar(f"{key}/{i}", v, step)
        self.writer.flush()

    def truncate_after(self, step: int) -> None:
        """A resumed run: events after `step` are dropped when TensorBoard reads the log."""
        self._open(purge_step=step + 1)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


class FanOut:
    """Writes every row to each of several logs (metrics.jsonl first)."""

    def __init__(self, *logs):
        self.logs = logs

    def write(self, **row) -> None:
        for log in self.logs:
            log.write(**row)

    def truncate_after(self, step: int) -> None:
        for log in self.logs:
            log.truncate_after(step)

    def close(self) -> None:
        for log in self.logs:
            log.close()
