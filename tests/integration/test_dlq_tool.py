"""``python -m tools.dlq`` against the real broker: messages dead-lettered by the real runner
are listed and replayed to their source topic with their key, value and original headers
(no ``dlq.*``), a second replay sends nothing, and foreign records are never sent anywhere."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from shared import topics
from shared.codec import PoisonMessage
from shared.runner import ConsumerRunner, RecordMeta
from shared.schemagen import example_events
from shared.settings import CommonSettings, ConsumerSettings
from tests.kafkautil import collect, produce, produce_raw
from tools import dlq

pytestmark = pytest.mark.kafka
RAW, RAW_DLQ = topics.RAW, topics.dlq_for(topics.RAW)


async def dead_letter_through_the_runner(bootstrap: str, namespace: str, count: int) -> None:
    """Run the real runner over RAW with a stage that rejects everything, until ``count``
    messages were dead-lettered."""
    settings = ConsumerSettings(
        kafka_bootstrap_servers=bootstrap,
        kafka_topic_namespace=namespace,
        consumer_group=f"{namespace}poison",
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
    )

    async def reject(event, meta: RecordMeta):
        raise PoisonMessage("rejected by the test stage")

    runner = ConsumerRunner(settings, "classifier", RAW, reject)
    task = asyncio.create_task(runner.run())
    while runner.state.dead_lettered < count and not task.done():
        await asyncio.sleep(0.05)
    runner.stop()
    await task


async def test_list_and_replay_restore_the_original_messages(
    kafka_bootstrap: str, topics_ready: str
) -> None:
    ns = topics_ready
    received = [e for e in example_events() if e.event_type == "switchboard.message.received.v1"][
        :1
    ]
    events = [received[0].model_copy(update={"id": f"{received[0].id[:-1]}{i}"}) for i in range(3)]
    await produce(kafka_bootstrap, f"{ns}{RAW}", events)
    await dead_letter_through_the_runner(kafka_bootstrap, ns, len(events))
    originals = await collect(kafka_bootstrap, f"{ns}{RAW}", len(events))
    # A record the tool must not replay: the ingestor's unhandled webhook events have no source topic.
    await produce_raw(
        kafka_bootstrap, f"{ns}{RAW_DLQ}", b"{}", headers=[("dlq.reason", b"unhandled_event_type")]
    )

    settings = CommonSettings(kafka_bootstrap_servers=kafka_bootstrap, kafka_topic_namespace=ns)
    target = dlq.target_for(RAW_DLQ, ns)
    listed = await dlq.list_messages(settings, target, limit=None, from_start=True, idle_ms=1500)
    assert [row["replayable"] for row in listed] == [True] * len(events) + [False]
    assert {row["error_type"] for row in listed[:3]} == {"PoisonMessage"}
    assert [row["source"] for row in listed[:3]] == [
        f"{ns}{RAW}:{r.partition}@{r.offset}" for r in originals
    ]

    first = await dlq.replay(settings, target, limit=1, idle_ms=1500)
    rest = await dlq.replay(settings, target, limit=None, idle_ms=1500)
    again = await dlq.replay(settings, target, limit=None, idle_ms=1500)
    assert (first.replayed, rest.replayed, rest.skipped, again.replayed, again.skipped) == (
        1,
        2,
        1,
        0,
        0,
    )

    after = await collect(kafka_bootstrap, f"{ns}{RAW}", 2 * len(events), settle=1.0)
    assert len(after) == 2 * len(events)
    replayed = after[len(events) :]
    for original, copy in zip(originals, replayed, strict=True):
        assert (copy.key, copy.value, list(copy.headers)) == (
            original.key,
            original.value,
            list(original.headers),
        )
        assert not any(k.startswith("dlq.") for k, _ in copy.headers)


async def test_cli_refuses_a_topic_that_is_not_a_dead_letter_topic(kafka_bootstrap: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tools.dlq", "replay", "--topic", RAW],
        env={"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "not the dead-letter topic" in proc.stderr


async def test_cli_lists_as_json_lines(kafka_bootstrap: str, topics_ready: str) -> None:
    ns = topics_ready
    await produce_raw(
        kafka_bootstrap,
        f"{ns}{RAW_DLQ}",
        b"x",
        key=b"k",
        headers=[("dlq.source.topic", f"{ns}{RAW}".encode()), ("dlq.error.type", b"PoisonMessage")],
    )
    proc = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "tools.dlq",
            "list",
            "--topic",
            RAW_DLQ,
            "--all",
            "--idle-ms",
            "1500",
        ],
        env={"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "KAFKA_TOPIC_NAMESPACE": ns, "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    (line,) = proc.stdout.splitlines()
    assert '"replayable": true' in line and '"key": "k"' in line
