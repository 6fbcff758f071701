"""``python -m services.ingestor``: load settings once, configure logs, serve until a signal."""

from __future__ import annotations

import sys

from services.ingestor.app import create_app
from services.ingestor.settings import IngestorSettings
from shared import logging
from shared.service import run, serve


def main() -> None:
    settings = IngestorSettings()
    logging.configure(settings.log_level, settings.log_json)
    sys.exit(run(serve(create_app(settings), settings)))


if __name__ == "__main__":
    main()
