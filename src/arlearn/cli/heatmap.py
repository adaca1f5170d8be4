"""`arlearn heatmap RUN_DIR -o PNG`: the norm of every (t, s) block of a linear/mlp model."""

from __future__ import annotations

from arlearn.cli.common import emit
from arlearn.reporting.heatmap import run_heatmap

NAME = "heatmap"
HELP = "PNG heatmap of the norm of every (t, s) block of a linear/mlp run's model"


def add_arguments(p) -> None:
    p.add_argument("run_dir", help="a linear or mlp run directory")
    p.add_argument("-o", "--out", required=True, help="PNG file to write")
    p.add_argument("--layer", type=int, default=0, help="block-causal map to draw (mlp: 0 = first)")


def run(args) -> None:
    emit(run_heatmap(args.run_dir, args.out, args.layer))
