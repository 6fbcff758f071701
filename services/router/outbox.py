"""The router's transactional outbox (``shared.outbox``): events it emits outside a consumer's
produce path, in ``router_outbox``.

The sweeper's re-offers (and the assignments made after skills relaxed), re-publications of
routed items whose publication did not finish (``pending.py``), re-offers after a helpdesk
resolved an item, four-eyes releases and manual assignments through the API, and re-tag
corrections for the classifier are not answers to a consumed record whose offset commit could
wait for the broker. So ``add`` writes the encoded event in the *same* database transaction as
the change it reports and the ``Relay`` publishes it after the commit — bounded, retried,
at-least-once with derived event ids — then hands it to the Standard Webhooks bridge.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from prometheus_client import Gauge
from sqlalchemy.ext.asyncio import AsyncSession

from services.router.settings import RouterSettings
from services.router.tables import OutboxRow
from shared import outbox
from shared.events import Assignment, Envelope, ItemAssigned, derived_id
from shared.outbox import RETENTION, row_event

SOURCE = "switchboard/router"
PENDING = Gauge(
    "switchboard_router_outbox_pending", "Router outbox events committed but not yet published"
)
RELAY_LOCK = 0x5357_4F55_5442_4F58  # pg advisory lock key ("SWOUTBOX"): one relay round at a time


def assigned_event(a: Assignment, correlation_id: str) -> ItemAssigned:
    """The published form of an assignment; its id is derived, so re-publishing deduplicates."""
    return ItemAssigned(
        id=derived_id(
            a.item_id, f"router:assigned:{a.agent_id}:{a.assigned_at.astimezone(UTC).isoformat()}"
        ),
        source=SOURCE,
        time=a.assigned_at,
        correlation_id=correlation_id,
        subject=a.conversation_key,
        data=a,
    )


async def add(session: AsyncSession, topic: str, event: Envelope, now: datetime) -> bool:
    """``shared.outbox.add`` into ``router_outbox``: committed by the caller with its change;
    an (event id, topic) already there is skipped. Returns whether a row was added."""
    return await outbox.add(session, OutboxRow, topic, event, now)


class Relay(outbox.Relay):
    """Publishes ``router_outbox``, then gives the sent events to the webhook bridge."""

    def __init__(
        self,
        sessions,
        settings: RouterSettings,
        client_id: str = "router-outbox",
        bridge=None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(
            sessions,
            OutboxRow,
            settings,
            service="router",
            client_id=client_id,
            lock_key=RELAY_LOCK,
            gauge=PENDING,
            clock=clock,
        )
        self.bridge = bridge

    async def on_sent(self, rows: Sequence[OutboxRow], now: datetime) -> None:
        if self.bridge is not None:  # per-queue copies share their event's id: each event once
            events = {r.event_id: r for r in rows}
            await self.bridge.enqueue([row_event(r) for r in events.values()], now)


__all__ = ["RETENTION", "Relay", "add", "assigned_event", "row_event"]
