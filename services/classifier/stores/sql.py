"""What the shared campaign and spike detectors have in common: the database they share.

With several classifier replicas each consumes only its partitions of the raw topic (keyed by
conversation), so campaigns and spike counts must live where every replica sees them: the
classifier's database (``stores.campaigns``, ``stores.spikes``; tables in ``tables.py``). Each
detector runs one transaction per batch on a synchronous engine from the worker thread that
classifies the batch (like the ingestor's ledger hot path: the async drivers would hop
threads per statement).

* ``engine(url)``: ``shared.db.sync_engine``; on SQLite every transaction starts with
  ``BEGIN IMMEDIATE``, so two writers queue on the lock (busy timeout) instead of the second
  failing when it upgrades its read snapshot to a write.
* ``micros``/``moment``: times are stored as integer microseconds since the epoch: exact, and
  compared alike on SQLite (which keeps datetimes as text) and PostgreSQL.
* ``Pruner``: expiry runs inside a batch's transaction, at most once per interval.
* ``insert_for``: the dialect's INSERT (ON CONFLICT … on both backends); ``one_of``: a
  column in a list of values passed as ONE parameter (a PostgreSQL array, a JSON array read
  by SQLite's ``json_each``): a batch's thousands of band keys would otherwise be thousands
  of bind parameters to render and send; ``insert_ignore_integers`` writes thousands of
  integer rows the same way (one parameter, no per-row work in SQLAlchemy).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Engine,
    Table,
    any_,
    bindparam,
    event,
    func,
    select,
    text,
)
from sqlalchemy.dialects import postgresql

from shared import db

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
PARAMS_PER_QUERY = 10_000  # well below SQLite's 32,766 and PostgreSQL's 65,535 bind parameters
T = TypeVar("T")


def engine(url: str) -> Engine:
    """A synchronous engine for the shared detectors (see the module docstring)."""
    eng = db.sync_engine(url)
    if eng.dialect.name == "sqlite":
        event.listen(eng, "connect", _driver_autocommit)
        event.listen(eng, "begin", _begin_immediate)
    return eng


def _driver_autocommit(dbapi_connection, _record) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)


def _begin_immediate(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def micros(at: datetime) -> int:
    """``at`` as integer microseconds since the epoch (naive times are taken as UTC)."""
    return ((at if at.tzinfo is not None else at.replace(tzinfo=UTC)) - EPOCH) // _US


def span_us(delta: timedelta) -> int:
    return delta // _US


def moment(us: int) -> datetime:
    return EPOCH + us * _US


def insert_for(conn: Connection):
    """The connection's dialect's ``insert`` (``shared.db.dialect_insert``)."""
    return db.dialect_insert(conn.dialect.name)


def one_of(conn: Connection, column, values: Sequence[int]) -> ColumnElement[bool]:
    """``column IN values`` (integers) with the values bound as one parameter."""
    if conn.dialect.name == "postgresql":
        # a typed array, not ``pg_array``: the planner must see the values to pick the band index
        return column == any_(bindparam(None, list(values), type_=postgresql.ARRAY(BigInteger)))
    listed = func.json_each(bindparam(None, json.dumps(list(values)))).table_valued("value")
    return column.in_(select(listed.c.value))


def pg_array(values: Sequence[int]) -> str:
    """Integers as one PostgreSQL array literal (``{1,-2,3}``), cast to ``BIGINT[]`` by the
    server: one string to send, where the driver would adapt each element in Python (a batch's
    band rows are thousands of them, and that adapting cost more than the server's insert).
    For INSERT … SELECT unnest(…) only: in a lookup (``one_of``) the planner would not see the
    values behind the cast and picked a plan 30 times slower."""
    return "{" + ",".join(map(str, map(int, values))) + "}"


def insert_ignore_integers(conn: Connection, table: Table, rows: Sequence[tuple[int, ...]]) -> None:
    """INSERT … ON CONFLICT DO NOTHING of ``rows`` (integers for every column of ``table``, in
    order), sent as one array per column (PostgreSQL ``unnest``) or one JSON array (SQLite)."""
    if not rows:
        return
    names = [column.name for column in table.columns]
    into = f"INSERT INTO {table.name} ({', '.join(names)})"
    if conn.dialect.name == "postgresql":
        arrays = ", ".join(f"CAST(:c{i} AS BIGINT[])" for i in range(len(names)))
        conn.execute(
            text(f"{into} SELECT * FROM unnest({arrays}) ON CONFLICT DO NOTHING"),
            {f"c{i}": pg_array([row[i] for row in rows]) for i in range(len(names))},
        )
    else:  # "WHERE true": SQLite's upsert after INSERT … SELECT needs it to parse
        picks = ", ".join(f"json_extract(value, '$[{i}]')" for i in range(len(names)))
        conn.execute(
            text(f"{into} SELECT {picks} FROM json_each(:rows) WHERE true ON CONFLICT DO NOTHING"),
            {"rows": json.dumps(rows)},
        )


def chunks(items: Sequence[T], size: int = PARAMS_PER_QUERY) -> Iterator[Sequence[T]]:
    """``items`` in slices small enough for one statement's bind parameters."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Pruner:
    """Runs the expiry of a detector's rows at most once per ``every_s`` seconds (wall clock),
    inside the batch's transaction; the first batch prunes. ``cap`` keeps a message stamped
    in the future from expiring the present: the cut-off is never later than now."""

    def __init__(self, every_s: float) -> None:
        self.every_s = every_s
        self._last: float | None = None

    def _due(self) -> bool:
        now = time.monotonic()
        if self._last is not None and now - self._last < self.every_s:
            return False
        self._last = now
        return True

    @staticmethod
    def cap(cutoff_us: int) -> int:
        return min(cutoff_us, micros(datetime.now(UTC)))

    def run(self, prune: Callable[[], object]) -> None:
        if self._due():
            prune()
