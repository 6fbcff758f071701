"""Reading the KPIs' inputs from the database and handing them to ``kpis.compute``.

Optionally restricted to some queues (a lead's team); message facts (the share needing a
reply, contact reasons) are not queue-bound and are always the whole stream.
"""

from __future__ import annotations

from sqlalchemy import select

from services.router import kpis
from services.router.store import RESOLVED, aware
from services.router.tables import Conversation, MessageFact, RoutedItem
from shared.calendar import BusinessCalendar


async def kpi_report(sessions, calendar: BusinessCalendar, queues: set[str] | None = None) -> dict:
    async with sessions() as session:
        facts = [kpis.Fact(f.channel, f.decision, f.reason)
                 for f in (await session.execute(select(MessageFact))).scalars()]
        query = select(RoutedItem)
        if queues is not None:
            query = query.where(RoutedItem.queue.in_(sorted(queues)))
        rows = list((await session.execute(query)).scalars())
        conversations = {r.conversation_key for r in rows}
        sentiments = [(c.first_sentiment, c.last_sentiment)
                      for c in (await session.execute(select(Conversation))).scalars()
                      if queues is None or c.conversation_key in conversations]
    items = [_times(r) for r in rows]
    tag_only = [r.handling_s for r in rows if r.work_state == RESOLVED and not r.responses]
    report = kpis.compute(facts, items, sentiments, tag_only, calendar)
    kpis.export(report)
    return report


def _times(r: RoutedItem) -> kpis.ItemTimes:
    received = aware(r.received_at) or aware(r.routed_at)
    return kpis.ItemTimes(received_at=min(received, aware(r.routed_at)), routed_at=aware(r.routed_at),
                          sla_deadline=aware(r.sla_deadline), sla_business_s=r.sla_business_s or 0,
                          first_response_at=aware(r.first_response_at), resolved_at=aware(r.resolved_at),
                          responses=r.responses or 0, response_s_total=r.response_s_total or 0.0,
                          handling_s=r.handling_s or 0.0, reason=r.reason)

