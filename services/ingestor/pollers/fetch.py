"""HTTP for the pollers: a GET (or POST) with retries — 429 waits ``Retry-After``, 5xx and
transport errors back off exponentially with jitter, other 4xx fail at once — and the JSON
answer of a platform read strictly. A poll that cannot complete raises ``PollFailed``: the
cursor stays where it was and the scheduler backs the source off.
"""

from __future__ import annotations

import email.utils
import json
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from prometheus_client import Counter

from services.ingestor.settings import IngestorSettings
from shared.logging import get_logger

log = get_logger(__name__)
POLL_REQUESTS = Counter(
    "switchboard_ingestor_poll_requests_total",
    "Poller HTTP requests by source and outcome",
    ["source", "outcome"],
)
Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]


class PollFailed(Exception):
    """A poll could not complete (after retries, or a refusal); the cursor stays. ``delay_s`` is
    the least time before the next try (a ``Retry-After``), if any."""

    def __init__(
        self,
        reason: str,
        delay_s: float | None = None,
        status: int | None = None,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(reason)
        self.delay_s, self.status, self.body, self.headers = delay_s, status, body, headers or {}


def json_answer(response: httpx.Response, what: str, kind: type) -> dict | list:
    """The JSON document of a platform answer, which must be a ``kind`` (dict or list). Raises
    ``PollFailed`` naming ``what`` when it is not JSON or not that shape."""
    try:
        document = json.loads(response.content)
    except ValueError as exc:
        raise PollFailed(f"{what} answer is not JSON: {exc}") from None
    if not isinstance(document, kind):
        raise PollFailed(f"{what} answer is not a JSON {'object' if kind is dict else 'array'}")
    return document


def retry_after_s(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` as seconds from ``now``: delta-seconds or an HTTP-date; ``None`` if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(min(int(value), 7 * 86400))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, min((when - now).total_seconds(), 7 * 86400))


@dataclass
class Http:
    """GET with retries: 429 waits ``Retry-After`` (else the backoff), 5xx and transport errors back
    off exponentially with jitter; other 4xx fail at once. ``before`` runs before each attempt
    (lease renewal). Raises ``PollFailed`` when attempts are exhausted."""

    client: httpx.AsyncClient
    source: str
    settings: IngestorSettings
    clock: Clock
    sleep: Sleep
    rand: random.Random
    before: Callable[[], Awaitable[None]] | None = None

    def backoff_s(self, attempt: int) -> float:
        """Exponential backoff with equal jitter: in [d/2, d], d = base * 2**attempt (capped)."""
        delay = min(self.settings.poll_max_backoff_s, self.settings.poll_backoff_s * 2**attempt)
        return delay / 2 + self.rand.uniform(0, delay / 2)

    async def get(
        self, url: str, params=None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return await self.request("GET", url, params=params, headers=headers)

    async def request(
        self,
        method: str,
        url: str,
        params=None,
        headers: dict[str, str] | None = None,
        data: dict | None = None,
    ) -> httpx.Response:
        last = "no attempt"
        for attempt in range(self.settings.poll_max_attempts):
            if self.before is not None:
                await self.before()
            try:
                response = await self.client.request(
                    method, url, params=params, headers=headers, data=data
                )
            except httpx.HTTPError as exc:
                outcome, delay, last = (
                    "transport_error",
                    self.backoff_s(attempt),
                    f"{type(exc).__name__}: {exc}"[:300],
                )
            else:
                status = response.status_code
                if status < 400:
                    POLL_REQUESTS.labels(
                        self.source, "ok" if status != 304 else "not_modified"
                    ).inc()
                    return response
                last = f"HTTP {status} from {response.request.url.host}"
                if status == 429:
                    outcome = "rate_limited"
                    delay = retry_after_s(
                        response.headers.get("retry-after"), self.clock()
                    ) or self.backoff_s(attempt)
                elif status >= 500:
                    outcome = "server_error"
                    delay = max(
                        self.backoff_s(attempt),
                        retry_after_s(response.headers.get("retry-after"), self.clock()) or 0.0,
                    )
                else:
                    POLL_REQUESTS.labels(self.source, "refused").inc()
                    raise PollFailed(
                        f"{last}: {response.text[:200]}",
                        status=status,
                        body=response.content[:4096],
                        headers={k.lower(): v[:4096] for k, v in response.headers.items()},
                    )
            POLL_REQUESTS.labels(self.source, outcome).inc()
            if attempt + 1 == self.settings.poll_max_attempts:
                raise PollFailed(f"{last} after {attempt + 1} attempts", delay)
            log.info(
                "poll.retry",
                source=self.source,
                reason=last,
                retry_in_s=round(delay, 3),
                attempt=attempt + 1,
            )
            await self.sleep(delay)
        raise PollFailed(last)
