"""The shared consumer runner against the real broker: outputs before commits, poison to the
dead-letter topic with provenance, retries, failure without commit, graceful stop, the topic's
event type enforced before the stage, and the batch contract with its acknowledgement hook."""

import asyncio
import uuid

import pytest

from shared import schemagen, topics
from shared.codec import PoisonMessage
from shared.runner import ConsumerRunner, Output, RunnerFailed, Stage
from shared.settings import ConsumerSettings
from tests.kafkautil import collect, committed_total, decoded, produce, produce_raw

pytestmark = pytest.mark.kafka
RECEIVED = schemagen.example_events()[0]


def settings(bootstrap, namespace, **kw) -> ConsumerSettings:
    return ConsumerSettings(
        kafka_bootstrap_servers=bootstrap,
        kafka_topic_namespace=namespace,
        consumer_group=f"g-{uuid.uuid4().hex[:8]}",
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
        retry_initial_backoff_s=0.01,
        **kw,
    )


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


async def test_outputs_acked_and_poison_dead_lettered_with_provenance(
    kafka_bootstrap, topics_ready
):
    ns = topics_ready
    raw = topics.qualified(topics.RAW, ns)
    await produce(kafka_bootstrap, raw, events(3))
    await produce_raw(
        kafka_bootstrap, raw, b"not json", headers=[("ce_type", RECEIVED.TYPE.encode())], key=b"k"
    )
    await produce(kafka_bootstrap, raw, events(5)[3:])

    async def echo(event, meta):
        return [
            Output(
                topics.CLASSIFIED,
                schemagen.example_events()[1].model_copy(update={"id": f"out-{event.id}"}),
            )
        ]

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

    runner = ConsumerRunner(
        settings(kafka_bootstrap, ns, dlq_max_consecutive=2), "test", topics.RAW, never
    )
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


async def test_an_event_the_topic_does_not_carry_is_dead_lettered_before_the_stage(
    kafka_bootstrap, topics_ready
):
    ns = topics_ready
    raw = topics.qualified(topics.RAW, ns)
    foreign = schemagen.example_events()[1]  # a classified message, on the raw topic
    await produce(kafka_bootstrap, raw, [*events(1), foreign, *events(2)[1:]])
    seen = []

    async def record(event, meta):
        seen.append(event.id)
        return []

    runner = ConsumerRunner(settings(kafka_bootstrap, ns), "test", topics.RAW, record)
    await run_until(runner, lambda: runner.state.processed + runner.state.dead_lettered >= 3)
    assert seen == ["e-0", "e-1"] and (runner.state.processed, runner.state.dead_lettered) == (2, 1)
    [dead] = await collect(kafka_bootstrap, topics.dlq_for(topics.RAW, ns), 1)
    headers = {k: v.decode() for k, v in dead.headers}
    assert headers["dlq.error.type"] == "PoisonMessage"
    assert f"test cannot handle {foreign.TYPE} on {topics.RAW}" in headers["dlq.error"]


class Batched(Stage):
    """Answers a whole poll: poison for odd ids, an output for the others; records the hook."""

    def __init__(self) -> None:
        self.polls: list[list[str]] = []
        self.acked: list[list[str]] = []

    async def process_batch(self, items):
        self.polls.append([event.id for event, _ in items])
        return [
            PoisonMessage(f"odd {event.id}") if int(event.id[2:]) % 2 else [echoed(event)]
            for event, _ in items
        ]

    async def on_batch_acked(self, results):
        self.acked.append([r[0].event.id for r in results if not isinstance(r, PoisonMessage)])


def echoed(event) -> Output:
    out = schemagen.example_events()[1].model_copy(update={"id": f"out-{event.id}"})
    return Output(topics.CLASSIFIED, out)


async def test_a_batch_stage_answers_per_event_and_hears_once_per_acknowledged_batch(
    kafka_bootstrap, topics_ready
):
    ns = topics_ready
    raw = topics.qualified(topics.RAW, ns)
    await produce(kafka_bootstrap, raw, events(6))
    stage, cfg = Batched(), settings(kafka_bootstrap, ns)
    runner = ConsumerRunner(cfg, "test", topics.RAW, stage)
    assert runner.stage is stage
    await run_until(runner, lambda: runner.state.processed + runner.state.dead_lettered >= 6)
    assert [i for poll in stage.polls for i in poll] == [f"e-{i}" for i in range(6)]
    assert len(stage.acked) == len(stage.polls)  # once per poll, after its outputs' acks
    assert [i for poll in stage.acked for i in poll] == ["out-e-0", "out-e-2", "out-e-4"]
    out = decoded(await collect(kafka_bootstrap, topics.qualified(topics.CLASSIFIED, ns), 3))
    assert sorted(e.id for e in out) == ["out-e-0", "out-e-2", "out-e-4"]
    assert len(await collect(kafka_bootstrap, topics.dlq_for(topics.RAW, ns), 3)) == 3
    assert (runner.state.processed, runner.state.dead_lettered) == (3, 3)
    assert await committed_total(kafka_bootstrap, cfg.consumer_group, raw) == 6


async def test_a_failing_batch_hook_fails_the_runner_without_committing(
    kafka_bootstrap, topics_ready
):
    ns = topics_ready
    raw = topics.qualified(topics.RAW, ns)
    await produce(kafka_bootstrap, raw, events(2))

    class Unmarkable(Batched):
        async def on_batch_acked(self, results):
            raise ConnectionError("database away after the acks")

    cfg = settings(kafka_bootstrap, ns)
    runner = ConsumerRunner(cfg, "test", topics.RAW, Unmarkable())
    with pytest.raises(RunnerFailed, match="database away"):
        await asyncio.wait_for(runner.run(), timeout=30)
    assert await committed_total(kafka_bootstrap, cfg.consumer_group, raw) == 0
