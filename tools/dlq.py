"""Inspect and replay a dead-letter topic.

    python -m tools.dlq list   --topic switchboard.messages.raw.v1.dlq [--limit N] [--all]
    python -m tools.dlq replay --topic switchboard.messages.raw.v1.dlq [--limit N]

``--topic`` is a registered ``.dlq`` topic (the settings' ``KAFKA_TOPIC_NAMESPACE`` prefix is
added, as for every topic). ``replay`` re-produces each dead-lettered message to the topic in
its ``dlq.source.topic`` header, with its original key, value and headers minus the ``dlq.*``
provenance headers, waits for the broker's acknowledgement (acks=all) and only then commits
its position in the consumer group ``switchboard-dlq-replay``; a second replay therefore
continues after the last one instead of sending everything again (replays are safe anyway:
every consumer is idempotent on the event id). A message whose ``dlq.source.topic`` is
missing (the ingestor's unhandled webhook events) or is not this DLQ's source topic is
skipped and reported, never sent elsewhere. ``list`` prints one JSON line per message from
the replay group's position (``--all``: from the beginning) and commits nothing.

Reading stops at ``--limit`` messages or when the topic yields nothing for ``--idle-ms``
(end offsets are not trusted: the embedded broker reports them wrongly). Exit status 0 on
success, 1 when a produce was not acknowledged (nothing past it is committed), 2 on usage.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from shared import kafka, topics
from shared.settings import CommonSettings

REPLAY_GROUP = "switchboard-dlq-replay"
DLQ_PREFIX = "dlq."


@dataclass(frozen=True)
class Target:
    """The DLQ to read and the only topic its messages may be replayed to (both qualified)."""

    dlq: str
    source: str


def target_for(dlq: str, namespace: str = "") -> Target:
    """Resolve a registered DLQ name. Raises ``ValueError`` if it is not a registered DLQ."""
    sources = [s.name for s in topics.registry() if s.dlq == dlq]
    if not sources:
        raise ValueError(f"{dlq} is not the dead-letter topic of any registered topic")
    return Target(
        dlq=topics.qualified(dlq, namespace), source=topics.qualified(sources[0], namespace)
    )


def headers_of(record: ConsumerRecord) -> dict[str, str]:
    return {k: (v or b"").decode("utf-8", errors="replace") for k, v in (record.headers or ())}


def replay_headers(record: ConsumerRecord) -> list[tuple[str, bytes]]:
    """The record's headers without the ``dlq.*`` provenance the runner added, order kept."""
    return [(k, v) for k, v in (record.headers or ()) if not k.startswith(DLQ_PREFIX)]


def describe(record: ConsumerRecord, target: Target) -> dict:
    """One line of ``list``: where the message sits, where it came from, why it failed."""
    h = headers_of(record)
    return {
        "partition": record.partition,
        "offset": record.offset,
        "key": record.key.decode("utf-8", errors="replace") if record.key else None,
        "source": f"{h.get('dlq.source.topic')}:{h.get('dlq.source.partition')}@{h.get('dlq.source.offset')}",
        "service": h.get("dlq.service") or h.get("dlq.source.service"),
        "error_type": h.get("dlq.error.type") or h.get("dlq.reason"),
        "error": h.get("dlq.error"),
        "failed_at": h.get("dlq.failed.at"),
        "type": h.get("ce_type"),
        "replayable": h.get("dlq.source.topic") == target.source,
    }


async def read(
    consumer: AIOKafkaConsumer, tp_list: list[TopicPartition], limit: int | None, idle_ms: int
) -> AsyncIterator[ConsumerRecord]:
    """Records from the consumer's positions, in order per partition, until ``limit`` or idle."""
    seen = 0
    while limit is None or seen < limit:
        batch = await consumer.getmany(
            *tp_list, timeout_ms=idle_ms, max_records=None if limit is None else limit - seen
        )
        if not batch:
            return
        for records in batch.values():
            for record in records:
                seen += 1
                yield record


