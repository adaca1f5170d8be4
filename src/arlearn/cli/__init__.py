"""The `arlearn` command line: a module per command, each its arguments plus one call into the
library. All argument parsing lives in this package; nothing outside it imports it.

Every failure a user can cause ends as one line `arlearn: error: …` and exit status 2. stdout
carries only results (see `arlearn.cli.common`); progress, logs and tables go to stderr.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

from arlearn.errors import ArlearnError, Interrupted, TrainingStopped

#: what `arlearn --help` says arlearn is
DESCRIPTION = ("Train auto-regressive next-token predictors (linear, MLP, transformer) on chain-of-thought "
               "tasks, evaluate them by exact match, and compile circuits and Turing machines into exact weights.")

#: the commands, in the order `arlearn --help` lists them
COMMANDS = ("train", "demo", "eval", "show_task", "generate", "run_tm", "sweep", "sample", "compile", "verify",
            "heatmap", "wiring", "diagnose", "bench", "list", "report", "reproduce")


def version() -> str:
    """The installed distribution's version (the source tree's `arlearn.__version__` if not installed)."""
    from importlib import metadata

    try:
        return metadata.version("arlearn")
    except metadata.PackageNotFoundError:
        from arlearn import __version__

        return __version__


def build_parser() -> argparse.ArgumentParser:
    import importlib

    from arlearn.cli.common import OUTPUT_NOTE

    parser = argparse.ArgumentParser(prog="arlearn", description=DESCRIPTION, epilog=OUTPUT_NOTE)
    parser.add_argument("--version", action="version", version=f"arlearn {version()}",
                        help="print arlearn's version and exit")
    parser.add_argument("--plugin", action="append", default=[], metavar="MODULE",
                        help="import MODULE first: its tasks and model classes join the built-ins (repeatable; "
                             "also ARLEARN_PLUGINS=mod1,mod2 and installed entry points; see docs/plugins.md)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        mod = importlib.import_module(f"arlearn.cli.{name}")
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP, epilog=OUTPUT_NOTE)
        mod.add_arguments(p)
        p.set_defaults(fn=mod.run)
    return parser


def main(argv=None) -> int:
    from arlearn.cli.common import results_stdout

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        from arlearn.device import flush_denormals, tune_cpu_allocator

        tune_cpu_allocator()
        # before any torch work, so its worker threads inherit it: a confident model's subnormal
        # gradients make CPU GEMMs ~90× slower otherwise
        with flush_denormals(), results_stdout():  # stray prints go to stderr; only results reach stdout
            from arlearn import plugins

            plugins.add(args.plugin)  # every command sees the plug-ins' tasks and model classes
            args.fn(args)
    except ArlearnError as e:
        print(f"arlearn: error: {e}", file=sys.stderr)
        return 2
    except TrainingStopped as e:
        print(f"arlearn: {e}; continue with `arlearn train --resume {e.run_dir}`", file=sys.stderr)
        return 130
    except Interrupted as e:
        print(f"arlearn: {e}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("arlearn: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader of stdout went away (`arlearn list | head`): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's last flush does not fail again
        return 128 + signal.SIGPIPE  # 141, as a process killed by SIGPIPE reports it
    except MemoryError:  # the last resort: sizes are estimated and refused before they are built
        print("arlearn: error: out of memory: this input needs more memory than the process can get, and more "
              "than arlearn estimated (set ARLEARN_MEMORY_BUDGET_MB lower to refuse such inputs earlier)",
              file=sys.stderr)
        return 2
    return 0
