"""Live pipeline summary read from the topics themselves (not from any service's memory):
received, dropped as spam, tagged as noise, reply-needed, routed per queue, pages sent."""

from __future__ import annotations

import asyncio
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer

from shared import codec, topics
from shared.events import ItemRouted, MessageClassified
from shared.kafka import registry_only, topic_partitions


@dataclass
class Summary:
    received: int = 0
    decisions: Counter = field(default_factory=Counter)
    queues: Counter = field(default_factory=Counter)
    pages: int = 0
    dead_lettered: int = 0
    seen_ids: set = field(default_factory=set)

    def add(self, topic: str, record) -> None:
        if topic.endswith(".dlq"):
            self.dead_lettered += 1
            return
        event = codec.decode(record.headers, record.value)
        if event.id in self.seen_ids:  # at-least-once: count each event once
            return
        self.seen_ids.add(event.id)
        if topic.endswith(topics.RAW):
            self.received += 1
        elif isinstance(event, MessageClassified):
            self.decisions[event.data.classification.decision.value] += 1
        elif isinstance(event, ItemRouted):
            self.queues[event.data.routing.queue] += 1
        else:
            self.pages += 1

    def lines(self) -> list[str]:
        d = self.decisions
        queues = ", ".join(f"{q} {n}" for q, n in sorted(self.queues.items())) or "-"
        return [
            f"received {self.received:>5}   classified {sum(d.values()):>5}   "
            f"dropped as spam {d['drop']:>4}   tagged as noise {d['tag']:>4}   needs reply {d['reply']:>4}",
            f"routed {sum(self.queues.values()):>5}   per queue: {queues}   pages sent {self.pages:>4}   "
            f"dead-lettered {self.dead_lettered}",
        ]


class SummaryWatcher:
    """Follows the pipeline's topics from the beginning and keeps a ``Summary``."""

    def __init__(self, bootstrap: str, namespace: str = "") -> None:
        self.summary = Summary()
        self._bootstrap, self._namespace = bootstrap, namespace
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        registry_only(self._consumer._client)  # noqa: SLF001 - never create what it reads
        await self._consumer.start()
        names = [topics.RAW, topics.CLASSIFIED, topics.ROUTED, topics.PAGES]
        wanted = [topics.qualified(n, self._namespace) for n in names] + [
            topics.dlq_for(n, self._namespace) for n in names[:3]
        ]
        parts = [tp for t in wanted for tp in await topic_partitions(self._consumer, t)]
        self._consumer.assign(parts)
        await self._consumer.seek_to_beginning(*parts)
        self._task = asyncio.create_task(self._follow())

    async def _follow(self) -> None:
        while True:
            batch = await self._consumer.getmany(timeout_ms=300)
            for tp, records in batch.items():
                for record in records:
                    with suppress(codec.PoisonMessage):
                        self.summary.add(tp.topic, record)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()
