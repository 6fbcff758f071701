"""Customer-service KPIs from what the router saw on the stream (every classified message,
routed items and the helpdesks' lifecycle events), in calendar and business time.

``compute(facts, items, conversations, calendar)`` is pure. Spam (``drop``) is excluded from
every KPI. Durations are seconds; ``None`` when there is nothing to average yet. The
Prometheus gauges mirror the latest computation (refreshed by the sweeper and the API).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from prometheus_client import Counter as PromCounter
from prometheus_client import Gauge

from shared.calendar import BusinessCalendar

SENTIMENT_SCORE = {"negative": -1, "neutral": 0, "positive": 1}
GAUGE = Gauge("switchboard_router_kpi", "Router KPIs (see docs/router.md)", ["kpi", "basis"])
SHARE = Gauge(
    "switchboard_router_reply_share", "Share of non-spam messages needing a reply", ["channel"]
)
ROUTED = PromCounter("switchboard_router_items_routed", "Items placed in a queue", ["queue"])
ASSIGNED = PromCounter("switchboard_router_assignments", "Items assigned to an agent", ["cause"])


@dataclass(frozen=True)
class Fact:
    channel: str
    decision: str
    reason: str | None


@dataclass(frozen=True)
class ItemTimes:
    received_at: datetime
    routed_at: datetime
    sla_deadline: datetime
    sla_business_s: int
    first_response_at: datetime | None
    resolved_at: datetime | None
    responses: int
    response_s_total: float
    handling_s: float
    reason: str | None


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 3) if values else None


def share_needing_reply(facts: list[Fact]) -> dict:
    """Replies / (replies + tag-only), overall, per channel and per contact reason."""

    def share(group: list[Fact]) -> float | None:
        kept = [f for f in group if f.decision != "drop"]
        return round(sum(f.decision == "reply" for f in kept) / len(kept), 4) if kept else None

    by_channel, by_reason = defaultdict(list), defaultdict(list)
    for f in facts:
        by_channel[f.channel].append(f)
        by_reason[f.reason or "unknown"].append(f)
    return {
        "overall": share(facts),
        "per_channel": {k: share(v) for k, v in sorted(by_channel.items())},
        "per_reason": {k: share(v) for k, v in sorted(by_reason.items())},
    }


def _durations(items: list[ItemTimes], calendar: BusinessCalendar, end: str) -> dict:
    pairs = [(i.received_at, getattr(i, end)) for i in items if getattr(i, end) is not None]
    return {
        "calendar_s": _mean([(b - a).total_seconds() for a, b in pairs]),
        "business_s": _mean([calendar.between(a, b).total_seconds() for a, b in pairs]),
    }


def sla_attainment(items: list[ItemTimes]) -> dict:
    """Share of answered items whose first response met the SLA: by the business-time deadline,
    and by the same number of minutes counted on the wall clock."""
    answered = [i for i in items if i.first_response_at is not None]
    if not answered:
        return {"business": None, "calendar": None, "answered": 0}
    business = sum(
        i.first_response_at is not None and i.first_response_at <= i.sla_deadline for i in answered
    ) / len(answered)
    calendar = sum(
        i.first_response_at is not None
        and i.first_response_at - i.routed_at <= timedelta(seconds=i.sla_business_s)
        for i in answered
    ) / len(answered)
    return {
        "business": round(business, 4),
        "calendar": round(calendar, 4),
        "answered": len(answered),
    }


def sentiment_change(pairs: list[tuple[str | None, str | None]]) -> dict:
    """First vs last sentiment per conversation: improved / worsened / unchanged, mean delta."""
    deltas = [
        SENTIMENT_SCORE[b] - SENTIMENT_SCORE[a]
        for a, b in pairs
        if a in SENTIMENT_SCORE and b in SENTIMENT_SCORE
    ]
    return {
        "conversations": len(deltas),
        "improved": sum(d > 0 for d in deltas),
        "worsened": sum(d < 0 for d in deltas),
        "unchanged": sum(d == 0 for d in deltas),
        "mean_delta": _mean([float(d) for d in deltas]),
    }


def compute(
    facts: list[Fact],
    items: list[ItemTimes],
    sentiments: list[tuple[str | None, str | None]],
    tag_only_handling: list[float],
    calendar: BusinessCalendar,
) -> dict:
    replies = sum(i.responses for i in items)
    return {
        "messages": sum(f.decision != "drop" for f in facts),
        "share_needing_reply": share_needing_reply(facts),
        "first_response_time": _durations(items, calendar, "first_response_at"),
        "average_response_time_s": round(sum(i.response_s_total for i in items) / replies, 3)
        if replies
        else None,
        "time_to_resolution": _durations(items, calendar, "resolved_at"),
        "handling_time_s": {
            "reply": _mean([i.handling_s for i in items if i.responses > 0]),
            "tag_only": _mean(tag_only_handling),
        },
        "contact_reasons": dict(
            Counter(f.reason or "unknown" for f in facts if f.decision != "drop").most_common()
        ),
        "sentiment_change": sentiment_change(sentiments),
        "sla_attainment": sla_attainment(items),
    }


def export(kpis: dict) -> None:
    """Mirror ``kpis`` into the Prometheus gauges."""
    for channel, value in kpis["share_needing_reply"]["per_channel"].items():
        if value is not None:
            SHARE.labels(channel).set(value)
    for kpi in ("first_response_time", "time_to_resolution"):
        for basis in ("calendar", "business"):
            if (value := kpis[kpi][f"{basis}_s"]) is not None:
                GAUGE.labels(f"{kpi}_seconds", basis).set(value)
    for basis in ("calendar", "business"):
        if (value := kpis["sla_attainment"][basis]) is not None:
            GAUGE.labels("sla_attainment_ratio", basis).set(value)
    if kpis["average_response_time_s"] is not None:
        GAUGE.labels("average_response_time_seconds", "calendar").set(
            kpis["average_response_time_s"]
        )
