"""`arlearn bench [key=value ...]`: block-causal layers and training steps vs the dense-masked
formulation and the machine's peak, side by side in one run."""

from __future__ import annotations

import sys

from arlearn.cli.common import emit, kv_options
from arlearn.cli.parsing import parse_bench_options
from arlearn.config import build_dataclass
from arlearn.experiments.bench import BenchConfig, run_bench
from arlearn.fileio import write_json
from arlearn.reporting.bench import format_report

NAME = "bench"
HELP = "benchmark block-causal layers and training steps vs the dense-masked formulation and the peak"


def add_arguments(p) -> None:
    p.add_argument("options", nargs="*", metavar="KEY=VALUE",
                   help="e.g. dtypes=bf16 models=linear linear_batch=32 chunk=16 threads=1 "
                        "(see arlearn.experiments.bench.BenchConfig)")
    p.add_argument("-o", "--out", help="also write the full report as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args) -> None:
    cfg = build_dataclass(BenchConfig, parse_bench_options(kv_options(args.options)), "bench")
    report = run_bench(cfg, progress=not args.no_progress, log=lambda line: print(line, file=sys.stderr))
    print(format_report(report), file=sys.stderr)
    if args.out:
        write_json(args.out, report)
    emit(report["ratios"])
