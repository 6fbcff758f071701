"""The webhook load of a trial: the benchmark's delivery generator (``bench.pipeline``: real
customer-service texts as direct messages, unique ids), signed as Standard Webhooks and sent at
a steady rate, each answer kept per delivery.

A delivery keeps its ``webhook-id`` and body, so a copy sent again is what a platform re-sends.
Nothing is retried by itself: a delivery that was not answered 2xx counts as not accepted (the
platform would re-send it; the suite measures what was promised).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field

import httpx

from bench.pipeline import bench_messages
from services.ingestor.platforms.standard_signing import sign
from tools.replay import webhook_body

TIMEOUT_S = 10.0  # a platform's patience: a delivery not answered by then is not accepted


@dataclass
class Delivery:
    message_id: str
    body: bytes
    webhook_id: str
    sent_at: float | None = None  # seconds since the trial's start, first copy
    statuses: list[int] = field(default_factory=list)  # one per copy sent; 0: no answer

    @property
    def accepted(self) -> bool:
        """Answered 2xx (the ingestor promised it), for any copy."""
        return any(200 <= status < 300 for status in self.statuses)


def deliveries(count: int, run: str, same_text: str | None = None, tag: str = "") -> list[Delivery]:
    """``count`` deliveries of distinct messages (``chaos-<run>-<tag><i>``), one conversation
    each tenth; ``same_text``: every one says it (many customers with the same request)."""
    made = []
    for i, message in enumerate(bench_messages(count)):
        message_id = f"chaos-{run}-{tag}{i}"
        message.update(message_id=message_id, conversation_id=f"chaos-{run}-{tag}c{i // 10}")
        if same_text is not None:
            message.update(
                text=same_text,
                author={"id": f"customer-{run}-{i}", "display_name": f"Customer {i}"},
            )
        made.append(Delivery(message_id, webhook_body(message), f"msg_{uuid.uuid4().hex}"))
    return made


def malformed(count: int, run: str) -> list[Delivery]:
    """Signed deliveries the ingestor must refuse with a 4xx: not JSON, not the shape, a
    message without its text."""
    bodies = [
        b"{not json",
        json.dumps({"type": "message.created", "data": "not an object"}).encode(),
        json.dumps(
            {"type": "message.created", "data": {"message_id": f"poison-{run}", "platform": 7}}
        ).encode(),
    ]
    return [
        Delivery(f"poison-{run}-{i}", bodies[i % len(bodies)], f"msg_{uuid.uuid4().hex}")
        for i in range(count)
    ]


class Sender:
    """Sends deliveries to one webhook URL, signed with ``secret``; times from ``started``."""

    def __init__(self, url: str, secret: str, started: float) -> None:
        self.url, self.secret, self.started = url, secret, started
        self._client = httpx.AsyncClient(
            timeout=TIMEOUT_S, limits=httpx.Limits(max_connections=200)
        )
        self._tasks: set[asyncio.Task] = set()

    def now(self) -> float:
        return time.monotonic() - self.started

    async def send(self, delivery: Delivery) -> None:
        """POST one copy (the same webhook-id and body each time) and keep its status."""
        if delivery.sent_at is None:
            delivery.sent_at = self.now()
        headers = sign(self.secret, delivery.webhook_id, int(time.time()), delivery.body)
        headers["content-type"] = "application/json"
        try:
            response = await self._client.post(self.url, content=delivery.body, headers=headers)
            delivery.statuses.append(response.status_code)
        except httpx.HTTPError:
            delivery.statuses.append(0)

    async def paced(self, batch: list[Delivery], rate: float, copies: int = 1) -> None:
        """Send ``batch`` at ``rate`` per second from now, each delivery ``copies`` times (a
        copy half a second after the one before), without waiting for answers to send on."""
        begin = time.monotonic()
        for i, delivery in enumerate(batch):
            await asyncio.sleep(max(0.0, begin + i / rate - time.monotonic()))
            self._spawn(self._copies(delivery, copies))

    async def _copies(self, delivery: Delivery, copies: int) -> None:
        for copy in range(copies):
            if copy:
                await asyncio.sleep(0.5)
            await self.send(delivery)

    def _spawn(self, work) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def finish(self) -> None:
        """Wait for every answer (each bounded by ``TIMEOUT_S``), then close the client."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self._client.aclose()
