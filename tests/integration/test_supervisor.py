"""The service supervisor over real runners and the real broker: a vital runner giving up stops
the others and the service without committing; a restartable one is rebuilt meanwhile."""

import asyncio
import uuid

import pytest

from shared import schemagen, topics
from shared.runner import ConsumerRunner, RunnerFailed
from shared.settings import ConsumerSettings
from shared.supervisor import Restart, RunnerSlot, Supervisor
from tests.kafkautil import committed_total, produce

pytestmark = pytest.mark.kafka
RECEIVED = schemagen.example_events()[0]


def settings(bootstrap, namespace) -> ConsumerSettings:
    return ConsumerSettings(
        kafka_bootstrap_servers=bootstrap,
        kafka_topic_namespace=namespace,
        consumer_group=f"g-{uuid.uuid4().hex[:8]}",
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
        poll_timeout_ms=100,
        retry_initial_backoff_s=0.01,
        retry_max_attempts=2,
    )


async def broken(event, meta):
    raise ConnectionError("downstream is down")


async def idle(event, meta):
    return []


async def test_a_vital_runner_giving_up_stops_the_service_without_committing(
    kafka_bootstrap, topics_ready
):
    ns = topics_ready
    raw = topics.qualified(topics.RAW, ns)
    await produce(kafka_bootstrap, raw, [RECEIVED])
    failing, quiet = settings(kafka_bootstrap, ns), settings(kafka_bootstrap, ns)
    supervisor = Supervisor(
        "test",
        runners=[
            RunnerSlot("raw", lambda: ConsumerRunner(failing, "test", topics.RAW, broken)),
            RunnerSlot(
                "classified", lambda: ConsumerRunner(quiet, "test", topics.CLASSIFIED, idle)
            ),
        ],
    )
    with pytest.raises(RunnerFailed, match="stage failed 2 times"):
        await asyncio.wait_for(supervisor.run(), timeout=60)
    assert supervisor.runner("classified").state.status == "stopped" and not supervisor.live
    assert await committed_total(kafka_bootstrap, failing.consumer_group, raw) == 0


async def test_a_restartable_runner_is_rebuilt_while_the_vital_one_stays_ready(
    kafka_bootstrap, topics_ready
):
    ns = topics_ready
    await produce(kafka_bootstrap, topics.qualified(topics.RAW, ns), [RECEIVED])
    failing, quiet, failures = settings(kafka_bootstrap, ns), settings(kafka_bootstrap, ns), []
    supervisor = Supervisor(
        "test",
        runners=[
            RunnerSlot(
                "classified", lambda: ConsumerRunner(quiet, "test", topics.CLASSIFIED, idle)
            ),
            RunnerSlot(
                "raw",
                lambda: ConsumerRunner(failing, "test", topics.RAW, broken),
                restart=Restart(0.05, 0.1),
                on_failure=failures.append,
            ),
        ],
    )
    first = supervisor.runner("raw")
    run = asyncio.create_task(supervisor.run())
    try:
        for _ in range(600):
            if supervisor.runner("raw") is not first and supervisor.ready:
                break
            assert not run.done(), run.exception()
            await asyncio.sleep(0.1)
        assert supervisor.runner("raw") is not first and first.state.status == "failed" and failures
        assert supervisor.ready and supervisor.live and not run.done()
    finally:
        supervisor.stop()
        await asyncio.wait_for(run, timeout=30)
