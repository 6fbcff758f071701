"""Alembic environment of the retired single history (every service's tables numbered together
in one ``alembic_version`` table, revisions 0001..0010), kept only so tests can build a database
the way releases before the per-service histories did and check that ``switchboard migrate``
adopts it (tests/integration/test_migrations.py). Never used by the product."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from shared.db import sync_url

url = sync_url(context.config.get_main_option("sqlalchemy.url"))
engine = create_engine(url, poolclass=pool.NullPool)
try:
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=None,
                          render_as_batch=connection.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()
finally:
    engine.dispose()
