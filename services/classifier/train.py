"""``python -m services.classifier.train`` (``make train``): builds the shipped models
(``training/train.py``)."""

import sys

from services.classifier.training.train import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
