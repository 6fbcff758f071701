"""A Standard Webhooks bridge for helpdesks that cannot read Kafka.

Every event the router publishes for helpdesks (routed, assigned, released reply) is, once
the broker acknowledged it, queued in ``router_webhook_deliveries`` for each configured
endpoint — once per (endpoint, event id), so redeliveries change nothing. ``deliver_due``
POSTs what is due, signed per https://www.standardwebhooks.com/ (``webhook-id`` = event id,
``webhook-timestamp``, ``webhook-signature: v1,<base64 HMAC-SHA256>``); a non-2xx answer or
a network error is retried on ``RETRY_SCHEDULE`` (about three days in all), after which the
delivery is dead-lettered: state ``dead``, audited, replayable by an admin.

An endpoint may have a ``WebhookFilter`` (its queues, its event types): rows are only created
for the events it wants, so delivery, retries, dead-lettering and replay stay as they are. The
queue is on routed (``routing.queue``) and assigned (``queue``) events; a released reply does
not carry it, so it is read from the item's ledger row (``routed_items.queue``, by item id).
Filters are checked when the router starts — event types here, queues against the live routing
configuration (``check_queues``) — and before an admin saves a routing document without one of
the filtered queues; a queue that disappears anyway (another replica's settings) only stops
matching.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select
from standardwebhooks import Webhook

from services.router.rules import RoutingConfig
from services.router.settings import WebhookFilter
from services.router.store import Repository, audit, utc
from services.router.tables import WebhookDelivery
from shared.events import Envelope, ItemAssigned, ItemRouted, ReplyReleased
from shared.logging import get_logger

log = get_logger(__name__)
PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"
FORWARDED = (ItemRouted, ItemAssigned, ReplyReleased)
FORWARDED_TYPES = tuple(cls.TYPE for cls in FORWARDED)
# waits after attempt 1, 2, …: the Standard Webhooks/Svix ladder stretched to ~3 days in all
RETRY_SCHEDULE = tuple(
    timedelta(seconds=s)
    for s in (5, 300, 1800, 7200, 5 * 3600, 10 * 3600, 10 * 3600, 20 * 3600, 24 * 3600)
)


def payload(event: Envelope) -> str:
    """The JSON body: the CloudEvents structured form (attributes and ``data`` together)."""
    return event.model_dump_json(by_alias=True)


class WebhookFilterError(ValueError):
    """A webhook filter names an event type the bridge does not forward or a queue that does not exist."""


def wants(flt: WebhookFilter | None, event_type: str, queue: str | None) -> bool:
    """Whether an endpoint with filter ``flt`` receives an event of this type and queue
    (``None``: the queue is unknown, which only endpoints without a queue filter accept)."""
    if flt is None:
        return True
    if flt.event_types is not None and event_type not in flt.event_types:
        return False
    return flt.queues is None or queue in flt.queues


class WebhookBridge:
    def __init__(
        self,
        sessions,
        endpoints: dict[str, str],
        secrets: dict[str, str],
        timeout_s: float = 10.0,
        filters: dict[str, WebhookFilter] | None = None,
    ) -> None:
        """Raises ``WebhookFilterError`` when a filter names an event type that is not forwarded."""
        self._sessions, self.endpoints = sessions, dict(endpoints)
        self._signers = {name: Webhook(secrets[name]) for name in endpoints}
        self._timeout_s = timeout_s
        self.filters = dict(filters or {})
        for name, flt in sorted(self.filters.items()):
            if unknown := sorted((flt.event_types or set()) - set(FORWARDED_TYPES)):
                raise WebhookFilterError(
                    f"webhook endpoint {name!r}: unknown event type(s) {', '.join(unknown)} "
                    f"(forwarded: {', '.join(FORWARDED_TYPES)})"
                )

    def check_queues(self, config: RoutingConfig, what: str = "the routing configuration") -> None:
        """Raise ``WebhookFilterError`` when a filter names a queue ``config`` does not have."""
        queues = {q.id for q in config.queues}
        problems = [
            f"webhook endpoint {name!r}: unknown queue(s) {', '.join(sorted(flt.queues - queues))}"
            for name, flt in sorted(self.filters.items())
            if flt.queues and flt.queues - queues
        ]
        if problems:
            raise WebhookFilterError(
                f"{'; '.join(problems)} — not in {what} (ROUTER_WEBHOOK_FILTERS)"
            )

    @property
    def enabled(self) -> bool:
        return bool(self.endpoints)

    async def enqueue(self, events: Sequence[Envelope], now: datetime) -> None:
        """Queue each forwarded event for every endpoint; known (endpoint, event) pairs are skipped."""
        wanted = [e for e in events if isinstance(e, FORWARDED)]
        if not wanted or not self.enabled:
            return
        async with self._sessions() as session:
            known = set(
                (
                    await session.execute(
                        select(WebhookDelivery.endpoint, WebhookDelivery.event_id).where(
                            WebhookDelivery.event_id.in_([e.id for e in wanted])
                        )
                    )
                ).all()
            )
            queues = await self._queues(session, wanted)
            for event in wanted:
                for name in self.endpoints:
                    if (name, event.id) not in known and wants(
                        self.filters.get(name), event.event_type, queues.get(event.id)
                    ):
                        session.add(
                            WebhookDelivery(
                                endpoint=name,
                                event_id=event.id,
                                event_type=event.event_type,
                                body=payload(event),
                                state=PENDING,
                                attempts=0,
                                next_at=utc(now),
                                created_at=utc(now),
                            )
                        )
            await session.commit()

    async def _queues(self, session, events: Sequence[Envelope]) -> dict[str, str]:
        """Event id -> its queue. A released reply's is its routed item's, looked up only when some
        endpoint filters on queues; an item not in the ledger leaves the release without one (logged)."""
        queues = {e.id: e.data.routing.queue for e in events if isinstance(e, ItemRouted)}
        queues |= {e.id: e.data.queue for e in events if isinstance(e, ItemAssigned)}
        releases = {e.id: e.data.item_id for e in events if isinstance(e, ReplyReleased)}
        if releases and any(f.queues for f in self.filters.values()):
            items = await Repository(session).queues_of(set(releases.values()))
            for event_id, item_id in releases.items():
                if item_id in items:
                    queues[event_id] = items[item_id]
                else:
                    log.warning("webhook.release_without_item", event_id=event_id, item_id=item_id)
        return queues

    async def deliver_due(self, now: datetime, limit: int = 100) -> int:
        """Attempt every due delivery once. Returns how many succeeded. Never raises on HTTP errors."""
        now = utc(now)
        async with self._sessions() as session:
            due = (
                (
                    await session.execute(
                        select(WebhookDelivery)
                        .where(
                            WebhookDelivery.state == PENDING,
                            WebhookDelivery.next_at <= now,
                        )
                        .order_by(WebhookDelivery.next_at)
                        .limit(limit)
                    )
                )
                .scalars()
                .all()
            )
            async with httpx.AsyncClient(timeout=self._timeout_s) as client:
                results = [await self._attempt(session, client, d, now) for d in due]
            await session.commit()
        return sum(results)

    async def replay(self, delivery_id: int, now: datetime, actor: str) -> bool:
        """Put a dead delivery back in line (attempts restart). False when there is no such dead one."""
        async with self._sessions() as session:
            d = await session.get(WebhookDelivery, delivery_id)
            if d is None or d.state != DEAD:
                return False
            d.state, d.attempts, d.next_at = PENDING, 0, utc(now)
            audit(
                session,
                now,
                None,
                "webhook_replayed",
                {"delivery": delivery_id, "endpoint": d.endpoint},
                actor,
            )
            await session.commit()
        return True

    async def _attempt(
        self, session, client: httpx.AsyncClient, d: WebhookDelivery, now: datetime
    ) -> bool:
        error = await self._post(client, d, now)
        d.attempts += 1
        if error is None:
            d.state, d.last_error = DELIVERED, None
            return True
        d.last_error = error[:1024]
        if d.attempts > len(RETRY_SCHEDULE):
            d.state = DEAD
            audit(
                session,
                now,
                None,
                "webhook_dead_lettered",
                {
                    "delivery": d.id,
                    "endpoint": d.endpoint,
                    "event_id": d.event_id,
                    "error": d.last_error,
                },
            )
            log.warning(
                "webhook.dead_lettered",
                endpoint=d.endpoint,
                event_id=d.event_id,
                attempts=d.attempts,
            )
        else:
            d.next_at = now + RETRY_SCHEDULE[d.attempts - 1]
        return False

    async def _post(
        self, client: httpx.AsyncClient, d: WebhookDelivery, now: datetime
    ) -> str | None:
        url = self.endpoints.get(d.endpoint)
        if url is None:
            return f"endpoint {d.endpoint!r} is no longer configured"
        signature = self._signers[d.endpoint].sign(d.event_id, now, d.body)
        headers = {
            "content-type": "application/json",
            "webhook-id": d.event_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signature,
        }
        try:
            response = await client.post(url, content=d.body.encode(), headers=headers)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        return None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
