"""Webhook ingest: the ingestor (Meta signature check, parse, dedup lookup, produce with acks=all,
ledger + raw-body write) beside a bare FastAPI endpoint, both served by uvicorn in a subprocess
with the same settings and driven by the same async httpx client in this process.

The driver speaks HTTP/1.1 over keep-alive sockets with pre-built request bytes (``RawClient``):
a general-purpose client such as httpx spends more CPU per request than the servers under test,
so on two shared cores it measured itself rather than the servers.

Two phases per server: a closed loop (``INGEST_CONCURRENCY`` requests in flight) for peak
throughput, and an open loop at ``INGEST_RATE`` requests/s (latency measured from each request's
scheduled time, so queueing counts) for p50/p99. Every request is a distinct, correctly signed
WhatsApp message, so each one produces an event. Knobs: INGEST_SECONDS, INGEST_RATE,
INGEST_CONCURRENCY.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil

from bench.report import row
from shared.settings import ROOT
from tests.ingestor_support import platform_examples as ex
from tests.ingestor_support.webhooks import meta_signed
from tools import migrate
from tools.devbroker import ensure_topics, free_port

SECONDS = float(os.environ.get("INGEST_SECONDS", "8"))
RATE = float(os.environ.get("INGEST_RATE", "1000"))
CONCURRENCY = int(os.environ.get("INGEST_CONCURRENCY", "32"))
GRACE_S = 5.0
MAX_IN_FLIGHT = 128
SECRET = "bench-meta-app-secret"
URL = "/v1/webhooks/meta"


class RawClient:
    """A minimal HTTP/1.1 keep-alive client for the bench: a pool of sockets, each carrying one
    request at a time; a request is written as pre-built bytes and the answer read by its
    Content-Length. Raises ``ConnectionError`` when the server closes or answers garbage."""

    def __init__(self, base_url: str, connections: int) -> None:
        host, port = base_url.removeprefix("http://").split(":")
        self._address, self._size = (host, int(port)), connections
        self._idle: asyncio.Queue = asyncio.Queue()
        self._open = 0

    async def post(self, request: bytes) -> int:
        """Send one pre-built request; its status code."""
        if self._idle.empty() and self._open < self._size:
            self._open += 1
            try:
                self._idle.put_nowait(await asyncio.open_connection(*self._address))
            except OSError:
                self._open -= 1
                raise
        reader, writer = await self._idle.get()
        try:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = next(
                (
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ),
                0,
            )
            await reader.readexactly(length)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, OSError) as exc:
            writer.close()
            self._open -= 1
            raise ConnectionError(str(exc)) from exc
        except BaseException:  # cancelled mid-request: the socket's state is unknown
            writer.close()
            self._open -= 1
            raise
        self._idle.put_nowait((reader, writer))
        return status

    async def close(self) -> None:
        while not self._idle.empty():
            _, writer = self._idle.get_nowait()
            writer.close()


def _wire(body: bytes, headers: dict[str, str]) -> bytes:
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return (
        f"POST {URL} HTTP/1.1\r\nhost: bench\r\ncontent-length: {len(body)}\r\n{head}\r\n"
    ).encode() + body


def _requests(count: int) -> list[bytes]:
    """Distinct, correctly signed WhatsApp messages, built before the clock starts (the driver
    shares the 2 cores with the server: it should spend them on HTTP, not on signing)."""
    run = uuid.uuid4().hex[:8]
    return [
        _wire(
            *meta_signed(
                SECRET,
                ex.meta_body(
                    "whatsapp_business_account",
                    [
                        ex.whatsapp_entry(
                            [
                                ex.whatsapp_text(
                                    wamid=f"wamid.bench.{run}.{n}",
                                    sender=str(4_915_100_000 + n % 500),
                                )
                            ]
                        )
                    ],
                ),
            )
        )
        for n in range(count)
    ]


@contextlib.contextmanager
def _served(
    factory: str, env: dict[str, str], apps: str = "bench._ingest_apps"
) -> Iterator[tuple[str, int]]:
    """``uvicorn --factory <apps>:<factory>`` on a free port; yields its URL and pid."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        f"{apps}:{factory}",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    # uvicorn's tracebacks for requests the driver cancels at the end would only be noise
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"http://127.0.0.1:{port}", process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


