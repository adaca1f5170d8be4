"""Reporting: everything that turns runs, sweeps and bench results into pages, tables and pictures.

`report` (the HTML/Markdown page of run and sweep directories), `sweep` (a sweep's table.md and
plots), `bench` (the text tables of `arlearn bench`), `heatmap` (block-norm pictures of a
linear/MLP model). It reads what `arlearn.training` and `arlearn.experiments` leave behind.
"""

from arlearn.reporting.bench import format_report
from arlearn.reporting.heatmap import block_norm_heatmap, block_norms, run_heatmap
from arlearn.reporting.report import build_report
from arlearn.reporting.sweep import write_outputs

__all__ = ["block_norm_heatmap", "block_norms", "build_report", "format_report", "run_heatmap", "write_outputs"]
