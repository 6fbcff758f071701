"""The KPI report over the router's tables (SQLite and PostgreSQL alike), optionally over a time
window (``since`` ≤ the message's post time < ``until``) and restricted to some queues (a lead's
team). Every duration runs on the customer's clock: from the platform's post time (clamped to
the routing time against clock skew), so a backlog replayed days later shows days.

Per-item durations are computed once, when they become known (``fill_durations``, called by
the lifecycle consumer on the first reply and on resolution): first response and resolution
in calendar and business seconds, and whether the first response met the SLA by business and
by wall-clock time. So the business calendar never runs over all rows at report time. Rows
from before those columns existed are filled on the next report.

Message facts (the share needing a reply, contact reasons) are counted in SQL and are the whole
stream (in the window). Item KPIs need medians and 90th percentiles, which SQLite cannot compute,
so the report reads one row of stored durations per selected item (one query, no calendar work)
and ``kpis.summarise`` aggregates them; sentiment change reads the customers' messages with a
sentiment (``router_conversation_messages``). ``kpis.compute`` is the reference from timestamps
the report is tested against; the output is its answer plus ``window``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, case, func, literal, or_, select

from services.router import kpis
from services.router.store import RESOLVED, aware, utc
from services.router.tables import ConversationMessage, MessageFact, Queue, RoutedItem
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
        row.sla_met_calendar = (first - start).total_seconds() <= (row.sla_business_s or 0)
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
        figures = await _figures(session, items_where)
        said = await _said(session, since, until, items_where if queues is not None else None)
        report = {
            "messages": facts["messages"],
            "share_needing_reply": facts["share"],
            "contact_reasons": facts["reasons"],
            "sentiment_change": kpis.sentiment_change(said),
            **kpis.summarise(figures),
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


async def _figures(session, where: list) -> list[kpis.Figures]:
    """The stored durations of the selected items, with their queue's team (one query)."""
    tag_only = and_(RoutedItem.work_state == RESOLVED, RoutedItem.responses == 0)
    rows = (
        await session.execute(
            select(
                RoutedItem.channel,
                RoutedItem.reason,
                Queue.team_id,
                RoutedItem.first_response_s,
                RoutedItem.first_response_business_s,
                RoutedItem.resolution_s,
                RoutedItem.resolution_business_s,
                RoutedItem.sla_met_business,
                RoutedItem.sla_met_calendar,
                RoutedItem.responses,
                RoutedItem.response_s_total,
                RoutedItem.handling_s,
                case((tag_only, True), else_=False),
                RoutedItem.satisfaction,
                RoutedItem.ingestion_delay_s,
            )
            .outerjoin(Queue, Queue.id == RoutedItem.queue)
            .where(*where)
        )
    ).all()
    return [
        kpis.Figures(
            channel=r[0],
            reason=r[1],
            team=r[2],
            first_response_s=r[3],
            first_response_business_s=r[4],
            resolution_s=r[5],
            resolution_business_s=r[6],
            sla_met_business=r[7],
            sla_met_calendar=r[8],
            responses=r[9] or 0,
            response_s_total=r[10] or 0.0,
            handling_s=r[11] or 0.0,
            tag_only=bool(r[12]),
            satisfaction=r[13],
            ingestion_delay_s=r[14],
        )
        for r in rows
    ]


async def _said(session, since, until, items_where: list | None) -> list[kpis.Said]:
    """Customers' messages with a sentiment, posted in the window (of the selected items'
    conversations when restricted to some queues)."""
    where = [
        ConversationMessage.sentiment.is_not(None),
        *_window(ConversationMessage.at, since, until),
    ]
    if items_where is not None:
        where.append(
            ConversationMessage.conversation_key.in_(
                select(RoutedItem.conversation_key).where(*items_where)
            )
        )
    rows = (
        await session.execute(
            select(
                ConversationMessage.conversation_key,
                ConversationMessage.author_id,
                ConversationMessage.at,
                ConversationMessage.sentiment,
            ).where(*where)
        )
    ).all()
    return [kpis.Said(key, author, aware(at), sentiment) for key, author, at, sentiment in rows]
