"""The shared consumer runner against the real broker: outputs before commits, poison to the
dead-letter topic with provenance, retries, failure without commit, and graceful stop."""

import asyncio
import uuid

import pytest

from shared import schemagen, topics
from shared.runner import ConsumerRunner, Output, RunnerFailed
from shared.settings import ConsumerSettings
from tests.kafkautil import collect, committed_total, decoded, produce, produce_raw

pytestmark = pytest.mark.kafka
RECEIVED = schemagen.example_events()[0]


def settings(bootstrap, namespace, **kw) -> ConsumerSettings:
    return ConsumerSettings(kafka_bootstrap_servers=bootstrap, kafka_topic_namespace=namespace,
                            consumer_group=f"g-{uuid.uuid4().hex[:8]}", session_timeout_ms=6000,
                            heartbeat_interval_ms=1000, retry_initial_backoff_s=0.01, **kw)


def events(n):
    return [RECEIVED.model_copy(update={"id": f"e-{i}"}) for i in range(n)]


async def run_until(runner, predicate, timeout=30):
    task = asyncio.create_task(runner.run())
    for _ in range(int(timeout * 20)):
        if predicate() or task.done():
            break
        await asyncio.sleep(0.05)
    runner.stop()
    await asyncio.wait_for(task, timeout=20)


async def test_outputs_acked_and_poison_dead_lettered_with_provenance(kafka_bootstrap, topics_ready):
    ns = topics_ready
    raw = topics.qualified(topics.RAW, ns)
    await produce(kafka_bootstrap, raw, events(3))
    await produce_raw(kafka_bootstrap, raw, b"not json", headers=[("ce_type", RECEIVED.TYPE.encode())], key=b"k")
    await produce(kafka_bootstrap, raw, events(5)[3:])

    async def echo(event, meta):
        return [Output(topics.CLASSIFIED, schemagen.example_events()[1].model_copy(update={"id": f"out-{event.id}"}))]

    cfg = settings(kafka_bootstrap, ns)
    runner = ConsumerRunner(cfg, "test", topics.RAW, echo)
    await run_until(runner, lambda: runner.state.processed + runner.state.dead_lettered >= 6)

    out = decoded(await collect(kafka_bootstrap, topics.qualified(topics.CLASSIFIED, ns), 5))
    assert sorted(e.id for e in out) == [f"out-e-{i}" for i in range(5)]
    dlq = await collect(kafka_bootstrap, topics.dlq_for(topics.RAW, ns), 1)
    assert len(dlq) == 1 and dlq[0].value == b"not json" and dlq[0].key == b"k"
    headers = {k: v.decode() for k, v in dlq[0].headers}
    assert headers["dlq.source.topic"] == raw
    assert headers["dlq.consumer.group"] == cfg.consumer_group
    assert headers["dlq.error.type"] == "PoisonMessage" and "not JSON" in headers["dlq.error"]
    assert int(headers["dlq.source.offset"]) >= 0 and headers["ce_type"] == RECEIVED.TYPE
    assert await committed_total(kafka_bootstrap, cfg.consumer_group, raw) == 6


async def test_transient_error_is_retried_then_succeeds(kafka_bootstrap, topics_ready):
    ns = topics_ready
    await produce(kafka_bootstrap, topics.qualified(topics.RAW, ns), events(1))
    calls = []

    async def flaky(event, meta):
        calls.append(event.id)
        if len(calls) < 3:
            raise ConnectionError("database briefly away")
        return []

    runner = ConsumerRunner(settings(kafka_bootstrap, ns), "test", topics.RAW, flaky)
    await run_until(runner, lambda: runner.state.processed >= 1)
    assert calls == ["e-0"] * 3


async def test_exhausted_retries_fail_without_committing(kafka_bootstrap, topics_ready):
    ns = topics_ready
    raw = topics.qualified(topics.RAW, ns)
    await produce(kafka_bootstrap, raw, events(2))

    async def broken(event, meta):
        raise ConnectionError("downstream is down")

    cfg = settings(kafka_bootstrap, ns, retry_max_attempts=2)
    runner = ConsumerRunner(cfg, "test", topics.RAW, broken)
    with pytest.raises(RunnerFailed, match="stage failed 2 times"):
        await asyncio.wait_for(runner.run(), timeout=30)
    assert runner.state.status == "failed" and not runner.live
    assert await committed_total(kafka_bootstrap, cfg.consumer_group, raw) == 0


async def test_too_many_poison_messages_in_a_row_stop_the_runner(kafka_bootstrap, topics_ready):
    ns = topics_ready
    raw = topics.qualified(topics.RAW, ns)
    for _ in range(3):
        await produce_raw(kafka_bootstrap, raw, b"{}", headers=[("ce_type", b"bogus.v1")])

    async def never(event, meta):
        raise AssertionError("no valid event expected")

    runner = ConsumerRunner(settings(kafka_bootstrap, ns, dlq_max_consecutive=2), "test", topics.RAW, never)
    with pytest.raises(RunnerFailed, match="poison messages in a row"):
        await asyncio.wait_for(runner.run(), timeout=30)


async def test_stop_finishes_the_batch_and_commits(kafka_bootstrap, topics_ready):
    ns = topics_ready
    raw = topics.qualified(topics.RAW, ns)
    await produce(kafka_bootstrap, raw, events(20))
    seen = []

    async def slow(event, meta):
        seen.append(event.id)
        await asyncio.sleep(0.01)
        return []

    cfg = settings(kafka_bootstrap, ns)
    runner = ConsumerRunner(cfg, "test", topics.RAW, slow)
    await run_until(runner, lambda: len(seen) >= 1)
    assert runner.state.status == "stopped"
    assert await committed_total(kafka_bootstrap, cfg.consumer_group, raw) == len(seen)
