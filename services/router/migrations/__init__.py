"""The router's migration history (Alembic, version table ``alembic_version_router``): its tables
only (``services/router/tables.py``). Add a revision with
``alembic -c alembic.ini -n router revision --autogenerate -m "..."``; apply with ``switchboard migrate``."""

from pathlib import Path

from shared.migrate import History

HISTORY = History(
    service="router",
    location=Path(__file__).resolve().parent,
    # the retired shared history's revisions holding these tables -> this history's
    legacy=(
        ("0001", "0001_router"),
        ("0003_router", "0003_router"),
        ("0007_router", "0007_router"),
        ("0010_router_triage", "0010_router_triage"),
    ),
)
