"""``python -m services.classifier``: run the classifier (consumer + ops/HTTP API)."""

from __future__ import annotations

import sys

from services.classifier.settings import ClassifierSettings
from shared import logging as shared_logging
from shared.service import run, serve


def main() -> None:
    """Load settings once, configure logging, build, serve until SIGTERM; exit with its code."""
    from services.classifier.app import build

    settings = ClassifierSettings()
    shared_logging.configure(settings.log_level, settings.log_json)
    app, runner = build(settings)
    sys.exit(run(serve(app, settings, runner)))


if __name__ == "__main__":
    main()
