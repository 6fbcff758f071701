"""Group commit for the ledger (and coalesced dedup lookups): the rows and raw bodies of
concurrent requests share one transaction, written by one task at a time.

Why: every accepted webhook must be recorded before it is answered, and SQLite (one writer,
busy-wait on the lock) or a PostgreSQL round trip per request caps throughput far below the
HTTP layer. While one transaction is being written, arriving records queue up and go together in
the next one, so the number of transactions adapts to the load. ``record`` blocks until its
own rows are committed and raises ``LedgerUnavailable`` if that transaction failed.
"""

from __future__ import annotations

import asyncio

from services.ingestor.ledger import Ledger
from services.ingestor.tables import IngestedMessage, RawPayload

_MAX_ROWS = 2000  # per transaction: bounded statement size


class Recorder:
    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self._pending: list[tuple[list[IngestedMessage], RawPayload | None, asyncio.Future]] = []
        self._writer: asyncio.Task | None = None

    async def record(self, rows: list[IngestedMessage], raw: RawPayload | None) -> None:
        """Commit ``rows`` and ``raw`` (with whatever else is pending). Raises ``LedgerUnavailable``."""
        done = asyncio.get_running_loop().create_future()
        self._pending.append((rows, raw, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain(), name="ledger-group-commit")
        await asyncio.shield(done)  # a cancelled request must not cancel the others' transaction

    async def _drain(self) -> None:
        while self._pending:
            batch, taken = [], 0
            while self._pending and (not batch or taken + len(self._pending[0][0]) <= _MAX_ROWS):
                batch.append(self._pending.pop(0))
                taken += len(batch[-1][0])
            await self._write(batch)

    async def _write(self, batch: list) -> None:
        rows = list({row.message_key: row for rows, _, _ in batch for row in rows}.values())
        raws = list({raw.sha256: raw for _, raw, _ in batch if raw is not None}.values())
        try:
            await self._ledger.record_batch(rows, raws)
        except Exception as exc:  # noqa: BLE001 - handed to every waiter, who decides
            for _, _, done in batch:
                if not done.done():
                    done.set_exception(exc)
            return
        for _, _, done in batch:
            if not done.done():
                done.set_result(None)


class Lookups:
    """Coalesced dedup lookups: the keys of concurrent requests go in one query (same reason)."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self._pending: list[tuple[list[str], asyncio.Future]] = []
        self._reader: asyncio.Task | None = None

    async def find_many(self, keys: list[str]) -> dict[str, str]:
        """``{key: event id}`` of the ``keys`` already recorded. Raises ``LedgerUnavailable``."""
        done = asyncio.get_running_loop().create_future()
        self._pending.append((keys, done))
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._drain(), name="ledger-coalesced-lookup")
        return await asyncio.shield(done)

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                found = await self._ledger.find_many(key for keys, _ in batch for key in keys)
            except Exception as exc:  # noqa: BLE001 - handed to every waiter
                for _, done in batch:
                    done.done() or done.set_exception(exc)
                continue
            for keys, done in batch:
                done.done() or done.set_result({key: found[key] for key in keys if key in found})
