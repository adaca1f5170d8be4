"""The `arlearn` command line: a module per command, each its arguments plus one call into the
library. All argument parsing lives in this package; nothing outside it imports it.

Every failure a user can cause ends as one line `arlearn: error: …` and exit status 2.
"""

from __future__ import annotations

import argparse
import sys

from arlearn.errors import ArlearnError

#: the commands, in the order `arlearn --help` lists them
COMMANDS = ("train", "demo", "eval", "show_task", "generate", "run_tm", "sweep", "sample", "compile", "verify",
            "heatmap", "bench", "list", "report")


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(prog="arlearn", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        mod = importlib.import_module(f"arlearn.cli.{name}")
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(fn=mod.run)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        from arlearn.device import tune_cpu_allocator

        tune_cpu_allocator()
        args.fn(args)
    except ArlearnError as e:
        print(f"arlearn: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("arlearn: interrupted", file=sys.stderr)
        return 130
    return 0
