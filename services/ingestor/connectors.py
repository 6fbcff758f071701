"""Silent-connector detection: ``ConnectorStatusChanged`` (``silent`` / ``recovered``) on
``switchboard.connectors.status.v1``, keyed by source name, for the notifier to page on.

Every replica counts its own events per source in memory (``observe``: no I/O on the request
path) and writes the last-event time to ``connector_activity`` at most every
``INGESTOR_SILENCE_FLUSH_S`` per source, learning the usual inter-arrival time as an EWMA. Every
``INGESTOR_SILENCE_CHECK_S`` each replica checks each source against its expected interval: the
configured one (``INGESTOR_SOURCE_EXPECTED_INTERVALS`` or a poll source's
``expected_interval_s``), else ``max(silence_min_interval_s, EWMA x silence_factor)`` once
``silence_min_samples`` intervals were seen (before that, no alarm on a learned rhythm).

Event ids are derived from (source, state, silence start), so when several replicas notice the
same silence they publish the same id and the notifier, idempotent on the id, pages once. The
state is written after the broker acknowledged the event: a crash in between re-sends the same id.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from prometheus_client import Counter
from sqlalchemy import update

from services.ingestor.delivery import Delivery, DeliveryUnavailable
from services.ingestor.ledger import Ledger, LedgerUnavailable, aware, insert_ignore
from services.ingestor.settings import IngestorSettings
from services.ingestor.tables import ConnectorActivity
from shared import topics
from shared.codec import encode
from shared.events import (
    ConnectorState,
    ConnectorStatus,
    ConnectorStatusChanged,
    derived_id,
)
from shared.logging import get_logger

log = get_logger(__name__)
STATUS_EVENTS = Counter(
    "switchboard_ingestor_connector_status_total",
    "ConnectorStatusChanged events published",
    ["source", "state"],
)
_ALPHA = 0.3


@dataclass
class _Pending:
    events: int = 0
    errors: int = 0
    last_event_at: datetime | None = None


class SilenceWatch:
    """One per process; ``observe`` is fed by ``SourceHealth`` (webhooks and pollers alike)."""

    def __init__(
        self,
        settings: IngestorSettings,
        ledger: Ledger,
        delivery: Delivery,
        sources: dict[str, str],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings, self.ledger, self.delivery, self.sources, self.clock = (
            settings,
            ledger,
            delivery,
            sources,
            clock,
        )
        self.expected = {
            name: s.expected_interval_s
            for name, s in settings.poll_sources.items()
            if s.expected_interval_s
        }
        self.expected.update(settings.source_expected_intervals)
        self._pending: dict[str, _Pending] = {}
        self._flushed: dict[str, float] = {}
        self._topic = topics.qualified(topics.CONNECTORS, settings.kafka_topic_namespace)

    def observe(self, source: str, messages: int, error: bool) -> None:
        """Count what ``source`` just delivered (no I/O)."""
        if source not in self.sources or not (messages or error):
            return
        pending = self._pending.setdefault(source, _Pending())
        if messages:
            pending.events += messages
            pending.errors = 0
            pending.last_event_at = self.clock()
        if error:
            pending.errors += 1

    async def flush(self, force: bool = False) -> None:
        """Write pending last-event times and error counts (at most every ``silence_flush_s`` per source)."""
        now = self.clock()
        for source in list(self._pending):
            stamp = now.timestamp()
            if (
                not force
                and stamp - self._flushed.get(source, float("-inf")) < self.settings.silence_flush_s
            ):
                continue
            pending = self._pending.pop(source)
            try:
                await self._write(source, pending, now)
            except LedgerUnavailable:
                self._pending[source] = pending  # try again next time
                continue
            self._flushed[source] = stamp

    async def _write(self, source: str, pending: _Pending, now: datetime) -> None:
        async with self.ledger.session(write=True) as session:
            await insert_ignore(session, ConnectorActivity, [_fresh(source, now)])
            row = await session.get(ConnectorActivity, source, with_for_update=True)
            previous = aware(row.last_event_at)
            if pending.last_event_at is not None and (
                previous is None or pending.last_event_at > previous
            ):
                if previous is not None:
                    sample = (pending.last_event_at - previous).total_seconds() / max(
                        1, pending.events
                    )
                    row.ewma_interval_s = (
                        sample
                        if row.ewma_interval_s is None
                        else _ALPHA * sample + (1 - _ALPHA) * row.ewma_interval_s
                    )
                    row.samples += 1
                row.last_event_at = pending.last_event_at
                row.errors = pending.errors
            else:
                row.errors += pending.errors

    def expected_interval(self, row: ConnectorActivity) -> float | None:
        if row.source in self.expected:
            return self.expected[row.source]
        if row.samples >= self.settings.silence_min_samples and row.ewma_interval_s:
            return max(
                self.settings.silence_min_interval_s,
                row.ewma_interval_s * self.settings.silence_factor,
            )
        return None

    async def check(self) -> list[ConnectorStatusChanged]:
        """Publish a status change for every source that went silent or recovered; those published."""
        now, published = self.clock(), []
        async with self.ledger.session(write=True) as session:
            await insert_ignore(
                session, ConnectorActivity, [_fresh(source, now) for source in self.sources]
            )
        async with self.ledger.session() as session:
            rows = [await session.get(ConnectorActivity, source) for source in sorted(self.sources)]
        for row in rows:
            change = self._change(row, now)
            if change is None:
                continue
            event, since = change
            try:
                await self.delivery.publish(self._topic, encode(event), "connector")
            except DeliveryUnavailable as exc:
                log.warning("connector.publish_failed", source=row.source, error=str(exc))
                continue
            await self._record(row.source, event.data.state, since)
            STATUS_EVENTS.labels(row.source, event.data.state).inc()
            log.warning(
                "connector.status",
                source=row.source,
                state=event.data.state,
                silent_s=round(event.data.silent_seconds),
                expected_s=event.data.expected_interval_seconds,
            )
            published.append(event)
        return published

    def _change(
        self, row: ConnectorActivity, now: datetime
    ) -> tuple[ConnectorStatusChanged, datetime] | None:
        expected = self.expected_interval(row)
        last = aware(row.last_event_at)
        basis = last or aware(row.watching_since)
        if row.state != ConnectorState.SILENT:
            if expected is None or (now - basis).total_seconds() <= expected:
                return None
            state, since = ConnectorState.SILENT, basis
        else:
            since = aware(row.silent_since) or basis
            if last is None or last <= since:
                return None
            state = ConnectorState.RECOVERED
        event_id = derived_id(f"{row.source}:{state}:{since.isoformat()}", "ingestor-connector")
        silent = max(
            0.0, ((last if state == ConnectorState.RECOVERED else now) - since).total_seconds()
        )
        data = ConnectorStatus(
            source=row.source,
            platform=self.sources[row.source],
            state=state,
            last_event_at=last,
            silent_seconds=silent,
            expected_interval_seconds=expected or 1.0,
            errors=row.errors,
            detected_at=now,
        )
        return ConnectorStatusChanged(
            id=event_id,
            source="switchboard/ingestor/connectors",
            time=now,
            correlation_id=event_id,
            subject=row.source,
            data=data,
        ), since

    async def _record(self, source: str, state: ConnectorState, since: datetime) -> None:
        table = ConnectorActivity.__table__
        silent = state == ConnectorState.SILENT
        try:
            async with self.ledger.connection(write=True) as conn:
                await conn.execute(
                    update(table)
                    .where(table.c.source == source)
                    .values(
                        state="silent" if silent else "ok", silent_since=since if silent else None
                    )
                )
        except LedgerUnavailable as exc:
            log.warning("connector.record_failed", source=source, error=str(exc))

    async def run(self, sleep=asyncio.sleep) -> None:
        """Flush and check every ``silence_check_s`` until cancelled."""
        while True:
            try:
                await self.flush()
                await self.check()
            except LedgerUnavailable:
                pass
            except Exception as exc:  # noqa: BLE001 - keep watching
                log.error("connector.check_crashed", error=type(exc).__name__, exc_info=exc)
            await sleep(min(self.settings.silence_check_s, self.settings.silence_flush_s))

    async def close(self) -> None:
        try:
            await self.flush(force=True)
        except LedgerUnavailable:
            pass


def _fresh(source: str, now: datetime) -> dict:
    return {
        "source": source,
        "last_event_at": None,
        "ewma_interval_s": None,
        "samples": 0,
        "errors": 0,
        "state": "ok",
        "silent_since": None,
        "watching_since": now,
    }
