"""End to end: signed webhooks at a fixed offered rate through the four real services to the
routed topic; throughput, latency percentiles and each service's peak resident memory."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from aiokafka import AIOKafkaConsumer, TopicPartition

from shared import codec, topics
from tools import replay
from tools.stack import SERVICES, LocalStack, StackConfig


@dataclass
class Phase:
    offered_rate: float | None  # None: as fast as the clients can send
    sent: int
    routed: int
    throughput: float
    p50: float
    p99: float


@dataclass
class PipelineResult:
    paced: Phase
    burst: Phase
    peak_rss_mb: dict[str, float] = field(default_factory=dict)


def bench_messages(count: int) -> list[dict]:
    """Reply-needed traffic: real ham texts from the replay file as direct messages, unique ids."""
    ham = [m for m in replay.load() if m["_label"] in ("ham", "other")]
    run = uuid.uuid4().hex[:8]
    out = []
    for i in range(count):
        base = dict(ham[i % len(ham)])
        base.update(
            channel_kind="direct_message",
            conversation_id=f"bench-{run}-{i % 200}",
            message_id=f"bench-{run}-{i}",
        )
        out.append(base)
    return out


async def run(
    bootstrap: str, var_dir: Path, rate: float, seconds: float, burst: int
) -> PipelineResult:
    """One stack; a paced phase at ``rate`` for ``seconds``, then an unpaced burst of ``burst``."""
    # Office always closed and every urgency pages, so the figures do not depend on the hour the
    # bench runs at and include the notifier's full work (pages are grouped per conversation).
    config = StackConfig(
        var_dir=var_dir,
        bootstrap=bootstrap,
        namespace=f"b{uuid.uuid4().hex[:6]}.",
        preferred_ports=False,
        extra_env={
            "LOG_LEVEL": "WARNING",
            "NOTIFIER_OFFICE_HOURS": "{}",
            "NOTIFIER_PAGE_MIN_URGENCY": "normal",
        },
    )
    async with LocalStack(config) as stack:
        peaks: dict[str, float] = {}
        sampler = asyncio.create_task(_sample_rss(stack, peaks))
        paced = await _phase(stack, bench_messages(int(rate * seconds)), rate, concurrency=16)
        unpaced = await _phase(stack, bench_messages(burst), None, concurrency=32)
        sampler.cancel()
    return PipelineResult(paced=paced, burst=unpaced, peak_rss_mb=dict(peaks))


async def _phase(
    stack: LocalStack, messages: list[dict], rate: float | None, concurrency: int
) -> Phase:
    wanted = {m["message_id"] for m in messages}
    sent_at: dict[str, float] = {}
    arrivals = asyncio.create_task(_arrivals(stack.bootstrap, stack.config.namespace, wanted, 120))
    await asyncio.sleep(0.5)
    started = time.perf_counter()
    outcomes = await replay.replay(
        stack.webhook_url,
        stack.config.webhook_secret,
        messages,
        concurrency=concurrency,
        rate_per_s=rate,
        on_result=lambda m, o, t: sent_at.__setitem__(m["message_id"], t),
    )
    got = await arrivals
    latencies = sorted(got[k] - sent_at[k] for k in got if k in sent_at)
    last = max(got.values()) if got else started
    return Phase(
        offered_rate=rate,
        sent=outcomes.get("accepted", 0),
        routed=len(got),
        throughput=len(got) / max(last - started, 1e-9),
        p50=latencies[len(latencies) // 2] if latencies else float("nan"),
        p99=latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
        if latencies
        else float("nan"),
    )


async def _arrivals(
    bootstrap: str, namespace: str, wanted: set[str], timeout: float
) -> dict[str, float]:
    """Arrival time on the routed topic of each wanted message id (until all came or it went quiet)."""
    topic = topics.qualified(topics.ROUTED, namespace)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=20,
    )
    await consumer.start()
    got: dict[str, float] = {}
    try:
        parts = [TopicPartition(topic, p) for p in range(topics.spec(topics.ROUTED).partitions)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        deadline = time.perf_counter() + timeout
        idle_since = time.perf_counter()
        while len(got) < len(wanted) and time.perf_counter() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            now = time.perf_counter()
            for records in batch.values():
                idle_since = now
                for r in records:
                    key = codec.decode(r.headers, r.value).data.message.platform_message_id
                    if key in wanted:
                        got.setdefault(key, now)
            if got and now - idle_since > 15:
                break  # the rest were not routed (e.g. classified as spam)
    finally:
        await consumer.stop()
    return got


async def _sample_rss(stack: LocalStack, peaks: dict[str, float]) -> None:
    """Record each service's peak resident memory (MB) into ``peaks`` until cancelled."""
    while True:
        for name in SERVICES:
            proc = stack.procs.get(name)
            if proc is not None and proc.returncode is None:
                try:
                    rss = psutil.Process(proc.pid).memory_info().rss / 2**20
                except psutil.Error:
                    continue
                peaks[name] = max(peaks.get(name, 0.0), rss)
        await asyncio.sleep(0.2)
