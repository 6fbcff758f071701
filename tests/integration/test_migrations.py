"""Migrations create the schema on SQLite and PostgreSQL, and downgrade cleanly; each service's
history holds only its tables; a database of the retired single history is adopted as it is."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, inspect, text

from shared.db import sync_url
from shared.migrate import LEGACY_VERSION_TABLE, MigrationError, legacy_position
from tests.conftest import PG_URL, _fresh_pg_schema_url, _pg_reachable
from tools import migrate

LEGACY = Path(__file__).resolve().parent / "legacy_migrations"
# tables added by revisions after the retired single history (created on the upgrade)
AFTER_SINGLE_HISTORY = {
    "router_planning_forecasts",
    "router_planning_rosters",
    "notifier_outbox",
    "router_conversation_messages",
    "router_notes",
}
VERSION_TABLES = {f"alembic_version_{name}" for name in migrate.HISTORIES}
HEADS = {
    "ingestor": "0007_ingestor_republish",
    "classifier": "0009_classifier_signals",
    "router": "0015_router_item_author",
    "notifier": "0012_notifier_outbox",
}


def _tables(url: str) -> set[str]:
    engine = create_engine(sync_url(url))
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _rows(url: str, sql: str) -> list[tuple]:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql))]
    finally:
        engine.dispose()


def test_upgrade_creates_every_table(database_url):
    names = _tables(database_url)
    assert {
        "ingested_messages",
        "routed_items",
        "notifier_incidents",
        "notifier_handled",
    } | VERSION_TABLES <= names


def test_downgrade_to_base_removes_tables(database_url):
    migrate.downgrade(database_url, "base")
    names = _tables(database_url)
    assert not {"ingested_messages", "routed_items", "notifier_incidents", "pages"} & names


# -- one history per service -------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database_url(request, tmp_path) -> Iterator[str]:
    """An empty database (no migration run): SQLite in a temp dir, and PostgreSQL (skipped only off CI)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    if not _pg_reachable():
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL must be reachable at 127.0.0.1:5432 on CI")
        pytest.skip("PostgreSQL not reachable at 127.0.0.1:5432")
    url, schema = _fresh_pg_schema_url()
    yield url
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _owned(service: str) -> set[str]:
    """The tables a service's tables.py maps (shared.db.Base holds every service's)."""
    from shared.db import Base

    module = f"services.{service}.tables"
    __import__(module)
    return {m.local_table.name for m in Base.registry.mappers if m.class_.__module__ == module}


@pytest.mark.parametrize("service", sorted(HEADS))
def test_a_service_database_holds_only_that_services_tables(empty_database_url, service):
    migrate.upgrade(empty_database_url, [service])
    assert _tables(empty_database_url) == _owned(service) | {f"alembic_version_{service}"}
    assert _rows(empty_database_url, f"SELECT version_num FROM alembic_version_{service}") == [
        (HEADS[service],)
    ]


def test_no_table_is_owned_twice():
    owners = [_owned(service) for service in HEADS]
    assert sum(len(o) for o in owners) == len(set().union(*owners))


# -- the upgrade path from the retired single history ----------------------------------------------


def _legacy_upgrade(url: str, revision: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(LEGACY))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(cfg, revision)


NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SEED = {  # one row in a table of each service, written by the old release
    "ingested_messages": (
        "INSERT INTO ingested_messages (message_key, event_id, source, received_at) "
        "VALUES ('k1', 'e1', 'demo', :at)"
    ),
    "router_config": (
        "INSERT INTO router_config (name, body, version, updated_by, updated_at) "
        "VALUES ('routing', 'queues: []', 3, 'lead', :at)"
    ),
    "notifier_handled": "INSERT INTO notifier_handled (event_id, kind, subject, at) VALUES ('h1', 'ack', 'inc-1', :at)",
    "classifier_campaigns": (
        "INSERT INTO classifier_campaigns (id, messages, authors, last_at_us) "
        "VALUES ('c1', 12, 7, 1)"
    ),
}


