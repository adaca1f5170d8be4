import sys

from arlearn.cli import main

sys.exit(main())
