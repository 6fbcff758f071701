"""The read-only history reader over the router's tables (SQLite in memory)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from services.router.planning.history import read_history
from services.router.tables import RoutedItem, TriageMessage
from shared.db import Base

DAY0 = datetime(2025, 3, 3, tzinfo=UTC)


def _item(i: int, at: datetime, queue: str = "support-de", handling: float = 0.0) -> RoutedItem:
    return RoutedItem(
        message_key=f"m{i}",
        event_id=f"e{i}",
        conversation_key=f"c{i}",
        queue=queue,
        priority=1,
        sla_deadline=at + timedelta(hours=1),
        routed_at=at,
        received_at=at,
        handling_s=handling,
    )


def _tagged(i: int, at: datetime) -> TriageMessage:
    return TriageMessage(
        message_key=f"t{i}",
        event_id=f"te{i}",
        platform="x",
        channel="public",
        account_id="a",
        author_id="b",
        language="de",
        text="nice",
        decision="tag",
        reason="noise",
        explanation={},
        tags=[],
        queue="support-de",
        received_at=at,
        classified_at=at,
    )


@pytest.mark.asyncio
async def test_counts_per_interval_handling_time_and_not_observed_before_the_first_item():
    engine = create_async_engine("sqlite+aiosqlite://")
    async with engine.begin() as conn:
        await conn.run_sync(
            Base.metadata.create_all, tables=[RoutedItem.__table__, TriageMessage.__table__]
        )
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as s:
        s.add_all(
            [
                _item(0, DAY0 + timedelta(minutes=5), handling=300),
                _item(1, DAY0 + timedelta(minutes=20)),
                _item(2, DAY0 + timedelta(days=1, minutes=40), handling=500),
                _item(3, DAY0 + timedelta(minutes=7), queue="other"),
                _tagged(0, DAY0 + timedelta(hours=2)),
            ]
        )
        await s.commit()
    h = await read_history(
        sessions, "support-de", since=DAY0 - timedelta(days=1), until=DAY0 + timedelta(days=2)
    )
    await engine.dispose()
    reply = h.reply.counts
    assert np.isnan(reply[:48]).all()  # the day before the queue's first item: not observed
    assert reply[48] == 2 and reply[48 + 48 + 1] == 1 and np.nansum(reply) == 3
    assert h.aht_s == pytest.approx(400) and h.handled_items == 2
    assert (
        set(h.series()) == {"reply", "tag-only", "channel:unknown"}
        and np.nansum(h.tag_only.counts) == 1
    )
    assert h.handling(tag_only_s=20) == {"reply": 400, "tag-only": 20}
