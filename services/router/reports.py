"""The KPIs, aggregated in SQL (SQLite and PostgreSQL alike), optionally over a time window
(``since`` ≤ the message's time < ``until``) and restricted to some queues (a lead's team).

Per-item durations are computed once, when they become known (``fill_durations``, called by
the lifecycle consumer on the first reply and on resolution): first response and resolution
in calendar and business seconds, and whether the first response met the SLA by business and
by wall-clock time. So the business calendar never runs over all rows; the database only sums,
counts and averages. Rows from before those columns existed are filled on the next report.

Message facts (the share needing a reply, contact reasons) are not queue-bound and are the
whole stream (in the window). ``kpis.compute`` is the pure reference the SQL is tested against.
The output is the one ``kpis.compute`` returns, plus ``by_channel``, ``by_reason`` (first
response, resolution, SLA attainment per group) and ``window``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, and_, case, cast, func, literal, or_, select

from services.router import kpis
from services.router.store import RESOLVED, aware, utc
from services.router.tables import Conversation, MessageFact, RoutedItem
from shared.calendar import BusinessCalendar

BACKFILL_BATCH = 2000


def fill_durations(row: RoutedItem, calendar: BusinessCalendar) -> bool:
    """Set the row's missing KPI durations from its timestamps. Returns whether any changed."""
    routed = aware(row.routed_at)
    start = min(aware(row.received_at) or routed, routed)
    changed = False
    first = aware(row.first_response_at)
    if first is not None and row.first_response_s is None:
        row.first_response_s = (first - start).total_seconds()
        row.first_response_business_s = calendar.between(start, first).total_seconds()
        row.sla_met_business = first <= aware(row.sla_deadline)
        row.sla_met_calendar = (first - routed).total_seconds() <= (row.sla_business_s or 0)
        changed = True
    resolved = aware(row.resolved_at)
    if resolved is not None and row.resolution_s is None:
        row.resolution_s = (resolved - start).total_seconds()
        row.resolution_business_s = calendar.between(start, resolved).total_seconds()
        changed = True
    return changed


async def backfill(session, calendar: BusinessCalendar) -> int:
    """Fill durations of rows that have the timestamps but not the durations (rows older than
    0007_router). Returns how many; new rows are filled when written, so this is usually 0."""
    rows = (
        (
            await session.execute(
                select(RoutedItem)
                .where(
                    or_(
                        and_(
                            RoutedItem.first_response_at.is_not(None),
                            RoutedItem.first_response_s.is_(None),
                        ),
                        and_(
                            RoutedItem.resolved_at.is_not(None), RoutedItem.resolution_s.is_(None)
                        ),
                    )
                )
                .limit(BACKFILL_BATCH)
            )
        )
        .scalars()
        .all()
    )
    for row in rows:
        fill_durations(row, calendar)
    if rows:
        await session.commit()
    return len(rows)


def _r(value, digits: int = 3) -> float | None:
    return None if value is None else round(float(value), digits)


def _ratio(part, whole, digits: int = 4) -> float | None:
    return round(float(part or 0) / whole, digits) if whole else None