def _seed(url: str) -> None:
    engine = create_engine(sync_url(url))
    try:
        with engine.begin() as conn:
            for sql in SEED.values():
                conn.execute(text(sql), {"at": NOW})
    finally:
        engine.dispose()


def test_a_database_of_the_single_history_is_adopted_without_loss(empty_database_url):
    url = empty_database_url
    _legacy_upgrade(url, "heads")
    _seed(url)
    legacy_heads = sorted(_rows(url, f"SELECT version_num FROM {LEGACY_VERSION_TABLE}"))
    before = _tables(url)

    migrate.upgrade(url)

    assert _tables(url) == before | VERSION_TABLES | AFTER_SINGLE_HISTORY, (
        "nothing re-created, nothing dropped"
    )
    for service, head in HEADS.items():
        assert _rows(url, f"SELECT version_num FROM alembic_version_{service}") == [(head,)]
    assert sorted(_rows(url, f"SELECT version_num FROM {LEGACY_VERSION_TABLE}")) == legacy_heads
    assert _rows(url, "SELECT event_id FROM ingested_messages") == [("e1",)]
    assert _rows(url, "SELECT body, version FROM router_config") == [("queues: []", 3)]
    assert _rows(url, "SELECT kind, subject FROM notifier_handled") == [("ack", "inc-1")]
    assert _rows(url, "SELECT messages, authors FROM classifier_campaigns") == [(12, 7)]
    migrate.upgrade(url)  # a second run changes nothing
    assert _rows(url, "SELECT count(*) FROM ingested_messages") == [(1,)]


@pytest.mark.parametrize("old", ["0001", "0006_ingestor_pollers", "0007_router"])
def test_a_database_part_way_through_the_single_history_is_completed(tmp_path, old):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    _legacy_upgrade(url, old)
    migrate.upgrade(url)
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    migrate.upgrade(fresh)
    assert _tables(url) - {LEGACY_VERSION_TABLE} == _tables(fresh)
    for service, head in HEADS.items():
        assert _rows(url, f"SELECT version_num FROM alembic_version_{service}") == [(head,)]


def test_one_service_adopts_its_part_of_an_old_database_and_leaves_the_rest(tmp_path):
    url = f"sqlite:///{tmp_path / 'router.db'}"
    _legacy_upgrade(url, "heads")
    migrate.upgrade(url, ["router"])
    names = _tables(url)
    assert (
        "alembic_version_router" in names
        and not (VERSION_TABLES - {"alembic_version_router"}) & names
    )
    assert {"ingested_messages", "notifier_handled"} <= names, (
        "other services' tables are never dropped"
    )


def test_legacy_positions():
    router, notifier, classifier = (
        migrate.HISTORIES[n] for n in ("router", "notifier", "classifier")
    )
    heads = {
        "0006_ingestor_pollers",
        "0010_router_triage",
        "0005_classifier",
        "0009_classifier_signals",
    }
    assert legacy_position(heads, router) == "0010_router_triage"
    assert legacy_position(heads, notifier) == "0008_notifier"  # implied by 0009, which followed it
    assert legacy_position({"0002_ingestor"}, router) == "0001_router"
    assert legacy_position({"0002_ingestor"}, classifier) is None
    with pytest.raises(MigrationError):
        legacy_position({"0011_unknown"}, router)


def test_an_unknown_old_revision_is_refused_before_anything_changes(tmp_path):
    url = f"sqlite:///{tmp_path / 'odd.db'}"
    _legacy_upgrade(url, "0001")
    engine = create_engine(sync_url(url))
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE {LEGACY_VERSION_TABLE} SET version_num = '0099_elsewhere'"))
    engine.dispose()
    with pytest.raises(MigrationError):
        migrate.upgrade(url)
    assert not VERSION_TABLES & _tables(url)


def test_an_unknown_revision_cannot_be_downgraded_to(sqlite_url):
    with pytest.raises(MigrationError):
        migrate.downgrade(sqlite_url, "0042_nowhere")
