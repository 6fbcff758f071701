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
class PipelineResult:
    offered_rate: float
    sent: int
    routed: int
    throughput: float
    p50: float
    p99: float
    peak_rss_mb: dict[str, float] = field(default_factory=dict)


def bench_messages(count: int) -> list[dict]:
    """Reply-needed traffic: real ham texts from the replay file as direct messages, unique ids."""
    ham = [m for m in replay.load() if m["_label"] in ("ham", "other")]
    out = []
    for i in range(count):
        base = dict(ham[i % len(ham)])
        run = uuid.uuid4().hex[:8]
        base.update(channel_kind="direct_message", conversation_id=f"bench-{run}-{i % 200}",
                    message_id=f"bench-{run}-{i}")
        out.append(base)
    return out


async def run(bootstrap: str, var_dir: Path, rate: float, seconds: float) -> PipelineResult:
    config = StackConfig(var_dir=var_dir, bootstrap=bootstrap, namespace=f"b{uuid.uuid4().hex[:6]}.",
                         preferred_ports=False, extra_env={"LOG_LEVEL": "WARNING"})
    async with LocalStack(config) as stack:
        peaks: dict[str, float] = {}
        sampler = asyncio.create_task(_sample_rss(stack, peaks))
        messages = bench_messages(int(rate * seconds))
        sent_at: dict[str, float] = {}
        arrivals = asyncio.create_task(_arrivals(stack.bootstrap, config.namespace, len(messages), seconds * 3 + 30))
        await asyncio.sleep(0.5)
        started = time.perf_counter()
        outcomes = await replay.replay(stack.webhook_url, config.webhook_secret, messages, concurrency=16,
                                       rate_per_s=rate,
                                       on_result=lambda m, o, t: sent_at.__setitem__(m["message_id"], t))
        got = await arrivals
        sampler.cancel()
    latencies = sorted(got[k] - sent_at[k] for k in got if k in sent_at)
    last = max(got.values()) if got else started
    return PipelineResult(
        offered_rate=rate, sent=outcomes.get("accepted", 0), routed=len(got),
        throughput=len(got) / max(last - started, 1e-9),
        p50=latencies[len(latencies) // 2] if latencies else float("nan"),
        p99=latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] if latencies else float("nan"),
        peak_rss_mb=dict(peaks),
    )


async def _arrivals(bootstrap: str, namespace: str, expected: int, timeout: float) -> dict[str, float]:
    topic = topics.qualified(topics.ROUTED, namespace)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest",
                                fetch_max_wait_ms=20)
    await consumer.start()
    got: dict[str, float] = {}
    try:
        parts = [TopicPartition(topic, p) for p in range(topics.spec(topics.ROUTED).partitions)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        deadline = time.perf_counter() + timeout
        idle_since = time.perf_counter()
        while len(got) < expected and time.perf_counter() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            now = time.perf_counter()
            for records in batch.values():
                idle_since = now
                for r in records:
                    event = codec.decode(r.headers, r.value)
                    got.setdefault(event.data.message.platform_message_id, now)
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
