"""`python -m arlearn`: the command line (arlearn.cli)."""

import sys

from arlearn.cli import main

sys.exit(main())
