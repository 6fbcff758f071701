"""Migrations create the schema on SQLite and PostgreSQL, and downgrade cleanly."""

from sqlalchemy import create_engine, inspect

from shared import migrate
from shared.db import sync_url


def test_upgrade_creates_every_table(database_url):
    engine = create_engine(sync_url(database_url))
    try:
        names = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {"ingested_messages", "routed_items", "notifier_incidents", "notifier_handled", "alembic_version"} <= names


def test_downgrade_to_base_removes_tables(database_url):
    migrate.downgrade(database_url, "base")
    engine = create_engine(sync_url(database_url))
    try:
        names = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert not {"ingested_messages", "routed_items", "notifier_incidents", "pages"} & names
