"""The notifier's migration history (Alembic, version table ``alembic_version_notifier``): its tables
only (``services/notifier/tables.py``). Add a revision with
``alembic -c alembic.ini -n notifier revision --autogenerate -m "..."``; apply with ``switchboard migrate``."""

from pathlib import Path

from shared.migrate import History

HISTORY = History(
    service="notifier",
    location=Path(__file__).resolve().parent,
    # the retired shared history's revisions holding these tables -> this history's
    legacy=(
        ("0001", "0001_notifier"),
        ("0004_notifier", "0004_notifier"),
        ("0008_notifier", "0008_notifier"),
    ),
)
