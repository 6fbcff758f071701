"""Alembic environment: one migration history for every service's tables.

The database URL comes from the caller (``switchboard migrate`` passes it as the
``sqlalchemy.url`` option) or, failing that, from ``DATABASE_URL`` via the settings.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from services.classifier import tables as _classifier_tables  # noqa: F401 - registers tables
from services.ingestor import tables as _ingestor_tables  # noqa: F401 - registers tables
from services.notifier import tables as _notifier_tables  # noqa: F401
from services.router import tables as _router_tables  # noqa: F401
from shared.db import Base, ensure_sqlite_dir, sync_url
from shared.settings import CommonSettings

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url") or CommonSettings().database_url
    return sync_url(url)


def run_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    url = _url()
    ensure_sqlite_dir(url)
    connectable = create_engine(url, poolclass=pool.NullPool)
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=connection.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
