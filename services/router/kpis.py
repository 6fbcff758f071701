"""Customer-service KPIs from what the router saw on the stream (every classified message,
routed items and the helpdesks' lifecycle events), in calendar and business time, on the
customer's clock: every duration starts at the platform's post time (``created_at``, clamped to
the routing time against clock skew), so a message that waited in a poller, a backlog or a
broker outage counts as late. The wait itself is reported as the ingestion delay.

Pure: ``compute`` is the reference from timestamps (``ItemTimes``) and a business calendar;
``summarise`` aggregates the per-item durations the router stores (``Figures``), which is what
``reports`` reads. Spam (``drop``) is excluded from every KPI. Durations are seconds with mean,
median and 90th percentile (linear interpolation, as PostgreSQL's ``percentile_cont``); ``None``
when there is nothing to aggregate yet. The Prometheus gauges mirror the latest report.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
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
    """A routed item's timestamps (the reference computes its durations from them)."""

    received_at: datetime  # the SLA clock's start: the post time, clamped to routed_at
    routed_at: datetime
    sla_deadline: datetime
    sla_business_s: int
    first_response_at: datetime | None
    resolved_at: datetime | None
    responses: int
    response_s_total: float
    handling_s: float
    reason: str | None
    channel: str | None = None
    team: str | None = None
    satisfaction: float | None = None
    tag_only: bool = False


@dataclass(frozen=True)
class Figures:
    """A routed item's durations as stored once known (``reports.fill_durations``)."""

    channel: str | None
    reason: str | None
    team: str | None
    first_response_s: float | None
    first_response_business_s: float | None
    resolution_s: float | None
    resolution_business_s: float | None
    sla_met_business: bool | None
    sla_met_calendar: bool | None
    responses: int
    response_s_total: float
    handling_s: float
    tag_only: bool
    satisfaction: float | None
    ingestion_delay_s: float | None


@dataclass(frozen=True)
class Said:
    """A customer's message with a sentiment, for the sentiment change of their conversation."""

    conversation_key: str
    author_id: str | None
    at: datetime
    sentiment: str


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 3) if values else None


def quantile(values: list[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) with linear interpolation between closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (position - low), 3)


def distribution(calendar_s: list[float], business_s: list[float]) -> dict:
    """Mean (``calendar_s``, ``business_s``), median and p90 of one duration, both bases."""
    answer: dict = {"calendar_s": _mean(calendar_s), "business_s": _mean(business_s)}
    for basis, values in (("calendar", calendar_s), ("business", business_s)):
        answer[f"median_{basis}_s"] = quantile(values, 0.5)
        answer[f"p90_{basis}_s"] = quantile(values, 0.9)
    answer["count"] = len(calendar_s)
    return answer


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


def figures_of(item: ItemTimes, calendar: BusinessCalendar) -> Figures:
    """The durations of ``item`` from its timestamps, as the router stores them once known."""
    start, first, resolved = item.received_at, item.first_response_at, item.resolved_at
    return Figures(
        channel=item.channel,
        reason=item.reason,
        team=item.team,
        first_response_s=None if first is None else (first - start).total_seconds(),
        first_response_business_s=None
        if first is None
        else calendar.between(start, first).total_seconds(),
        resolution_s=None if resolved is None else (resolved - start).total_seconds(),
        resolution_business_s=None
        if resolved is None
        else calendar.between(start, resolved).total_seconds(),
        sla_met_business=None if first is None else first <= item.sla_deadline,
        sla_met_calendar=None
        if first is None
        else first - start <= timedelta(seconds=item.sla_business_s),
        responses=item.responses,
        response_s_total=item.response_s_total,
        handling_s=item.handling_s,
        tag_only=item.tag_only,
        satisfaction=item.satisfaction,
        ingestion_delay_s=max((item.routed_at - start).total_seconds(), 0.0),
    )


def sla_attainment(items: list[Figures]) -> dict:
    """Share of answered items whose first response met the SLA: by the business-time deadline
    (counted from the post time), and within the same minutes of wall-clock time."""
    answered = [i for i in items if i.first_response_s is not None]
    if not answered:
        return {"business": None, "calendar": None, "answered": 0}
    return {
        "business": round(sum(bool(i.sla_met_business) for i in answered) / len(answered), 4),
        "calendar": round(sum(bool(i.sla_met_calendar) for i in answered) / len(answered), 4),
        "answered": len(answered),
    }


def csat(items: list[Figures]) -> dict:
    """Mean satisfaction (0–5) and how many items have a score."""
    scores = [i.satisfaction for i in items if i.satisfaction is not None]
    return {"mean": _mean(scores), "count": len(scores)}


def _grouped(items: list[Figures], key: Callable[[Figures], str | None], figure) -> dict:
    groups: dict[str, list[Figures]] = defaultdict(list)
    for i in items:
        if (name := key(i)) is not None:
            groups[name].append(i)
    return {name: figure(group) for name, group in sorted(groups.items())}


