"""``python -m services.console``: serve the console until SIGTERM."""

import sys

from services.console.app import create_app
from services.console.settings import ConsoleSettings
from shared.logging import configure
from shared.service import run, serve


def main() -> None:
    settings = ConsoleSettings()
    configure(settings.log_level, settings.log_json)
    sys.exit(run(serve(create_app(settings), settings)))


if __name__ == "__main__":
    main()
