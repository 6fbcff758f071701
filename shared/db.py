"""Database plumbing: SQLAlchemy 2 (async) engines for SQLite (embedded default) and
PostgreSQL (production), and the declarative base every service's tables use.

Schema changes go through Alembic, one history per service (``services/<service>/migrations``,
run by ``shared.migrate``), as their own step (``switchboard migrate``), never at service start-up.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base of every Switchboard table; each service's migration history compares
    only the tables its own ``tables.py`` maps."""


_DRIVERS = {
    "sync": {"postgresql": "postgresql+psycopg", "sqlite": "sqlite"},
    "async": {"postgresql": "postgresql+psycopg", "sqlite": "sqlite+aiosqlite"},
}


def _with_driver(url: str, mode: str) -> str:
    parsed = make_url(url)
    driver = _DRIVERS[mode].get(parsed.get_backend_name())
    return parsed.set(drivername=driver).render_as_string(hide_password=False) if driver else url


def sync_url(url: str) -> str:
    """The URL with a synchronous driver (Alembic, tools)."""
    return _with_driver(url, "sync")


def async_url(url: str) -> str:
    """The URL with an asyncio driver (services)."""
    return _with_driver(url, "async")


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def ensure_sqlite_dir(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


# A server that went away is noticed in seconds, not at the kernel's TCP timeouts: connecting
# gives up after 5 s, and an idle connection to a vanished host fails its keepalives in ~25 s.
PG_CONNECT_ARGS = {
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}


def engine(url: str) -> AsyncEngine:
    """An async engine for ``url``; SQLite gets WAL and a busy timeout (several processes share it)."""
    ensure_sqlite_dir(url)
    is_sqlite = make_url(url).get_backend_name() == "sqlite"
    eng = create_async_engine(
        async_url(url),
        pool_pre_ping=not is_sqlite,
        connect_args={} if is_sqlite else PG_CONNECT_ARGS,
    )
    if is_sqlite:
        event.listen(eng.sync_engine, "connect", _sqlite_pragmas)
    return eng


def sync_engine(url: str) -> Engine:
    """A synchronous engine for ``url`` with the same SQLite settings, for work that runs on a
    worker thread as one call (batched hot paths). SQLite connections may be used by the
    pool's threads in turn."""
    ensure_sqlite_dir(url)
    is_sqlite = make_url(url).get_backend_name() == "sqlite"
    eng = create_engine(
        sync_url(url),
        pool_pre_ping=not is_sqlite,
        connect_args={"check_same_thread": False} if is_sqlite else PG_CONNECT_ARGS,
    )
    if is_sqlite:
        event.listen(eng, "connect", _sqlite_pragmas)
    return eng


def sessions(eng: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(eng, expire_on_commit=False)


def dialect_insert(dialect_name: str):
    """The dialect's ``insert`` construct, which has ``on_conflict_do_nothing`` and
    ``on_conflict_do_update`` (``ON CONFLICT`` on both PostgreSQL and SQLite)."""
    return postgresql.insert if dialect_name == "postgresql" else sqlite.insert


def is_unique_violation(exc: Exception) -> bool:
    """True when ``exc`` (an IntegrityError) is a unique/primary-key conflict on any backend."""
    text = str(getattr(exc, "orig", exc)).lower()
    return "unique" in text or "duplicate key" in text