def _durations(items: list[Figures], calendar: str, business: str) -> dict:
    pairs = [
        (getattr(i, calendar), getattr(i, business))
        for i in items
        if getattr(i, calendar) is not None
    ]
    return distribution([c for c, _ in pairs], [b for _, b in pairs if b is not None])


def _group_figures(items: list[Figures]) -> dict:
    return {
        "items": len(items),
        "first_response_time": _durations(items, "first_response_s", "first_response_business_s"),
        "time_to_resolution": _durations(items, "resolution_s", "resolution_business_s"),
        "sla_attainment": sla_attainment(items),
        "csat": csat(items),
    }


def ingestion_delay(items: list[Figures]) -> dict:
    """Post time → routing: how long messages took to reach a queue (calendar seconds)."""
    delays = [i.ingestion_delay_s for i in items if i.ingestion_delay_s is not None]
    return {
        "mean_s": _mean(delays),
        "median_s": quantile(delays, 0.5),
        "p90_s": quantile(delays, 0.9),
        "max_s": round(max(delays), 3) if delays else None,
        "items": len(delays),
    }


def summarise(items: list[Figures]) -> dict:
    """Every item KPI of ``items``: durations, SLA, response and handling time, CSAT, delay."""
    replies = sum(i.responses for i in items)
    return {
        "first_response_time": _durations(items, "first_response_s", "first_response_business_s"),
        "average_response_time_s": round(sum(i.response_s_total for i in items) / replies, 3)
        if replies
        else None,
        "time_to_resolution": _durations(items, "resolution_s", "resolution_business_s"),
        "handling_time_s": {
            "reply": _mean([i.handling_s for i in items if i.responses > 0]),
            "tag_only": _mean([i.handling_s for i in items if i.tag_only]),
        },
        "sla_attainment": sla_attainment(items),
        "csat": {
            "overall": csat(items),
            "by_channel": _grouped(items, lambda i: i.channel, csat),
            "by_reason": _grouped(items, lambda i: i.reason or "unknown", csat),
            "by_team": _grouped(items, lambda i: i.team, csat),
        },
        "ingestion_delay": ingestion_delay(items),
        "by_channel": _grouped(items, lambda i: i.channel, _group_figures),
        "by_reason": _grouped(items, lambda i: i.reason or "unknown", _group_figures),
    }


def sentiment_change(said: Iterable[Said]) -> dict:
    """Per customer and conversation with two or more messages carrying a sentiment: the first
    message's sentiment against the last's (by post time) — improved / worsened / unchanged and
    the mean delta (−2..2)."""
    threads: dict[tuple[str, str | None], list[Said]] = defaultdict(list)
    for s in said:
        if s.sentiment in SENTIMENT_SCORE:
            threads[(s.conversation_key, s.author_id)].append(s)
    deltas = []
    for messages in threads.values():
        if len(messages) >= 2:
            ordered = sorted(messages, key=lambda s: s.at)
            deltas.append(
                SENTIMENT_SCORE[ordered[-1].sentiment] - SENTIMENT_SCORE[ordered[0].sentiment]
            )
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
    said: list[Said],
    calendar: BusinessCalendar,
) -> dict:
    """The KPI report from timestamps (the reference ``reports.kpi_report`` is tested against)."""
    return {
        "messages": sum(f.decision != "drop" for f in facts),
        "share_needing_reply": share_needing_reply(facts),
        "contact_reasons": dict(
            Counter(f.reason or "unknown" for f in facts if f.decision != "drop").most_common()
        ),
        "sentiment_change": sentiment_change(said),
        **summarise([figures_of(i, calendar) for i in items]),
    }


def export(kpis: dict) -> None:
    """Mirror ``kpis`` into the Prometheus gauges."""
    for channel, value in kpis["share_needing_reply"]["per_channel"].items():
        if value is not None:
            SHARE.labels(channel).set(value)
    for kpi in ("first_response_time", "time_to_resolution"):
        for basis in ("calendar", "business"):
            figures = kpis[kpi]
            for name, key in (
                (f"{kpi}_seconds", f"{basis}_s"),
                (f"{kpi}_median_seconds", f"median_{basis}_s"),
                (f"{kpi}_p90_seconds", f"p90_{basis}_s"),
            ):
                if (value := figures[key]) is not None:
                    GAUGE.labels(name, basis).set(value)
    for basis in ("calendar", "business"):
        if (value := kpis["sla_attainment"][basis]) is not None:
            GAUGE.labels("sla_attainment_ratio", basis).set(value)
    if kpis["average_response_time_s"] is not None:
        GAUGE.labels("average_response_time_seconds", "calendar").set(
            kpis["average_response_time_s"]
        )
    if (value := kpis["csat"]["overall"]["mean"]) is not None:
        GAUGE.labels("csat_mean", "score").set(value)
    for name, key in (
        ("ingestion_delay_median_seconds", "median_s"),
        ("ingestion_delay_p90_seconds", "p90_s"),
    ):
        if (value := kpis["ingestion_delay"][key]) is not None:
            GAUGE.labels(name, "calendar").set(value)
