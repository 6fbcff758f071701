"""Every service's migration history, for the commands and tests that migrate more than one
service (``switchboard migrate``, the local stack, the test databases).

Each service owns its history (``services/<service>/migrations``, version table
``alembic_version_<service>``); ``shared.migrate`` runs them.
"""

from __future__ import annotations

from collections.abc import Iterable

from services.classifier.migrations import HISTORY as CLASSIFIER
from services.ingestor.migrations import HISTORY as INGESTOR
from services.notifier.migrations import HISTORY as NOTIFIER
from services.router.migrations import HISTORY as ROUTER
from shared import migrate
from shared.migrate import History, MigrationError

HISTORIES: dict[str, History] = {h.service: h for h in (INGESTOR, CLASSIFIER, ROUTER, NOTIFIER)}


def histories(services: Iterable[str] | None = None) -> list[History]:
    """The histories of ``services`` (every service when None). Raises ``KeyError`` on an unknown name."""
    return list(HISTORIES.values()) if services is None else [HISTORIES[name] for name in services]


def upgrade(database_url: str, services: Iterable[str] | None = None) -> None:
    """Bring the tables of ``services`` (default: all) in ``database_url`` to their heads,
    adopting a database of the retired single history. Blocks; raises on failure."""
    migrate.upgrade(database_url, histories(services))


def downgrade(database_url: str, revision: str, services: Iterable[str] | None = None) -> None:
    """``base``: remove the tables of ``services`` (default: all). Any other revision: take the
    one history holding it back to it. Blocks; raises ``MigrationError`` on an unknown revision."""
    chosen = histories(services)
    if revision != "base":
        chosen = [h for h in chosen if revision in h.revisions()]
        if not chosen:
            raise MigrationError(f"no migration history has revision {revision!r}")
    migrate.downgrade(database_url, chosen, revision)
