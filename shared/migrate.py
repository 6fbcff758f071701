"""Alembic per service: each service owns its migration history.

A service's history lives in ``services/<service>/migrations`` (``env.py`` calls ``run_env``,
``versions/`` holds its revisions) and records its position in its own version table,
``alembic_version_<service>``, so a database holds only the tables of the services migrated
into it. ``shared`` knows no service: callers hand over ``History`` objects (``tools.migrate``
holds the four).

Databases made by the retired single history (``shared/migrations``, revisions ``0001`` to
``0010``, one ``alembic_version`` table for every service) are adopted on the first upgrade:
each service's position is read from the old version table and stamped into its own, so no
table is re-created and no row is touched. The old table is left as it was (an image of the
previous release still finds its revisions there).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, pool, text

from shared.db import Base, ensure_sqlite_dir, sync_url
from shared.settings import CommonSettings

LEGACY_VERSION_TABLE = "alembic_version"
# The retired single history: revision -> the revision it followed.
LEGACY_PARENTS: dict[str, str | None] = {
    "0001": None,
    "0002_ingestor": "0001",
    "0003_router": "0001",
    "0004_notifier": "0001",
    "0005_classifier": "0001",
    "0006_ingestor_pollers": "0002_ingestor",
    "0007_router": "0003_router",
    "0008_notifier": "0004_notifier",
    "0009_classifier_signals": "0008_notifier",
    "0010_router_triage": "0007_router",
}


class MigrationError(RuntimeError):
    """A database cannot be migrated safely as it is (nothing was changed)."""


@dataclass(frozen=True)
class History:
    """One service's migration history.

    ``legacy`` pairs, oldest first, each revision of the retired single history holding this
    service's tables with the revision of this history that leaves the same schema.
    """

    service: str
    location: Path
    legacy: tuple[tuple[str, str], ...] = ()

    @property
    def version_table(self) -> str:
        return f"alembic_version_{self.service}"

    def config(self, database_url: str) -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", str(self.location))
        cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
        return cfg

    def revisions(self) -> set[str]:
        return {script.revision for script in ScriptDirectory(str(self.location)).walk_revisions()}


def upgrade(database_url: str, histories: list[History], revision: str = "head") -> None:
    """Bring each history in ``database_url`` to ``revision``, adopting a database of the
    retired single history first. Blocks; raises ``MigrationError`` or Alembic's errors."""
    for history in histories:
        adopt_legacy(database_url, history)
        command.upgrade(history.config(database_url), revision)


def downgrade(database_url: str, histories: list[History], revision: str) -> None:
    """Take each history back to ``revision`` (``base`` removes its tables). Blocks."""
    for history in reversed(histories):
        command.downgrade(history.config(database_url), revision)


def adopt_legacy(database_url: str, history: History) -> str | None:
    """Stamp ``history``'s version table with the position the retired single history
    recorded for its tables; None when there is nothing to adopt (a new database, or one this
    history already tracks). Raises ``MigrationError`` on revisions it does not know."""
    url = sync_url(database_url)
    ensure_sqlite_dir(url)
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            if history.version_table in tables or LEGACY_VERSION_TABLE not in tables:
                return None
            rows = conn.execute(text(f"SELECT version_num FROM {LEGACY_VERSION_TABLE}")).scalars()
            heads = set(rows)
    finally:
        engine.dispose()
    position = legacy_position(heads, history)
    if position is not None:
        command.stamp(history.config(database_url), position)
    return position


def legacy_position(heads: set[str], history: History) -> str | None:
    """The revision of ``history`` matching the retired history's ``heads``: the newest of its
    ``legacy`` pairs whose old revision, and every earlier one, was applied."""
    if unknown := heads - set(LEGACY_PARENTS):
        raise MigrationError(
            f"{LEGACY_VERSION_TABLE} holds revisions of no known history: {sorted(unknown)}"
        )
    applied: set[str] = set()
    for head in heads:
        revision: str | None = head
        while revision is not None:
            applied.add(revision)
            revision = LEGACY_PARENTS[revision]
    position = None
    for old, new in history.legacy:
        if old not in applied:
            break
        position = new
    return position


def run_env(history: History, tables: ModuleType) -> None:
    """The body of a service's ``env.py``: run ``history``'s migrations against the URL of the
    Alembic config (else ``DATABASE_URL``), recording them in its own version table;
    autogenerate compares only the tables mapped in ``tables`` (the service's tables.py)."""
    from alembic import context

    mappers = [m for m in Base.registry.mappers if m.class_.__module__ == tables.__name__]
    owned = {m.local_table.name for m in mappers}  # type: ignore[attr-defined]
    url = sync_url(
        context.config.get_main_option("sqlalchemy.url") or CommonSettings().database_url
    )
    options: dict[str, Any] = {
        "target_metadata": Base.metadata,
        "version_table": history.version_table,
        "include_object": lambda _obj, name, kind, *_: kind != "table" or name in owned,
    }
    if context.is_offline_mode():
        context.configure(url=url, literal_binds=True, **options)
        with context.begin_transaction():
            context.run_migrations()
        return
    ensure_sqlite_dir(url)
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                render_as_batch=connection.dialect.name == "sqlite",
                **options,
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()
