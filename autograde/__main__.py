"""`python -m autograde ...`: the instructor command line (see autograde/cli.py)."""

import sys

from autograde.cli import main

sys.exit(main())
