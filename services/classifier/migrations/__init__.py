"""The classifier's migration history (Alembic, version table ``alembic_version_classifier``): its tables
only (``services/classifier/tables.py``). Add a revision with
``alembic -c alembic.ini -n classifier revision --autogenerate -m "..."``; apply with ``switchboard migrate``."""

from pathlib import Path

from shared.migrate import History

HISTORY = History(
    service="classifier",
    location=Path(__file__).resolve().parent,
    # the retired shared history's revisions holding these tables -> this history's
    legacy=(
        ("0005_classifier", "0005_classifier"),
        ("0009_classifier_signals", "0009_classifier_signals"),
    ),
)
