"""``python -m services.router``: run the router until SIGTERM."""

import sys

from services.router.app import build
from services.router.settings import RouterSettings
from shared.logging import configure
from shared.service import run, serve


def main() -> None:
    settings = RouterSettings()
    configure(settings.log_level, settings.log_json)
    app, runner = build(settings)
    sys.exit(run(serve(app, settings, runner)))


if __name__ == "__main__":
    main()
