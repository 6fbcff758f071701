"""Console page render time with 10,000 open items in one queue: the router and the console as
real processes (SQLite, the run's broker), a signed-in session, and the median wall time of
``GET /queues/<queue>`` (first page, and the last page: the deepest offset) beside a bare page of
the same console in the same run (``GET /signin``: a template with no service call). The goal is
under 200 ms per queue page; ``BENCH_CONSOLE_ITEMS``, ``BENCH_CONSOLE_ROUNDS``."""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import create_engine, insert

from bench.report import row
from services.router.settings import DEV_ROUTER_ADMIN_TOKEN
from services.router.tables import RoutedItem
from shared.db import sync_url
from shared.settings import ROOT
from tools import migrate
from tools.devbroker import ensure_topics, free_port

QUEUE = "support-en"


def _seed(url: str, n: int) -> None:
    now = datetime.now(UTC)
    rows = [
        {
            "message_key": f"bench:acme:m{i}",
            "event_id": uuid.uuid4().hex,
            "conversation_key": f"bench:acme:c{i}",
            "queue": QUEUE,
            "priority": 50,
            "sla_deadline": now + timedelta(minutes=30 + i % 600),
            "routed_at": now - timedelta(minutes=i % 120),
            "received_at": now - timedelta(minutes=i % 120),
            "state": "queued",
            "work_state": "waiting",
            "language": "en",
            "channel": "direct_message",
            "reason": "delivery",
            "tags": ["reason:delivery", "sentiment:negative"],
            "urgency": "normal",
            "sla_business_s": 3600,
            "text": f"Hello, my order {i} never arrived. Can you help me? " * 2,
        }
        for i in range(n)
    ]
    engine = create_engine(sync_url(url))
    with engine.begin() as conn:
        conn.execute(insert(RoutedItem), rows)
    engine.dispose()


async def _spawn(module: str, env: dict, log: Path):
    out = open(log, "ab")
    try:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", module, env=env, cwd=str(ROOT), stdout=out, stderr=out
        )
    finally:
        out.close()


async def _ready(client: httpx.AsyncClient, url: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if (await client.get(url)).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f}s")


async def _median_ms(client: httpx.AsyncClient, url: str, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        answer = await client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, (url, answer.status_code, answer.text[:200])
    return statistics.median(times)


async def measure(bootstrap: str) -> list[dict]:
    items = int(os.environ.get("BENCH_CONSOLE_ITEMS", "10000"))
    rounds = int(os.environ.get("BENCH_CONSOLE_ROUNDS", "30"))
    work = Path(tempfile.mkdtemp(prefix="bench-console-"))
    url = f"sqlite:///{work / 'router.db'}"
    namespace = f"bc{uuid.uuid4().hex[:6]}."
    await ensure_topics(bootstrap, namespace)
    await asyncio.to_thread(migrate.upgrade, url, ["router"])
    await asyncio.to_thread(_seed, url, items)
    router_port, console_port = free_port(), free_port()
    base = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "KAFKA_TOPIC_NAMESPACE": namespace,
        "LOG_LEVEL": "WARNING",
        "MALLOC_ARENA_MAX": "2",
    }
    router = await _spawn(
        "services.router",
        {
            **base,
            "DATABASE_URL": url,
            "ROUTER_HTTP_PORT": str(router_port),
            "ROUTER_HTTP_HOST": "127.0.0.1",
        },
        work / "router.log",
    )
    console = await _spawn(
        "services.console",
        {
            **base,
            "CONSOLE_HTTP_PORT": str(console_port),
            "CONSOLE_HTTP_HOST": "127.0.0.1",
            "CONSOLE_ROUTER_URL": f"http://127.0.0.1:{router_port}",
            "CONSOLE_COOKIE_SECURE": "false",
        },
        work / "console.log",
    )
    site = f"http://127.0.0.1:{console_port}"
    try:
        async with httpx.AsyncClient(timeout=30) as client:
            await _ready(client, f"http://127.0.0.1:{router_port}/healthz")
            await _ready(client, f"{site}/healthz")
            form = await client.get(f"{site}/signin")
            pre = form.text.split('name="pre" value="', 1)[1].split('"', 1)[0]
            signed = await client.post(
                f"{site}/signin",
                data={"token": DEV_ROUTER_ADMIN_TOKEN, "pre": pre, "next": "/queues"},
                headers={"Origin": site},
            )
            assert signed.status_code == 303, signed.text[:300]
            last = -(-items // 50)
            await _median_ms(client, f"{site}/queues/{QUEUE}", 3)  # warm
            bare = await _median_ms(client, f"{site}/signin", rounds)
            first = await _median_ms(client, f"{site}/queues/{QUEUE}", rounds)
            deepest = await _median_ms(client, f"{site}/queues/{QUEUE}?page={last}", rounds)
    finally:
        for proc in (console, router):
            proc.terminate()
        for proc in (console, router):
            try:
                await asyncio.wait_for(proc.wait(), 15)
            except TimeoutError:
                proc.kill()
    print(
        f"console: {items} open items, queue page {first:.1f} ms, last page {deepest:.1f} ms, "
        f"bare page {bare:.1f} ms (median of {rounds})",
        file=sys.stderr,
    )
    return [
        row(f"console queue page ({items} items) ms", first, "ms", "console bare page ms", bare),
        row(
            f"console last queue page ({items} items) ms",
            deepest,
            "ms",
            "console bare page ms",
            bare,
        ),
    ]