async def kpi_report(
    sessions,
    calendar: BusinessCalendar,
    queues: set[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict:
    async with sessions() as session:
        while await backfill(session, calendar) == BACKFILL_BATCH:
            pass
        facts = await _facts(session, since, until)
        items_where = _window(RoutedItem.received_at, since, until)
        if queues is not None:
            items_where.append(RoutedItem.queue.in_(sorted(queues)))
        items = await _items(session, items_where)
        report = {
            "messages": facts["messages"],
            "share_needing_reply": facts["share"],
            "first_response_time": items["first_response_time"],
            "average_response_time_s": items["average_response_time_s"],
            "time_to_resolution": items["time_to_resolution"],
            "handling_time_s": items["handling_time_s"],
            "contact_reasons": facts["reasons"],
            "sentiment_change": await _sentiment(
                session, items_where if (queues is not None or since or until) else None
            ),
            "sla_attainment": items["sla_attainment"],
            "by_channel": await _grouped(session, RoutedItem.channel, items_where),
            "by_reason": await _grouped(
                session, func.coalesce(RoutedItem.reason, literal("unknown")), items_where
            ),
            "window": {
                "since": utc(since).isoformat() if since else None,
                "until": utc(until).isoformat() if until else None,
            },
        }
    kpis.export(report)
    return report


def _window(column, since: datetime | None, until: datetime | None) -> list:
    where = []
    if since is not None:
        where.append(column >= utc(since))
    if until is not None:
        where.append(column < utc(until))
    return where


def _kept_replies():
    kept = func.sum(case((MessageFact.decision != "drop", 1), else_=0))
    replies = func.sum(case((MessageFact.decision == "reply", 1), else_=0))
    return kept, replies


async def _facts(session, since, until) -> dict:
    where = _window(MessageFact.received_at, since, until)
    kept, replies = _kept_replies()
    total_kept, total_replies = (await session.execute(select(kept, replies).where(*where))).one()
    share = {"overall": _ratio(total_replies, total_kept), "per_channel": {}, "per_reason": {}}
    for channel, k, r in (
        await session.execute(
            select(MessageFact.channel, kept, replies)
            .where(*where)
            .group_by(MessageFact.channel)
            .order_by(MessageFact.channel)
        )
    ).all():
        share["per_channel"][channel] = _ratio(r, k)
    reason = func.coalesce(MessageFact.reason, literal("unknown"))
    for name, k, r in (
        await session.execute(
            select(reason, kept, replies).where(*where).group_by(reason).order_by(reason)
        )
    ).all():
        share["per_reason"][name] = _ratio(r, k)
    counted = func.count()
    reasons = (
        await session.execute(
            select(reason, counted)
            .where(*where, MessageFact.decision != "drop")
            .group_by(reason)
            .order_by(counted.desc(), reason)
        )
    ).all()
    return {
        "messages": int(total_kept or 0),
        "share": share,
        "reasons": {n: int(c) for n, c in reasons},
    }


def _item_columns() -> dict:
    answered = RoutedItem.first_response_at.is_not(None)
    return {
        "frt_cal": func.avg(RoutedItem.first_response_s),
        "frt_bus": func.avg(RoutedItem.first_response_business_s),
        "ttr_cal": func.avg(RoutedItem.resolution_s),
        "ttr_bus": func.avg(RoutedItem.resolution_business_s),
        "answered": func.sum(case((answered, 1), else_=0)),
        "met_bus": func.sum(
            case((and_(answered, RoutedItem.sla_met_business.is_(True)), 1), else_=0)
        ),
        "met_cal": func.sum(
            case((and_(answered, RoutedItem.sla_met_calendar.is_(True)), 1), else_=0)
        ),
    }


def _sla(answered, met_bus, met_cal) -> dict:
    answered = int(answered or 0)
    return {
        "business": _ratio(met_bus, answered),
        "calendar": _ratio(met_cal, answered),
        "answered": answered,
    }


async def _items(session, where: list) -> dict:
    cols = _item_columns()
    tag_only = and_(RoutedItem.work_state == RESOLVED, RoutedItem.responses == 0)
    query = select(
        *cols.values(),
        func.sum(RoutedItem.response_s_total),
        func.sum(RoutedItem.responses),
        func.avg(case((RoutedItem.responses > 0, RoutedItem.handling_s), else_=None)),
        func.avg(case((tag_only, RoutedItem.handling_s), else_=None)),
    ).where(*where)
    (
        frt_cal,
        frt_bus,
        ttr_cal,
        ttr_bus,
        answered,
        met_bus,
        met_cal,
        resp_total,
        responses,
        h_reply,
        h_tag,
    ) = (await session.execute(query)).one()
    return {
        "first_response_time": {"calendar_s": _r(frt_cal), "business_s": _r(frt_bus)},
        "average_response_time_s": round(float(resp_total) / int(responses), 3)
        if responses
        else None,
        "time_to_resolution": {"calendar_s": _r(ttr_cal), "business_s": _r(ttr_bus)},
        "handling_time_s": {"reply": _r(h_reply), "tag_only": _r(h_tag)},
        "sla_attainment": _sla(answered, met_bus, met_cal),
    }


async def _grouped(session, key, where: list) -> dict:
    """First response, resolution and SLA attainment per value of ``key`` (channel or reason)."""
    cols = _item_columns()
    rows = (
        await session.execute(
            select(key, func.count(), *cols.values()).where(*where).group_by(key).order_by(key)
        )
    ).all()
    return {
        name: {
            "items": int(count),
            "first_response_time": {"calendar_s": _r(frt_cal), "business_s": _r(frt_bus)},
            "time_to_resolution": {"calendar_s": _r(ttr_cal), "business_s": _r(ttr_bus)},
            "sla_attainment": _sla(answered, met_bus, met_cal),
        }
        for name, count, frt_cal, frt_bus, ttr_cal, ttr_bus, answered, met_bus, met_cal in rows
        if name is not None
    }


async def _sentiment(session, items_where: list | None) -> dict:
    """First vs last sentiment per conversation (the conversations of the selected items when
    restricted by queue or window)."""

    def score(column):
        return case(
            (column == "negative", -1),
            (column == "neutral", 0),
            (column == "positive", 1),
            else_=None,
        )

    delta = score(Conversation.last_sentiment) - score(Conversation.first_sentiment)
    where = [
        score(Conversation.first_sentiment).is_not(None),
        score(Conversation.last_sentiment).is_not(None),
    ]
    if items_where is not None:
        where.append(
            Conversation.conversation_key.in_(
                select(RoutedItem.conversation_key).where(*items_where)
            )
        )
    n, up, down, same, mean = (
        await session.execute(
            select(
                func.count(),
                func.sum(case((delta > 0, 1), else_=0)),
                func.sum(case((delta < 0, 1), else_=0)),
                func.sum(case((delta == 0, 1), else_=0)),
                func.avg(cast(delta, Float)),
            ).where(*where)
        )
    ).one()
    return {
        "conversations": int(n or 0),
        "improved": int(up or 0),
        "worsened": int(down or 0),
        "unchanged": int(same or 0),
        "mean_delta": _r(mean),
    }
