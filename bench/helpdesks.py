"""The router's inbound helpdesk endpoint: Zammad-shaped reply webhooks (HMAC-SHA1 checked, read,
item looked up, one lifecycle event published with acks=all before the answer) beside a bare
endpoint of the same app in the same server process (``/bench/bare``: reads the body, answers
JSON), both driven by the same keep-alive client with pre-built requests (``bench.ingest``'s
``RawClient``). Closed loop, ``HELPDESK_CONCURRENCY`` in flight, ``HELPDESK_SECONDS`` each;
figures: requests/s and the server's CPU time per request. Every request is a distinct agent
reply to one of 200 routed items, so each one publishes an event."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psutil

from bench.ingest import RawClient, _served
from bench.report import row
from services.router.app import runtime_of
from services.router.settings import RouterSettings
from shared import db
from shared.runner import RecordMeta
from tests.helpdesk_support import payloads as p
from tests.integration.test_router_dispatch import classified
from tools import migrate
from tools.devbroker import ensure_topics

SECONDS = float(os.environ.get("HELPDESK_SECONDS", "8"))
CONCURRENCY = int(os.environ.get("HELPDESK_CONCURRENCY", "16"))
ITEMS = 200
URL = "/v1/helpdesks/zammad/events"


def _wire(path: str, body: bytes, headers: dict[str, str]) -> bytes:
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return (
        f"POST {path} HTTP/1.1\r\nhost: bench\r\ncontent-length: {len(body)}\r\n{head}\r\n"
    ).encode() + body


def _requests(path: str, items: list[str], start: int, count: int) -> list[bytes]:
    out = []
    for n in range(start, start + count):
        body = p.dumps(p.zammad(items[n % len(items)], article_id=n, owner=None))
        out.append(_wire(path, body, p.zammad_headers(body)))
    return out


async def _seed(database_url: str) -> list[str]:
    """Route ``ITEMS`` messages into the database the server will read (its own item ids)."""
    engine = db.engine(database_url)
    runtime = runtime_of(RouterSettings(database_url=database_url), db.sessions(engine))
    await runtime.prepare()
    ids = []
    for n in range(ITEMS):
        outputs = await runtime.runners[0].stage(classified(n), RecordMeta("t", 0, n, None))
        ids.append(next(o.event.id for o in outputs if o.topic.endswith("items.routed.v1")))
    await engine.dispose()
    return ids


async def _closed_loop(
    client: RawClient, requests: list[bytes], seconds: float
) -> tuple[int, int, float]:
    done = failures = 0
    deadline = time.perf_counter() + seconds
    feed = iter(requests)

    async def worker() -> None:
        nonlocal done, failures
        while time.perf_counter() < deadline:
            try:
                failures += await client.post(next(feed)) >= 300
            except (ConnectionError, StopIteration):
                failures += 1
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return done, failures, time.perf_counter() - started


async def _wait_up(base_url: str, timeout_s: float = 60.0) -> None:
    """The app is served (its consumers are not run here, so /readyz stays false)."""
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(base_url=base_url, timeout=5.0) as probe:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if (await probe.post("/bench/bare", content=b"{}")).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise TimeoutError("router app not served")


async def _measure(base_url: str, pid: int, path: str, items: list[str]) -> dict:
    await _wait_up(base_url)
    client = RawClient(base_url, CONCURRENCY)
    budget = int(SECONDS * 2500)  # more than the server answers in the time
    requests = _requests(path, items, 0, budget + 600)
    try:
        await _closed_loop(client, requests[-600:], 1.5)  # warm-up
        process = psutil.Process(pid)
        before = process.cpu_times()
        done, failures, elapsed = await _closed_loop(client, requests[:budget], SECONDS)
        after = process.cpu_times()
    finally:
        await client.close()
    cpu = (after.user + after.system - before.user - before.system) * 1000 / max(done, 1)
    return {"rate": done / elapsed, "cpu_ms": cpu, "failures": failures, "requests": done}


async def measure(bootstrap: str) -> list[dict]:
    namespace = f"benchhelpdesk{uuid.uuid4().hex[:6]}."
    await ensure_topics(bootstrap, namespace)
    with tempfile.TemporaryDirectory() as tmp:
        database_url = f"sqlite:///{Path(tmp) / 'router.db'}"
        migrate.upgrade(database_url)
        items = await _seed(database_url)
        env = {
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "KAFKA_TOPIC_NAMESPACE": namespace,
            "DATABASE_URL": database_url,
            "LOG_LEVEL": "WARNING",
            "ROUTER_HELPDESKS": json.dumps(
                {"zammad": {"kind": "zammad", "secrets": [p.ZAMMAD_TOKEN]}}
            ),
        }
        with _served("router", env, apps="bench._helpdesk_apps") as (url, pid):
            bare = await _measure(url, pid, "/bench/bare", items)
            inbound = await _measure(url, pid, URL, items)
    print(f"helpdesks: inbound {inbound} | bare {bare}", file=sys.stderr)
    return [
        row(
            "helpdesk inbound throughput (closed loop)",
            inbound["rate"],
            "req/s",
            "bare endpoint, same app",
            bare["rate"],
        ),
        row(
            "helpdesk inbound server CPU per request",
            inbound["cpu_ms"],
            "ms",
            "bare endpoint CPU per request",
            bare["cpu_ms"],
        ),
        row(
            "helpdesk inbound non-2xx answers",
            inbound["failures"],
            "count",
            "bare endpoint non-2xx",
            bare["failures"],
        ),
    ]
