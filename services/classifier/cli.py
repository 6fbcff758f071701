"""``python -m services.classifier.cli``: the model commands on a user's own data
(``training/cli.py``)."""

import sys

from services.classifier.training.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
