"""Routed items whose publication never finished, published again.

The consumer stores a routed item as ``pending`` (with the routed event as it will be published,
``RoutedItem.record``) in the transaction of its batch, the runner publishes the batch's outputs
and, once the broker acknowledged them, marks the items ``queued``. Replaying the batch (its
offsets are committed only after that) normally finishes an interrupted publication, but not
always: a replayed message that the routing rules no longer place, or that is dead-lettered by
a newer version, or offsets moved past it by hand, leave the item ``pending`` for good.

``Republisher.sweep`` (a periodic job of the runtime) finds items pending for longer than the
grace (``ROUTER_PENDING_GRACE_S``: far longer than a batch takes, so it does not race the
consumer that is still publishing them) and, in one transaction per round, adds their events to
the outbox — the routed event on the main topic and on the queue's own topic, and the
assignment made when it was routed — and marks them ``queued``; the relay publishes them. Event
ids are the ones the consumer would have published (the routed event's own id, the
assignment's derived id), so a copy that did get out earlier is deduplicated by consumers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from services.router.outbox import Relay, assigned_event
from services.router.store import aware, transaction
from services.router.tables import RoutedItem
from shared import topics
from shared.codec import decode
from shared.events import Assignment, Envelope, ItemRouted
from shared.logging import get_logger

log = get_logger(__name__)
BATCH = 200  # items per transaction


class Republisher:
    """Re-publishes stale pending items through the outbox; ``sweep`` is idempotent and safe to
    run on every replica (PostgreSQL: rows locked, ``SKIP LOCKED``)."""

    def __init__(
        self, sessions, relay: Relay, clock: Callable[[], datetime], grace: timedelta
    ) -> None:
        self._sessions, self._relay, self._clock, self._grace = sessions, relay, clock, grace

    async def sweep(self) -> int:
        """Move every item pending for longer than the grace to the outbox; wakes the relay.
        Returns how many items were re-published."""
        total = 0
        while (done := await self._round()) > 0:
            total += done
            if done < BATCH:
                break
        if total:
            self._relay.notify()
            log.warning("router.pending_republished", items=total)
        return total

    async def _round(self) -> int:
        now = self._clock()
        async with transaction(self._sessions) as repo:
            rows = await repo.stale_pending(now - self._grace, BATCH)
            for row in rows:
                for topic, event in events_of(row):
                    await repo.add_to_outbox(topic, event, now)
            await repo.mark_queued([row.message_key for row in rows])
            await repo.commit()
        return len(rows)


def events_of(row: RoutedItem) -> list[tuple[str, Envelope]]:
    """What the consumer publishes for ``row``: the routed event (main topic and the queue's
    topic) and, when an agent took the item as it was routed, the assignment."""
    assert row.record is not None
    routed = decode(
        [(k, v.encode()) for k, v in row.record["headers"]], row.record["value"].encode()
    )
    assert isinstance(routed, ItemRouted)
    out: list[tuple[str, Envelope]] = [
        (topics.ROUTED, routed),
        (topics.per_queue(topics.ROUTED, row.queue), routed),
    ]
    agent = routed.data.routing.assigned_agent
    if agent is not None and agent == row.agent_id and row.assigned_at is not None:
        made = Assignment(
            item_id=row.event_id,
            message_key=row.message_key,
            conversation_key=row.conversation_key,
            queue=row.queue,
            agent_id=agent,
            cause="routed",
            relax_level=row.relax_level,
            assigned_at=aware(row.assigned_at),
        )
        out.append((topics.ASSIGNED, assigned_event(made, routed.correlation_id)))
    return out
