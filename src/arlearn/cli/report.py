"""`arlearn report RUN_DIR... -o report.html`: one static page of runs and sweeps."""

from __future__ import annotations

from arlearn.cli.common import emit
from arlearn.reporting.report import build_report

NAME = "report"
HELP = "one static HTML page (and Markdown) from run and sweep directories"


def add_arguments(p) -> None:
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run or sweep directories")
    p.add_argument("-o", "--out", default="report.html", help="HTML file (the .md is written beside it)")
    p.add_argument("--title", default="arlearn report", help="the page's title")


def run(args) -> None:
    out = build_report(args.run_dirs, args.out, title=args.title)
    emit({"html": str(out["html"]), "markdown": str(out["markdown"]), "runs": out["runs"]})
