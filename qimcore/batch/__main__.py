"""``python -m qimcore.batch NOTEBOOK GRID --output DIR [--workers N]``."""

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
