"""Delivery of a page to an HTTP endpoint, signed like Standard Webhooks.

The receiver can verify ``webhook-signature`` (v1, HMAC-SHA256 over ``id.timestamp.body``)
with the shared signing key, and deduplicate on ``webhook-id`` (the page's idempotency key).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import httpx
import orjson
from standardwebhooks import Webhook

from shared.events import Page
from shared.logging import get_logger

log = get_logger(__name__)


class DeliveryFailed(RuntimeError):
    """The target did not accept the page (network error or non-2xx); retry later."""


def webhook_secret(signing_key: str) -> str:
    """The Standard Webhooks secret (``whsec_<base64>``) for a raw signing key."""
    if signing_key.startswith("whsec_"):
        return signing_key
    return "whsec_" + base64.b64encode(signing_key.encode()).decode()


class HttpPager:
    """POSTs pages as JSON. ``deliver`` blocks until the target answered; raises ``DeliveryFailed``."""

    def __init__(self, url: str | None, signing_key: str, timeout_s: float) -> None:
        self.url = url
        self._webhook = Webhook(webhook_secret(signing_key))
        self._client = httpx.AsyncClient(timeout=timeout_s)

    async def deliver(self, page: Page, page_id: str) -> None:
        if self.url is None:
            log.warning("page.no_endpoint", incident=page.incident_key, summary=page.summary)
            return
        body = orjson.dumps({"type": "page.triggered", "data": page.model_dump(mode="json")}).decode()
        now = datetime.now(UTC)
        headers = {
            "content-type": "application/json", "webhook-id": page_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": self._webhook.sign(page_id, now, body),
        }
        try:
            response = await self._client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"{self.url}: {type(exc).__name__}: {exc}") from exc
        if response.status_code >= 300:
            raise DeliveryFailed(f"{self.url} answered {response.status_code}")

    async def close(self) -> None:
        await self._client.aclose()
