"""``python -m services.notifier``: run the notifier until SIGTERM."""

import sys

from services.notifier.app import build
from services.notifier.settings import NotifierSettings
from shared.logging import configure
from shared.service import run, serve


def main() -> None:
    settings = NotifierSettings()
    configure(settings.log_level, settings.log_json)
    app, runner = build(settings)
    sys.exit(run(serve(app, settings, runner)))


if __name__ == "__main__":
    main()
