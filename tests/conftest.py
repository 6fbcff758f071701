"""Test harness: the real embedded broker (or KAFKA_BOOTSTRAP_SERVERS), PostgreSQL when
reachable (required when CI=true), SQLite in a temp dir, and a fresh topic namespace and
consumer group per test."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator

import pytest
import pytest_asyncio

from tools import migrate
from tools.devbroker import EmbeddedBroker, ensure_topics

PG_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """Bootstrap servers of a real broker for the whole session: KAFKA_BOOTSTRAP_SERVERS if
    set, Apache Kafka via testcontainers if TEST_KAFKA=testcontainers (needs Docker), else the
    embedded Tansu broker."""
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        yield external
        return
    if (
        os.environ.get("TEST_KAFKA") == "testcontainers"
    ):  # Apache Kafka in Docker, where an engine runs
        from testcontainers.community.kafka import KafkaContainer

        with KafkaContainer().with_kraft() as kafka:
            yield kafka.get_bootstrap_server()
        return
    with EmbeddedBroker() as broker:
        yield broker.bootstrap_servers


@pytest.fixture
def namespace() -> str:
    """A fresh topic prefix: each test gets its own topics and consumer groups."""
    return f"t{uuid.uuid4().hex[:10]}."


@pytest_asyncio.fixture
async def topics_ready(kafka_bootstrap: str, namespace: str) -> str:
    await ensure_topics(kafka_bootstrap, namespace)
    return namespace


def _pg_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


def _fresh_pg_schema_url() -> str:
    """A PostgreSQL URL whose default schema is a new, empty schema (dropped after)."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(
        PG_URL.replace("postgresql://", "postgresql://", 1), autocommit=True
    ) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}", schema


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path) -> Iterator[str]:
    """A migrated, empty database: SQLite in a temp dir, and PostgreSQL (skipped only off CI)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'switchboard.db'}"
        migrate.upgrade(url)
        yield url
        return
    if not _pg_reachable():
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL must be reachable at 127.0.0.1:5432 on CI")
        pytest.skip("PostgreSQL not reachable at 127.0.0.1:5432")
    url, schema = _fresh_pg_schema_url()
    migrate.upgrade(url)
    yield url
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'switchboard.db'}"
    migrate.upgrade(url)
    return url
