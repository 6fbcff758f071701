"""The router's arrival history per queue, read-only from its tables, for planning.

- reply-needed work: ``routed_items`` of the queue, by ``received_at`` (``routed_at`` where the
  receipt time is unknown); spam and noise never reach that table; the same split per channel
  (``channel:<name>``, a breakdown of the reply workload, not added to it);
- tag-only work: ``router_triage`` rows the classifier tagged (decision ``tag``) whose routing
  rules point at the queue; its handling time is the caller's (the helpdesk does not report it);
- handling time: the mean ``handling_s`` of the queue's items that have one (summed from the
  helpdesk's lifecycle events); ``None`` when no item has any, so staffing can say so; and the
  most recent ones in the window as a sample (their shape, for the reliability simulation).

Intervals before the queue's first item are "not observed" (NaN), not zero, so a new queue
reads as short history rather than as weeks of silence. Issues only SELECTs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import func, select

from services.router.planning.forecast import Series
from services.router.planning.service import CHANNEL
from services.router.tables import RoutedItem, TriageMessage

SAMPLE = 5_000  # most recent handling times kept for the reliability simulation


@dataclass(frozen=True)
class QueueHistory:
    queue: str
    reply: Series
    tag_only: Series
    aht_s: float | None
    handled_items: int
    channels: dict[str, Series] = field(default_factory=dict)
    handling_sample: np.ndarray = field(default_factory=lambda: np.array([]))

    def series(self) -> dict[str, Series]:
        """Series name -> counts: the workloads (``reply``; ``tag-only`` once some was seen) and
        the reply workload per channel (``channel:<name>``)."""
        tagged = bool(np.nansum(self.tag_only.counts) > 0)
        return {
            "reply": self.reply,
            **({"tag-only": self.tag_only} if tagged else {}),
            **{f"{CHANNEL}{name}": s for name, s in sorted(self.channels.items())},
        }

    def handling(self, tag_only_s: float | None = None) -> dict[str, float | None]:
        """Workload name -> mean handling seconds (tag-only: the team's figure, if any)."""
        return {"reply": self.aht_s, "tag-only": tag_only_s}


def _aware(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t


def bucket(
    times: list[datetime],
    *,
    since: datetime,
    until: datetime,
    interval_s: int,
    observed_from: datetime | None,
) -> Series:
    """Counts per interval over [since, until); NaN before ``observed_from`` (day-aligned)."""
    n = max(0, math.ceil((until - since).total_seconds() / interval_s))
    counts = np.zeros(n)
    for t in times:
        i = int((_aware(t) - since).total_seconds() // interval_s)
        if 0 <= i < n:
            counts[i] += 1
    if observed_from is None:
        counts[:] = np.nan
    else:
        first = int((_aware(observed_from) - since).total_seconds() // 86_400) * (
            86_400 // interval_s
        )
        counts[: max(0, first)] = np.nan
    return Series(since, interval_s, counts)


async def read_history(
    sessions, queue: str, *, since: datetime, until: datetime, interval_s: int = 1800
) -> QueueHistory:
    """The queue's history between ``since`` and ``until`` (tz-aware, ``since`` at midnight UTC
    for whole days). ``sessions`` is an ``async_sessionmaker``; read-only."""
    stamp = func.coalesce(RoutedItem.received_at, RoutedItem.routed_at)
    async with sessions() as s:
        rows = (
            await s.execute(
                select(stamp, RoutedItem.channel).where(
                    RoutedItem.queue == queue, stamp >= since, stamp < until
                )
            )
        ).all()
        reply = [r[0] for r in rows]
        first_reply = (
            await s.execute(select(func.min(stamp)).where(RoutedItem.queue == queue))
        ).scalar()
        tags = [
            r[0]
            for r in await s.execute(
                select(TriageMessage.received_at).where(
                    TriageMessage.queue == queue,
                    TriageMessage.decision == "tag",
                    TriageMessage.received_at >= since,
                    TriageMessage.received_at < until,
                )
            )
        ]
        first_tag = (
            await s.execute(
                select(func.min(TriageMessage.received_at)).where(TriageMessage.queue == queue)
            )
        ).scalar()
        sample = (
            await s.scalars(
                select(RoutedItem.handling_s)
                .where(RoutedItem.queue == queue, RoutedItem.handling_s > 0, stamp >= since)
                .order_by(stamp.desc())
                .limit(SAMPLE)
            )
        ).all()
        aht, handled = (
            await s.execute(
                select(func.avg(RoutedItem.handling_s), func.count()).where(
                    RoutedItem.queue == queue, RoutedItem.handling_s > 0
                )
            )
        ).one()
    firsts = [t for t in (first_reply, first_tag) if t is not None]
    observed = min((_aware(t) for t in firsts), default=None)
    by_channel: dict[str, list[datetime]] = {}
    for at, channel in rows:
        by_channel.setdefault(channel or "unknown", []).append(at)
    return QueueHistory(
        queue,
        bucket(reply, since=since, until=until, interval_s=interval_s, observed_from=observed),
        bucket(tags, since=since, until=until, interval_s=interval_s, observed_from=observed),
        float(aht) if aht else None,
        int(handled or 0),
        {
            name: bucket(
                times, since=since, until=until, interval_s=interval_s, observed_from=observed
            )
            for name, times in by_channel.items()
        },
        np.array(sample, dtype=float),
    )