async def _open(
    settings: CommonSettings, target: Target, from_start: bool
) -> tuple[AIOKafkaConsumer, list]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=REPLAY_GROUP,
        client_id=REPLAY_GROUP,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        request_timeout_ms=max(settings.kafka_request_timeout_ms, 15000),
    )
    kafka.registry_only(consumer._client)  # noqa: SLF001 - never create the topic it looks for
    await consumer.start()
    try:
        tp_list = await kafka.topic_partitions(consumer, target.dlq, wait_s=1.0)
    except LookupError:
        await consumer.stop()
        raise ValueError(
            f"topic {target.dlq} does not exist on {settings.kafka_bootstrap_servers}"
        ) from None
    consumer.assign(tp_list)  # manual assignment: no group join, commits still go to the group
    if from_start:
        await consumer.seek_to_beginning(*tp_list)
    return consumer, tp_list


async def list_messages(
    settings: CommonSettings,
    target: Target,
    limit: int | None,
    from_start: bool,
    idle_ms: int = 2000,
) -> list[dict]:
    """Describe the dead-lettered messages; commits nothing."""
    consumer, tp_list = await _open(settings, target, from_start)
    try:
        return [describe(r, target) async for r in read(consumer, tp_list, limit, idle_ms)]
    finally:
        await consumer.stop()


@dataclass
class ReplayResult:
    replayed: int = 0
    skipped: int = 0


async def replay(
    settings: CommonSettings, target: Target, limit: int | None, idle_ms: int = 2000
) -> ReplayResult:
    """Re-produce dead-lettered messages to their source topic, then commit past them.

    Raises ``KafkaError`` when a produce is not acknowledged; nothing is committed then."""
    consumer, tp_list = await _open(settings, target, from_start=False)
    producer = kafka.producer(settings, "switchboard-dlq-replay")
    await producer.start()
    result, acks, positions = ReplayResult(), [], {}
    try:
        async for record in read(consumer, tp_list, limit, idle_ms):
            positions[TopicPartition(record.topic, record.partition)] = record.offset + 1
            if headers_of(record).get("dlq.source.topic") != target.source:
                result.skipped += 1
                continue
            acks.append(
                await producer.send(
                    target.source,
                    value=record.value,
                    key=record.key,
                    headers=replay_headers(record),
                )
            )
            result.replayed += 1
        await asyncio.gather(*acks)
        if positions:
            await consumer.commit(positions)
    finally:
        await producer.stop()
        await consumer.stop()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.dlq", description=__doc__.splitlines()[0]
    )
    parser.add_argument("command", choices=["list", "replay"])
    parser.add_argument(
        "--topic",
        required=True,
        help="registered dead-letter topic, e.g. switchboard.messages.raw.v1.dlq",
    )
    parser.add_argument("--limit", type=int, default=None, help="at most N messages")
    parser.add_argument(
        "--all", action="store_true", help="list: from the beginning, not the replay position"
    )
    parser.add_argument(
        "--idle-ms", type=int, default=2000, help="stop after this long without a message"
    )
    args = parser.parse_args(argv)
    settings = CommonSettings()
    try:
        target = target_for(args.topic, settings.kafka_topic_namespace)
        if args.command == "list":
            rows = asyncio.run(list_messages(settings, target, args.limit, args.all, args.idle_ms))
            sys.stdout.write("".join(json.dumps(row) + "\n" for row in rows))
            return 0
        result = asyncio.run(replay(settings, target, args.limit, args.idle_ms))
    except ValueError as exc:
        print(f"dlq: {exc}", file=sys.stderr)
        return 2
    except KafkaError as exc:
        print(f"dlq: produce not acknowledged, nothing committed: {exc}", file=sys.stderr)
        return 1
    print(
        json.dumps(
            {
                "topic": target.dlq,
                "to": target.source,
                "replayed": result.replayed,
                "skipped": result.skipped,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
