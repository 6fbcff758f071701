"""Routing throughput on PostgreSQL (127.0.0.1:5432, database ``test``, a fresh schema): items/s
through the router's stage — rule match, business-time SLA, ledger row, audit, assignment to
the least-loaded online agent — beside a baseline measured in the same run: plain inserts of
the same routed-item rows, one transaction each (persistence alone). Two figures: one message per
transaction (the stage's ``__call__``), and the batched path production runs (``process_batch``
over polls of ``max_batch`` records, one transaction each, follow-ups after the acks).
``BENCH_ROUTING_ITEMS``.
"""

from __future__ import annotations

import os
import time
import uuid

from sqlalchemy import update

from bench._pg import fresh_schema
from bench.report import row
from services.router.app import runtime_of
from services.router.settings import RouterSettings
from services.router.tables import Agent, RoutedItem
from shared import db
from shared.runner import RecordMeta


def _events(n: int, tag: str):
    from tests.integration.test_router_dispatch import classified

    languages = ("de", "en", "de", "tr")
    events = [
        classified(i, conversation=f"{tag}-c{i % (n // 3 or 1)}", language=languages[i % 4])
        for i in range(n)
    ]
    # distinct messages per run (one database): otherwise a later run only finds known items
    return [
        e.model_copy(
            update={
                "id": f"{tag}-{e.id}",
                "data": e.data.model_copy(
                    update={
                        "message": e.data.message.model_copy(
                            update={"platform_message_id": f"{tag}-m-{i}"}
                        )
                    }
                ),
            }
        )
        for i, e in enumerate(events)
    ]


async def _route_all(url: str, events, batch: int = 0) -> float:
    """Items/s through the router's stage: one message per call and transaction (``batch`` 0),
    or as production runs it — the runner hands ``process_batch`` a poll of up to ``batch``
    records (one transaction) and runs the follow-up (mark published, feed the bridge) once
    the broker acknowledged the outputs."""
    engine = db.engine(url)
    sessions = db.sessions(engine)
    runtime = runtime_of(RouterSettings(database_url=url), sessions)
    await runtime.prepare()
    async with sessions() as s:  # everyone online with room: every item is assigned
        await s.execute(update(Agent).values(status="online", capacity=100, load=0))
        await s.commit()
    stage, meta = runtime.runners[0].stage, RecordMeta("bench", 0, 0, None)
    started = time.perf_counter()
    if batch:
        for i in range(0, len(events), batch):
            answers = await stage.process_batch([(e, meta) for e in events[i : i + batch]])
            for answer in answers:
                for out in answer:
                    if out.on_acked:
                        await out.on_acked()
            await stage.on_batch_acked(answers)
    else:
        for event in events:
            for out in await stage(event, meta):
                if out.on_acked:
                    await out.on_acked()
    elapsed = time.perf_counter() - started
    await engine.dispose()
    return len(events) / elapsed


async def _insert_all(url: str, events) -> float:
    engine = db.engine(url)
    sessions = db.sessions(engine)
    started = time.perf_counter()
    for e in events:
        m = e.data.message
        async with sessions() as s:
            s.add(
                RoutedItem(
                    message_key=f"base:{m.message_key}",
                    event_id=str(uuid.uuid4()),
                    conversation_key=m.conversation_key,
                    queue="support-de",
                    priority=50,
                    sla_deadline=m.created_at,
                    routed_at=m.created_at,
                    state="queued",
                )
            )
            await s.commit()
    elapsed = time.perf_counter() - started
    await engine.dispose()
    return len(events) / elapsed


async def measure(bootstrap: str) -> list[dict]:
    n = int(os.environ.get("BENCH_ROUTING_ITEMS", "400"))
    with fresh_schema() as url:
        baseline = await _insert_all(url, _events(n, "b"))
        routed = await _route_all(url, _events(n, "r"))
        batched = await _route_all(url, _events(n, "s"), batch=RouterSettings().max_batch)
    return [
        row(
            "router: routed+assigned items/s (PostgreSQL)",
            routed,
            "items/s",
            "plain row inserts/s (same rows)",
            baseline,
        ),
        row(
            "router: routed+assigned items/s, stage_batch (PostgreSQL)",
            batched,
            "items/s",
            "plain row inserts/s (same rows)",
            baseline,
        ),
    ]
