"""A migrated PostgreSQL schema of its own for a benchmark (``TEST_POSTGRES_URL``, else the CI
server at 127.0.0.1:5432), dropped afterwards."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

from tools import migrate

PG = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@contextlib.contextmanager
def fresh_schema() -> Iterator[str]:
    """Yields a database URL whose search path is a new, migrated schema."""
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        url = f"{PG}{'&' if '?' in PG else '?'}options=-csearch_path%3D{schema}"
        migrate.upgrade(url)
        yield url
    finally:
        with psycopg.connect(PG, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
