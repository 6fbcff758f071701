"""``python -m services.classifier.evaluate`` (``make eval``): the published protocols and the
triage report (``training/evaluate.py``)."""

import sys

from services.classifier.training.evaluate import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
