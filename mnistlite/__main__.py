"""``python -m mnistlite`` runs the command line."""

import sys

from mnistlite.cli import main

if __name__ == "__main__":
    sys.exit(main())
