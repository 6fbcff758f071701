"""Replay messages through the ingestor's signed generic webhook (Standard Webhooks).

Used by ``make run`` (the demo traffic), the end-to-end tests and the benchmark. Each message
becomes one ``message.created`` webhook signed with the source's secret; the outcome of every
request is counted by HTTP status, and nothing is retried silently.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from services.ingestor.platforms.standard_signing import sign

REPLAY_FILE = Path(__file__).resolve().parent.parent / "data" / "replay" / "messages.jsonl"
# what ``make run`` replays: a customer-service stream the team wrote (data/replay/README.md)
DEMO_FILE = REPLAY_FILE.with_name("stream.jsonl")


def load(path: Path = REPLAY_FILE) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def as_live(messages: list[dict], now: datetime, window_s: float = 300.0) -> list[dict]:
    """The messages as if posted within the last ``window_s`` seconds, in their order and
    spacing (scaled): a written stream replayed today is live traffic, not a backlog whose SLA
    clocks (which start at the post time) ran out long ago."""
    stamps = [datetime.fromisoformat(m["created_at"]) for m in messages if m.get("created_at")]
    if not stamps:
        return messages
    first, last = min(stamps), max(stamps)
    span = max((last - first).total_seconds(), 1.0)
    scale = min(1.0, window_s / span)
    moved = []
    for m in messages:
        if m.get("created_at"):
            ago = (last - datetime.fromisoformat(m["created_at"])).total_seconds() * scale
            m = {**m, "created_at": (now - timedelta(seconds=ago)).isoformat()}
        moved.append(m)
    return moved


def webhook_body(message: dict) -> bytes:
    data = {k: v for k, v in message.items() if not k.startswith("_")}
    payload = {"type": "message.created", "timestamp": datetime.now(UTC).isoformat(), "data": data}
    return json.dumps(payload, ensure_ascii=False).encode()


async def post_one(
    client: httpx.AsyncClient, url: str, secret: str, message: dict, webhook_id: str | None = None
) -> httpx.Response:
    """Sign and POST one message; returns the response (never raises on HTTP status)."""
    body = webhook_body(message)
    headers = sign(secret, webhook_id or f"msg_{uuid.uuid4().hex}", int(time.time()), body)
    headers["content-type"] = "application/json"
    return await client.post(url, content=body, headers=headers)


async def replay(
    url: str,
    secret: str,
    messages: Iterable[dict],
    concurrency: int = 8,
    rate_per_s: float | None = None,
    on_result=None,
) -> Counter:
    """POST every message (``concurrency`` in flight, optionally paced at ``rate_per_s``).

    Returns a Counter of outcomes: ``accepted``, ``duplicate``, or ``http_<status>``/``error``.
    """
    outcomes: Counter = Counter()
    queue: asyncio.Queue = asyncio.Queue()
    for i, message in enumerate(messages):
        queue.put_nowait((i, message))
    started = time.perf_counter()

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            i, message = queue.get_nowait()
            if rate_per_s:
                await asyncio.sleep(max(0.0, started + i / rate_per_s - time.perf_counter()))
            sent_at = time.perf_counter()
            outcome = await _outcome(client, url, secret, message)
            outcomes[outcome] += 1
            if on_result is not None:
                on_result(message, outcome, sent_at)

    async with httpx.AsyncClient(timeout=30) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return outcomes


async def _outcome(client: httpx.AsyncClient, url: str, secret: str, message: dict) -> str:
    try:
        response = await post_one(client, url, secret, message)
    except httpx.HTTPError:
        return "error"
    if response.status_code in (200, 202):
        return response.json().get("status", "accepted")
    return f"http_{response.status_code}"
