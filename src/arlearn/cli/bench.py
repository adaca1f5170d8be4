"""`arlearn bench [key=value ...]`: block-causal layers and training steps vs the dense-masked
formulation and the machine's peak, side by side in one run."""

from __future__ import annotations

from arlearn.cli.common import add_progress_arg, emit, kv_options, say
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
    p.add_argument("-o", "--out", help="also write the full report as JSON, rewritten after every case "
                                       "(a stopped benchmark keeps its finished cases)")
    add_progress_arg(p)


def run(args) -> None:
    cfg = build_dataclass(BenchConfig, parse_bench_options(kv_options(args.options)), "bench")
    checkpoint = (lambda report: write_json(args.out, report)) if args.out else None
    report = run_bench(cfg, progress=not args.no_progress, log=say, on_case=checkpoint)
    say(format_report(report))
    emit(report["ratios"])
