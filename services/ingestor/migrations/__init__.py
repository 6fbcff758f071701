"""The ingestor's migration history (Alembic, version table ``alembic_version_ingestor``): its tables
only (``services/ingestor/tables.py``). Add a revision with
``alembic -c alembic.ini -n ingestor revision --autogenerate -m "..."``; apply with ``switchboard migrate``."""

from pathlib import Path

from shared.migrate import History

HISTORY = History(
    service="ingestor",
    location=Path(__file__).resolve().parent,
    # the retired shared history's revisions holding these tables -> this history's
    legacy=(
        ("0001", "0001_ingestor"),
        ("0002_ingestor", "0002_ingestor"),
        ("0006_ingestor_pollers", "0006_ingestor_pollers"),
    ),
)
