#!/usr/bin/env python
"""Long fuzzing run: the property-based tests of tests/test_fuzz.py with many more examples.

    python scripts/fuzz.py                 # ≥ 10,000 generated inputs per parser (tens of minutes)
    python scripts/fuzz.py --examples 500  # a quick pass

Every input must either work or raise ArlearnError with a one-line message. Prints, per parser,
how many inputs were tried, how many worked and how many were rejected with a clear error, and
exits non-zero if any test found an uncaught exception (pytest prints the minimal failing input).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=10_000, help="hypothesis examples per test (default 10000)")
    ap.add_argument("-k", default="fuzz", help="pytest -k expression selecting the fuzz tests")
    ap.add_argument("--json", help="also write the counts to this JSON file")
    args = ap.parse_args()

    import pytest
    import torch

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        # with --json, counts so far are also kept in JSON.partial (updated after every test)
        counts_file = Path(f"{args.json}.partial") if args.json else Path(tmp) / "counts.json"
        os.environ["ARLEARN_FUZZ_EXAMPLES"] = str(args.examples)
        os.environ["ARLEARN_FUZZ_COUNTS"] = str(counts_file)
        t0 = time.perf_counter()
        rc = pytest.main([str(REPO / "tests" / "test_fuzz.py"), "-q", "-k", args.k, "-p", "no:cacheprovider",
                          "--hypothesis-seed=0", "-W", "ignore::pytest.PytestUnraisableExceptionWarning"])
        seconds = time.perf_counter() - t0
        counts = json.loads(counts_file.read_text()) if counts_file.exists() else {}
    rows = [(name, c.get("ok", 0) + c.get("error", 0), c.get("ok", 0), c.get("error", 0))
            for name, c in sorted(counts.items())]
    width = max([len(r[0]) for r in rows] + [6])
    print(f"\n| {'parser':<{width}} | inputs tried | worked | clear ArlearnError |")
    print(f"|{'-' * (width + 2)}|-------------:|-------:|-------------------:|")
    for name, total, ok, err in rows:
        print(f"| {name:<{width}} | {total:>12,} | {ok:>6,} | {err:>18,} |")
    total = sum(r[1] for r in rows)
    print(f"\n{total:,} inputs in {seconds:.0f} s; pytest exit status {int(rc)} "
          f"({'no uncaught exceptions' if rc == 0 else 'FAILURES: see above'})")
    if args.json:
        Path(args.json).write_text(json.dumps({"examples": args.examples, "counts": counts, "seconds": seconds,
                                               "pytest_rc": int(rc)}, indent=1))
    return int(rc)


if __name__ == "__main__":
    sys.exit(main())