async def _wait_ready(client: httpx.AsyncClient, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if (await client.get("/readyz")).status_code == 200:
                return
        await asyncio.sleep(0.1)
    raise TimeoutError("server not ready")


async def _closed_loop(
    client: RawClient, seconds: float, requests: Iterator
) -> tuple[float, list[float], int]:
    """Requests/s with ``CONCURRENCY`` in flight, latencies, and the count of non-2xx answers."""
    latencies: list[float] = []
    failures = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal failures
        while time.perf_counter() < deadline:
            request = next(requests)
            started = time.perf_counter()
            try:
                failures += await client.post(request) >= 300
            except ConnectionError:
                failures += 1
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return len(latencies) / (time.perf_counter() - started), latencies, failures


async def _open_loop(
    client: RawClient, rate: float, seconds: float, requests: Iterator
) -> tuple[float, list[float], int]:
    """Offer ``rate`` requests/s for ``seconds``; latency counts from each request's scheduled start.

    Requests still unanswered ``GRACE_S`` after the offered window are cancelled and counted as
    failures with the latency they had reached (a lower bound), so an overloaded server shows
    as a huge p99 and a low achieved rate instead of an endless run.
    """
    latencies: dict[int, float] = {}
    failures = 0
    total = int(rate * seconds)
    start = time.perf_counter() + 0.05

    async def one(i: int) -> None:
        nonlocal failures
        scheduled = start + i / rate
        request = next(requests)
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        try:
            failures += (
                await client.post(request) >= 300
            )  # at most MAX_IN_FLIGHT sockets: the rest queue
        except ConnectionError:
            failures += 1
        latencies[i] = time.perf_counter() - scheduled

    tasks = [asyncio.create_task(one(i)) for i in range(total)]
    _, pending = await asyncio.wait(tasks, timeout=seconds + GRACE_S)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    ended = time.perf_counter()
    answered = len(latencies)
    for i in range(total):
        latencies.setdefault(i, ended - (start + i / rate))
    return answered / (ended - start), list(latencies.values()), failures + len(pending)


async def _measure_server(base_url: str, pid: int) -> dict:
    """Throughput and latencies as the client sees them, and the server process's own CPU time
    per request in the closed loop (robust to other load on the machine, unlike the rates)."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30.0) as probe:
        await _wait_ready(probe)
    client = RawClient(base_url, MAX_IN_FLIGHT)
    try:
        # pre-built for the open loop and a fast closed loop; built lazily beyond that
        requests = itertools.chain(
            _requests(int(RATE * SECONDS) + 12_000),
            (r for _ in itertools.count() for r in _requests(1000)),
        )
        await _closed_loop(client, 1.5, requests)  # warm-up: connections, caches, SQLite pages
        server, cpu_before = psutil.Process(pid), psutil.Process(pid).cpu_times()
        peak, closed, closed_failures = await _closed_loop(client, SECONDS, requests)
        cpu_after = server.cpu_times()
        cpu_ms = (
            (cpu_after.user + cpu_after.system - cpu_before.user - cpu_before.system)
            * 1000
            / len(closed)
        )
        achieved, opened, open_failures = await _open_loop(client, RATE, SECONDS, requests)
    finally:
        await client.close()
    return {
        "peak": peak,
        "cpu_ms": cpu_ms,
        "closed_p50": _pct(closed, 50),
        "closed_p99": _pct(closed, 99),
        "achieved": achieved,
        "p50": _pct(opened, 50),
        "p99": _pct(opened, 99),
        "failures": closed_failures + open_failures,
    }


def _pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] * 1000 if len(values) > 1 else float("nan")


async def measure(bootstrap: str) -> list[dict]:
    namespace = f"benchingest{uuid.uuid4().hex[:6]}."
    await ensure_topics(bootstrap, namespace)
    with tempfile.TemporaryDirectory() as tmp:
        database_url = f"sqlite:///{Path(tmp) / 'ingest.db'}"
        migrate.upgrade(database_url)
        env = {
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "KAFKA_TOPIC_NAMESPACE": namespace,
            "DATABASE_URL": database_url,
            "SWITCHBOARD_ENV": "test",
            "INGESTOR_META_APP_SECRETS": f'["{SECRET}"]',
            "LOG_LEVEL": "WARNING",
            "INGESTOR_WEBHOOK_SECRETS": "{}",
        }
        with _served("bare", env) as (url, pid):
            bare = await _measure_server(url, pid)
        with _served("ingestor", env) as (url, pid):
            ingest = await _measure_server(url, pid)
    print(f"ingest: ingestor {ingest} | bare {bare}", file=sys.stderr)
    return [
        row(
            "ingest throughput (closed loop)",
            ingest["peak"],
            "req/s",
            "bare FastAPI endpoint",
            bare["peak"],
        ),
        row(
            "ingest server CPU per request",
            ingest["cpu_ms"],
            "ms",
            "bare FastAPI CPU per request",
            bare["cpu_ms"],
        ),
        row(
            "ingest one-core capacity (1000 / CPU ms)",
            1000 / ingest["cpu_ms"],
            "req/s",
            "bare one-core capacity",
            1000 / bare["cpu_ms"],
        ),
        row(
            f"ingest p50 at {RATE:.0f} req/s offered",
            ingest["p50"],
            "ms",
            "bare FastAPI p50",
            bare["p50"],
        ),
        row(
            f"ingest p99 at {RATE:.0f} req/s offered",
            ingest["p99"],
            "ms",
            "bare FastAPI p99",
            bare["p99"],
        ),
        row(
            f"ingest achieved rate at {RATE:.0f} offered",
            ingest["achieved"],
            "req/s",
            "bare achieved rate",
            bare["achieved"],
        ),
        row(
            "ingest non-2xx or unanswered requests",
            ingest["failures"],
            "count",
            "bare non-2xx or unanswered",
            bare["failures"],
        ),
    ]
