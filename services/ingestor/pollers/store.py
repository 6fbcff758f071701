"""Leases and cursors of the pollers, in the ingestor's database (SQLite and PostgreSQL alike).

A lease says which replica polls a source (one at a time); a cursor says where a source (or one
of its targets) was read up to. A cursor is saved only while this replica holds the lease, and
only after the broker acknowledged what came before it.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from services.ingestor.ledger import Ledger, aware, insert_ignore
from services.ingestor.tables import PollerCursor, PollerLease


class LeaseLost(Exception):
    """Another replica took over the source (our lease expired); abandon the round."""


class CursorStore:
    """Leases and cursors in the ingestor's database (SQLite and PostgreSQL alike)."""

    def __init__(self, ledger: Ledger, owner: str, lease_s: float) -> None:
        self.ledger, self.owner, self.lease_s = ledger, owner, lease_s

    async def claim(self, source: str, now: datetime) -> bool:
        """Take or renew the lease of ``source`` unless another owner's lease is still running.
        One UPDATE with the condition in its WHERE: atomic on both backends."""
        table = PollerLease.__table__
        async with self.ledger.connection(write=True) as conn:
            await insert_ignore(
                conn,
                PollerLease,
                [
                    {
                        "source": source,
                        "owner": None,
                        "lease_until": None,
                        "consecutive_errors": 0,
                        "errors_total": 0,
                    }
                ],
            )
            claimed = await conn.execute(
                update(table)
                .where(
                    table.c.source == source,
                    (table.c.owner.is_(None))
                    | (table.c.owner == self.owner)
                    | (table.c.lease_until < now),
                )
                .values(owner=self.owner, lease_until=now + timedelta(seconds=self.lease_s))
                .returning(table.c.source)
            )
            return claimed.first() is not None

    async def release(self, source: str) -> None:
        table = PollerLease.__table__
        async with self.ledger.connection(write=True) as conn:
            await conn.execute(
                update(table)
                .where(table.c.source == source, table.c.owner == self.owner)
                .values(owner=None, lease_until=None)
            )

    async def lease(self, source: str) -> PollerLease | None:
        async with self.ledger.session() as session:
            return await session.get(PollerLease, source)

    async def finish(
        self,
        source: str,
        now: datetime,
        error: str | None = None,
        paused_until: datetime | None = None,
    ) -> int:
        """Record a round's outcome; the consecutive error count after it."""
        async with self.ledger.session(write=True) as session:
            row = await session.get(PollerLease, source)
            if row is None:
                return 0
            row.paused_until = paused_until
            if error is None:
                row.consecutive_errors, row.last_success_at = 0, now
            else:
                row.consecutive_errors += 1
                row.errors_total += 1
                row.last_error, row.last_error_at = error[:512], now
            return row.consecutive_errors

    async def cursor(self, source: str, target: str) -> PollerCursor | None:
        async with self.ledger.session() as session:
            return await session.get(PollerCursor, (source, target))

    async def cursors(self, source: str) -> dict[str, PollerCursor]:
        async with self.ledger.session() as session:
            rows = await session.scalars(select(PollerCursor).where(PollerCursor.source == source))
            return {row.target: row for row in rows}

    async def save(
        self,
        source: str,
        target: str,
        position: dict,
        now: datetime,
        next_poll_at: datetime | None = None,
        polled: bool = False,
    ) -> None:
        """Store the cursor, only while this replica holds the source's lease. Raises ``LeaseLost``."""
        encoded = json.dumps(position, sort_keys=True)
        async with self.ledger.session(write=True) as session:
            lease = await session.get(PollerLease, source, with_for_update=True)
            if lease is None or lease.owner != self.owner:
                raise LeaseLost(source)
            values = {"position": encoded, "updated_at": now}
            if next_poll_at is not None:
                values["next_poll_at"] = next_poll_at
            if polled:
                values["last_polled_at"] = now
            if not await insert_ignore(
                session,
                PollerCursor,
                [
                    {
                        "source": source,
                        "target": target,
                        "next_poll_at": None,
                        "last_polled_at": None,
                        **values,
                    }
                ],
            ):
                await session.execute(
                    update(PollerCursor)
                    .where(PollerCursor.source == source, PollerCursor.target == target)
                    .values(**values)
                )

    async def drop(self, source: str, target: str) -> None:
        """Delete a target's row (a held mention once published), only while this replica holds the
        source's lease. Raises ``LeaseLost``."""
        async with self.ledger.session(write=True) as session:
            lease = await session.get(PollerLease, source, with_for_update=True)
            if lease is None or lease.owner != self.owner:
                raise LeaseLost(source)
            await session.execute(
                delete(PollerCursor).where(
                    PollerCursor.source == source, PollerCursor.target == target
                )
            )


def is_due(row: PollerCursor | None, now: datetime) -> bool:
    """A target with no cursor yet, or whose ``next_poll_at`` has come."""
    return row is None or row.next_poll_at is None or aware(row.next_poll_at) <= now
