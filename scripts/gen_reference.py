"""Write the generated reference pages of the documentation: docs/reference/cli.md (every command
and option), config.md (every config key) and presets.md (every preset).

    python scripts/gen_reference.py            # from the repository root
    python scripts/gen_reference.py OUT_DIR    # somewhere else
"""

import argparse
from pathlib import Path

from arlearn.cli.reference import write_reference

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", type=Path, default=Path(__file__).resolve().parents[1] / "docs" / "reference",
                    help="the directory of the pages (default: docs/reference)")
    for path in write_reference(ap.parse_args().out):
        print(path)
