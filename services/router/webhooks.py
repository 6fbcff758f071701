"""A Standard Webhooks bridge for helpdesks that cannot read Kafka.

Every event the router publishes for helpdesks (routed, assigned, released reply) is, once
the broker acknowledged it, queued in ``router_webhook_deliveries`` for each configured
endpoint — once per (endpoint, event id), so redeliveries change nothing. ``deliver_due``
POSTs what is due, signed per https://www.standardwebhooks.com/ (``webhook-id`` = event id,
``webhook-timestamp``, ``webhook-signature: v1,<base64 HMAC-SHA256>``); a non-2xx answer or
a network error is retried on ``RETRY_SCHEDULE`` (about three days in all), after which the
delivery is dead-lettered: state ``dead``, audited, replayable by an admin.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select
from standardwebhooks import Webhook

from services.router.store import audit, utc
from services.router.tables import WebhookDelivery
from shared.events import Envelope, ItemAssigned, ItemRouted, ReplyReleased
from shared.logging import get_logger

log = get_logger(__name__)
PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"
FORWARDED = (ItemRouted, ItemAssigned, ReplyReleased)
# waits after attempt 1, 2, …: the Standard Webhooks/Svix ladder stretched to ~3 days in all
RETRY_SCHEDULE = tuple(timedelta(seconds=s) for s in (
    5, 300, 1800, 7200, 5 * 3600, 10 * 3600, 10 * 3600, 20 * 3600, 24 * 3600))


def payload(event: Envelope) -> str:
    """The JSON body: the CloudEvents structured form (attributes and ``data`` together)."""
    return event.model_dump_json(by_alias=True)


class WebhookBridge:
    def __init__(self, sessions, endpoints: dict[str, str], secrets: dict[str, str], timeout_s: float = 10.0) -> None:
        self._sessions, self.endpoints = sessions, dict(endpoints)
        self._signers = {name: Webhook(secrets[name]) for name in endpoints}
        self._timeout_s = timeout_s

    @property
    def enabled(self) -> bool:
        return bool(self.endpoints)

    async def enqueue(self, events: Sequence[Envelope], now: datetime) -> None:
        """Queue each forwarded event for every endpoint; known (endpoint, event) pairs are skipped."""
        wanted = [e for e in events if isinstance(e, FORWARDED)]
        if not wanted or not self.enabled:
            return
        async with self._sessions() as session:
            known = set((await session.execute(select(WebhookDelivery.endpoint, WebhookDelivery.event_id).where(
                WebhookDelivery.event_id.in_([e.id for e in wanted])))).all())
            for event in wanted:
                for name in self.endpoints:
                    if (name, event.id) not in known:
                        session.add(WebhookDelivery(endpoint=name, event_id=event.id, event_type=event.event_type,
                                                    body=payload(event), state=PENDING, attempts=0,
                                                    next_at=utc(now), created_at=utc(now)))
            await session.commit()

    async def deliver_due(self, now: datetime, limit: int = 100) -> int:
        """Attempt every due delivery once. Returns how many succeeded. Never raises on HTTP errors."""
        now = utc(now)
        async with self._sessions() as session:
            due = (await session.execute(select(WebhookDelivery).where(
                WebhookDelivery.state == PENDING, WebhookDelivery.next_at <= now,
            ).order_by(WebhookDelivery.next_at).limit(limit))).scalars().all()
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
            audit(session, now, None, "webhook_replayed", {"delivery": delivery_id, "endpoint": d.endpoint}, actor)
            await session.commit()
        return True

    async def _attempt(self, session, client: httpx.AsyncClient, d: WebhookDelivery, now: datetime) -> bool:
        error = await self._post(client, d, now)
        d.attempts += 1
        if error is None:
            d.state, d.last_error = DELIVERED, None
            return True
        d.last_error = error[:1024]
        if d.attempts > len(RETRY_SCHEDULE):
            d.state = DEAD
            audit(session, now, None, "webhook_dead_lettered",
                  {"delivery": d.id, "endpoint": d.endpoint, "event_id": d.event_id, "error": d.last_error})
            log.warning("webhook.dead_lettered", endpoint=d.endpoint, event_id=d.event_id, attempts=d.attempts)
        else:
            d.next_at = now + RETRY_SCHEDULE[d.attempts - 1]
        return False

    async def _post(self, client: httpx.AsyncClient, d: WebhookDelivery, now: datetime) -> str | None:
        url = self.endpoints.get(d.endpoint)
        if url is None:
            return f"endpoint {d.endpoint!r} is no longer configured"
        signature = self._signers[d.endpoint].sign(d.event_id, now, d.body)
        headers = {"content-type": "application/json", "webhook-id": d.event_id,
                   "webhook-timestamp": str(int(now.timestamp())), "webhook-signature": signature}
        try:
            response = await client.post(url, content=d.body.encode(), headers=headers)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        return None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
