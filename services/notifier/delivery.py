"""Delivery of a notification to a target, with retries and backoff.

* ``webhook``: a JSON POST signed like Standard Webhooks (``webhook-id`` is the delivery's
  idempotency key; HMAC-SHA256 over ``id.timestamp.body``), verifiable with the signing key.
* ``pagerduty``: PagerDuty Events API v2 (``event_action: trigger``, ``dedup_key`` = incident id,
  so PagerDuty itself folds repeats into one alert). Direct httpx: apprise's PagerDuty plugin
  cannot set ``dedup_key`` nor the ack/resolve links, and the API is one POST.
* ``apprise``: anything apprise speaks by URL — Slack, Microsoft Teams, Mattermost, e-mail
  (``mailto://``), SMS gateways (Twilio, Vonage, …), Telegram and more.

``Deliverer.send`` never raises for a failed delivery: it returns the outcome so the caller can
fall through to the next escalation step and record why. Every attempt is bounded: one that
takes longer than twice ``NOTIFIER_PAGE_TIMEOUT_S`` (connect, then answer; apprise's own
clients included) fails as timed out, so a hanging target never stalls the scheduler.
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass, field
from datetime import UTC, datetime

import apprise
import httpx
import orjson
from standardwebhooks import Webhook

from services.notifier.oncall import Target
from shared.events import Page
from shared.logging import get_logger

log = get_logger(__name__)
PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"


class DeliveryFailed(RuntimeError):
    """The target did not accept the notification (network error, non-2xx, refused)."""


def webhook_secret(signing_key: str) -> str:
    """The Standard Webhooks secret (``whsec_<base64>``) for a raw signing key."""
    if signing_key.startswith("whsec_"):
        return signing_key
    return "whsec_" + base64.b64encode(signing_key.encode()).decode()


@dataclass(frozen=True)
class Notification:
    """What one person's target receives: a page (with signed one-click links) or a digest."""

    delivery_id: str
    kind: str  # page.triggered or digest
    title: str
    body: str
    incident_id: str | None = None
    person: str | None = None
    page: Page | None = None
    links: dict[str, str] = field(default_factory=dict)
    details: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    ok: bool
    attempts: int
    error: str | None = None


class Deliverer:
    """Sends to named targets. ``send`` blocks through its retries; it does not raise."""

    def __init__(
        self,
        targets: dict[str, Target],
        secrets: dict[str, str],
        page_url: str | None,
        signing_key: str,
        timeout_s: float,
        attempts: int = 3,
        backoff_s: float = 0.2,
    ) -> None:
        self.targets, self.secrets, self.page_url = targets, secrets, page_url
        self.attempts, self.backoff_s, self.timeout_s = attempts, backoff_s, timeout_s
        self._webhook = Webhook(webhook_secret(signing_key))
        self._client = httpx.AsyncClient(timeout=timeout_s)

    async def send(self, target_name: str, note: Notification) -> Outcome:
        return await self._retrying(target_name, lambda: self._send_once(target_name, note))

    def kind_of(self, target_name: str) -> str | None:
        target = self.targets.get(target_name)
        return target.kind if target else None

    async def follow_up(self, target_name: str, incident_id: str, action: str) -> Outcome:
        """Tell a PagerDuty target that the incident was acknowledged or resolved in Switchboard
        (Events API v2 ``event_action: acknowledge|resolve`` with the same ``dedup_key``)."""
        if action not in ("acknowledge", "resolve"):
            raise ValueError(f"unknown follow-up action {action!r}")
        target = self.targets.get(target_name)
        if target is None or target.kind != "pagerduty":
            return Outcome(False, 0, f"{target_name!r} is not a PagerDuty target")
        event = {
            "routing_key": self.secrets.get(target_name, ""),
            "event_action": action,
            "dedup_key": incident_id,
        }
        url = target.url or PAGERDUTY_URL
        return await self._retrying(
            target_name,
            lambda: self._post(url, orjson.dumps(event), {"content-type": "application/json"}),
        )

    async def _retrying(self, target_name: str, call) -> Outcome:
        delay, error = self.backoff_s, "unknown target"
        for attempt in range(1, self.attempts + 1):
            try:
                await self._bounded(call)
                return Outcome(True, attempt)
            except DeliveryFailed as exc:
                error = str(exc)
                log.warning("delivery.failed", target=target_name, attempt=attempt, error=error)
            if attempt < self.attempts:
                await asyncio.sleep(delay)
                delay *= 2
        return Outcome(False, self.attempts, error)

    async def _bounded(self, call) -> None:
        try:
            await asyncio.wait_for(call(), 2 * self.timeout_s)
        except TimeoutError as exc:
            raise DeliveryFailed(f"no answer within {2 * self.timeout_s:g}s") from exc

    async def _send_once(self, target_name: str, note: Notification) -> None:
        target = self.targets.get(target_name)
        if target is None:
            raise DeliveryFailed(f"unknown target {target_name!r}")
        if target.kind == "webhook":
            await self._webhook_post(target.url or self.page_url, note)
        elif target.kind == "pagerduty":
            await self._pagerduty(target, target_name, note)
        else:
            await self._apprise(self.secrets.get(target_name) or target.url, note)

    async def _post(self, url: str | None, body: bytes, headers: dict[str, str]) -> None:
        if not url:
            raise DeliveryFailed("no URL configured")
        try:
            response = await self._client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"{url}: {type(exc).__name__}: {exc}") from exc
        if response.status_code >= 300:
            raise DeliveryFailed(f"{url} answered {response.status_code}")

    async def _webhook_post(self, url: str | None, note: Notification) -> None:
        payload = {
            "type": note.kind,
            "title": note.title,
            "text": note.body,
            "incident_id": note.incident_id,
            "person": note.person,
            "links": note.links,
            "details": note.details,
            "data": note.page.model_dump(mode="json") if note.page else None,
        }
        body = orjson.dumps(payload).decode()
        now = datetime.now(UTC)
        headers = {
            "content-type": "application/json",
            "webhook-id": note.delivery_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": self._webhook.sign(note.delivery_id, now, body),
        }
        await self._post(url, body.encode(), headers)

    async def _pagerduty(self, target: Target, name: str, note: Notification) -> None:
        event = {
            "routing_key": self.secrets.get(name, ""),
            "event_action": "trigger",
            "dedup_key": note.incident_id or note.delivery_id,
            "payload": {
                "summary": note.title[:1024],
                "source": "switchboard",
                "severity": "critical",
                "custom_details": {"text": note.body, "person": note.person, **note.details},
            },
            "links": [{"href": href, "text": text} for text, href in note.links.items()],
        }
        url = target.url or PAGERDUTY_URL
        await self._post(url, orjson.dumps(event), {"content-type": "application/json"})

    async def _apprise(self, url: str | None, note: Notification) -> None:
        notifier = apprise.Apprise()
        if not url or not notifier.add(url):
            raise DeliveryFailed("apprise URL missing or not understood")
        links = "\n".join(f"{text}: {href}" for text, href in note.links.items())
        if not await notifier.async_notify(
            body=f"{note.body}\n\n{links}".strip(), title=note.title
        ):
            raise DeliveryFailed(f"apprise could not deliver to {notifier[0].service_name}")

    async def close(self) -> None:
        await self._client.aclose()
