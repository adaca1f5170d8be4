"""Write the generated reference pages of the documentation: docs/reference/cli.md (every command
and option), config.md (every config key) and presets.md (every preset).

    python scripts/gen_reference.py            # from the repository root
"""

import sys
from pathlib import Path

from arlearn.cli.reference import write_reference

if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "docs" / "reference"
    for path in write_reference(out):
        print(path)
