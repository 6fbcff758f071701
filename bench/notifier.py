"""Notifier throughput on PostgreSQL (127.0.0.1:5432, database ``test``, a fresh schema) and the
given broker: routed urgent items that arrive while the office is closed, each its own
conversation, consumed by the notifier's real routed-topic runner (decode, calendar triage, two
durable SLA timers, one incident opened and its item attached — a whole poll in one transaction —,
offsets committed) — pages planned and persisted per second. Delivery is not part of the figure
(the scheduler is idle).

Beside two baselines measured in the same run on the same broker and database:
* the raw consume rate of the same records in a fresh consumer group (aiokafka alone);
* plain inserts of the same rows (incident, item, two timers), one transaction per item.
``BENCH_NOTIFIER_ITEMS`` (default 2000: the figure is timed from the end of the first poll of 200, so
it needs several polls).
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from datetime import timedelta
from pathlib import Path

from aiokafka import AIOKafkaConsumer

from bench._pg import fresh_schema
from bench.report import row
from services.notifier.settings import NotifierSettings
from shared import db, topics
from tools.devbroker import ensure_topics

ONCALL = Path(__file__).resolve().parent.parent / "config" / "oncall.yaml"


def _events(n: int, tag: str):
    from tests.integration.test_notifier_paging import routed

    return [routed(i, conversation=f"{tag}-c{i}", deadline_min=120) for i in range(n)]


async def _produce(bootstrap: str, topic: str, events) -> None:
    from tests.kafkautil import produce

    await produce(bootstrap, topic, events)


async def _consume_raw(bootstrap: str, topic: str, n: int) -> float:
    """Records/s from the first record to the n-th, committing each batch like the runner."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench-raw-{uuid.uuid4().hex[:8]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    seen, first = 0, None
    try:
        deadline = time.monotonic() + 120
        while seen < n and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200, max_records=200)
            got = sum(len(records) for records in batch.values())
            if got and first is None:  # like the notifier's figure: from the first batch on
                first = (time.perf_counter(), got)
            seen += got
            if batch:
                await consumer.commit()
        done = time.perf_counter()
    finally:
        await consumer.stop()
    if first is None or seen < n:
        raise RuntimeError(f"raw consumer read {seen} of {n}")
    started, already = first
    return (n - already) / (done - started) if done > started else float("nan")


async def _notify_all(url: str, bootstrap: str, namespace: str, n: int, now) -> float:
    from services.notifier.app import build

    settings = NotifierSettings(
        database_url=url,
        oncall_file=ONCALL,
        kafka_bootstrap_servers=bootstrap,
        kafka_topic_namespace=namespace,
        consumer_group=f"bench-notifier-{uuid.uuid4().hex[:8]}",
        scheduler_interval_s=3600,
        delivery_attempts=1,
        delivery_backoff_s=0.0,
    )
    _, service = build(settings, clock=lambda: now)
    before = await service.paging.incidents.item_total()  # the baseline's rows share the database
    runner, run = service.runners[0], asyncio.create_task(service.run())
    first = None
    try:
        deadline = time.monotonic() + 300
        while runner.state.processed < n and time.monotonic() < deadline and not run.done():
            if first is None and runner.state.processed > 0:
                first = (time.perf_counter(), runner.state.processed)
            await asyncio.sleep(0.005)
        done = time.perf_counter()
        if runner.state.processed < n:
            raise RuntimeError(f"notifier processed {runner.state.processed} of {n}")
        items = await service.paging.incidents.item_total() - before
        if items != n:
            raise RuntimeError(f"{items} items attached of {n}")
    finally:
        service.stop()
        await asyncio.wait_for(run, 60)
        await service.paging.incidents._sessions.kw["bind"].dispose()
    started, already = first
    return (n - already) / (done - started)


async def _insert_all(url: str, events, now) -> float:
    from services.notifier.tables import Incident, IncidentItem, SlaTimer

    engine = db.engine(url)
    sessions = db.sessions(engine)
    started = time.perf_counter()
    for e in events:
        m, deadline = e.data.message, e.data.routing.sla_deadline
        async with sessions() as s:
            incident = str(uuid.uuid4())
            s.add(
                Incident(
                    id=incident,
                    key=f"base:{m.conversation_key}",
                    open_key=f"base:{m.conversation_key}",
                    team="support",
                    status="triggered",
                    reason="closed",
                    summary=m.text[:200],
                    item_count=1,
                    step=0,
                    round=0,
                    passes_left=1,
                    next_at=None,
                    version=0,
                    opened_at=now,
                )
            )
            s.add(
                IncidentItem(
                    source_id=f"base:{e.id}",
                    incident_id=incident,
                    kind="item",
                    item_event_id=e.id,
                    queue="support-en",
                    message_key=m.message_key,
                    attached_at=now,
                )
            )
            for kind, due in (
                ("sla-warning", deadline - timedelta(minutes=5)),
                ("sla-breach", deadline),
            ):
                s.add(
                    SlaTimer(
                        item_event_id=f"base:{e.id}",
                        kind=kind,
                        incident_key=m.conversation_key,
                        team="support",
                        queue="support-en",
                        message_key=m.message_key,
                        summary=m.text[:200],
                        due_at=due,
                    )
                )
            await s.commit()
    elapsed = time.perf_counter() - started
    await engine.dispose()
    return len(events) / elapsed


async def measure(bootstrap: str) -> list[dict]:
    from tests.integration.test_notifier_paging import SUNDAY_NIGHT

    n = int(os.environ.get("BENCH_NOTIFIER_ITEMS", "2000"))
    namespace = f"bench{uuid.uuid4().hex[:8]}."
    with fresh_schema() as url:
        await ensure_topics(bootstrap, namespace)
        topic = topics.qualified(topics.ROUTED, namespace)
        await _produce(bootstrap, topic, _events(n, "n"))
        consumed = await _consume_raw(bootstrap, topic, n)
        inserted = await _insert_all(url, _events(n, "b"), SUNDAY_NIGHT)
        notified = await _notify_all(url, bootstrap, namespace, n, SUNDAY_NIGHT)
    return [
        row(
            "notifier: pages planned+persisted/s (PG)",
            notified,
            "items/s",
            "plain inserts/s (same rows)",
            inserted,
        ),
        row(
            "notifier: pages planned+persisted/s vs consume",
            notified,
            "items/s",
            "raw consume records/s (same topic)",
            consumed,
        ),
    ]
