"""Routed items in the database: the router's idempotency ledger, plus the per-message facts
and conversation sentiment the KPIs need.

An item is stored ``pending`` before its event is published and marked ``queued`` once the
broker acknowledged it. A redelivered message whose item is still pending is published
again (same event id, so downstream consumers deduplicate); one already queued is skipped.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.router import triage
from services.router.assign import locale_of
from services.router.policy import Placement, Signals
from services.router.tables import AuditEntry, Conversation, MessageFact, RoutedItem
from shared.events import Classified, Routed, Routing, derived_id

PENDING, QUEUED = "pending", "queued"
WAITING, ASSIGNED, RESOLVED = "waiting", "assigned", "resolved"


def utc(value: datetime) -> datetime:
    """Stored datetimes are UTC: SQLite keeps the wall time and drops the offset."""
    return value.astimezone(UTC)


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every stored one is UTC."""
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


def audit(session: AsyncSession, at: datetime, message_key: str | None, action: str, detail: dict,
          actor: str = "router") -> None:
    """Add one audit-trail row to ``session`` (committed with the change it explains)."""
    session.add(AuditEntry(at=utc(at), message_key=message_key, action=action, actor=actor, detail=detail))


class RoutedItems:
    def __init__(self, sessions: async_sessionmaker) -> None:
        self._sessions = sessions

    async def claim(self, session: AsyncSession, event_id: str, item: Routed,
                    placement: Placement, known: dict[str, RoutedItem] | None = None) -> RoutedItem | None:
        """Add ``item`` as pending (with an audit row) to ``session`` and return it; for a known
        message return the stored row if it is still pending, or ``None`` if it was already
        published. The caller commits; a concurrent claim of the same message then fails with a
        unique violation (transient: the retry finds the stored row). ``known``: the batch's
        stored rows by message key, prefetched in one query (``prefetch``); updated here."""
        key = item.message.message_key
        existing = known.get(key) if known is not None else await session.get(RoutedItem, key)
        if existing is not None:
            return existing if existing.state == PENDING else None
        row = _row(event_id, item, placement)
        session.add(row)
        if known is not None:
            known[key] = row
        audit(session, item.routing.routed_at, item.message.message_key, "routed",
              {"queue": item.routing.queue, "rule": placement.rule, "sla_deadline": item.routing.sla_deadline.isoformat(),
               "policy": item.routing.policy, "four_eyes": item.routing.four_eyes})
        if known is None:
            await session.flush()
        return row

    async def prefetch(self, session: AsyncSession, message_keys: list[str],
                       conversation_keys: list[str] = ()) -> tuple[set[str], dict[str, RoutedItem]]:
        """For a batch: the message keys with a stored fact, and the stored items by key (two
        queries instead of two lookups per message); the batch's stored conversations are
        loaded into the session too (its later lookups by key need no query)."""
        if not message_keys:
            return set(), {}
        if conversation_keys:  # held by the session (its identity map only keeps weak references)
            session.info.setdefault("router_keep", []).extend((await session.execute(select(Conversation).where(
                Conversation.conversation_key.in_(sorted(set(conversation_keys)))))).scalars())
        facts = set((await session.execute(select(MessageFact.message_key).where(
            MessageFact.message_key.in_(message_keys)))).scalars())
        items = {r.message_key: r for r in (await session.execute(select(RoutedItem).where(
            RoutedItem.message_key.in_(message_keys)))).scalars()}
        return facts, items

    async def get(self, message_key: str) -> RoutedItem | None:
        async with self._sessions() as session:
            return await session.get(RoutedItem, message_key)

    async def mark_queued_many(self, message_keys: list[str]) -> None:
        """Mark a whole batch's items published, in one statement."""
        async with self._sessions() as session:
            await session.execute(
                update(RoutedItem).where(RoutedItem.message_key.in_(message_keys)).values(state=QUEUED)
            )
            await session.commit()

    async def count_by_queue(self, queues: set[str] | None = None) -> dict[str, int]:
        query = select(RoutedItem.queue, func.count()).group_by(RoutedItem.queue)
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        return {q: n for q, n in rows if queues is None or q in queues}

    async def record_fact(self, session: AsyncSession, item: Classified, known: set[str] | None = None,
                          event_id: str | None = None, classified_at: datetime | None = None,
                          queue: str | None = None) -> None:
        """Add every classified message once (any decision) and its conversation's first and
        last sentiment to ``session``; a redelivery changes nothing. The caller commits.
        ``known``: the batch's message keys that have a fact (``prefetch``); updated here.
        A dropped or tagged message is also kept for review (``triage.add``: the classified
        event's id and time, and the queue it would have gone to), in the same transaction."""
        signals = Signals.of(item.classification.tags)
        m = item.message
        if known is not None:
            if m.message_key in known:
                return
            known.add(m.message_key)
        elif await session.get(MessageFact, m.message_key) is not None:
            return
        session.add(MessageFact(message_key=m.message_key, channel=m.channel_kind.value,
                                decision=item.classification.decision.value, reason=signals.reason,
                                sentiment=signals.sentiment, received_at=utc(m.created_at)))
        triage.add(session, item, event_id or derived_id(m.message_key, "router:triage"), classified_at or m.created_at,
                   queue)
        if known is None:
            await session.flush()  # a later message of the same batch (one session) must see it
        if signals.sentiment and item.classification.decision.value != "drop":
            await _track_sentiment(session, m.conversation_key, signals.sentiment)


async def _track_sentiment(session: AsyncSession, conversation_key: str, sentiment: str) -> None:
    conv = await session.get(Conversation, conversation_key)
    if conv is None:
        session.add(Conversation(conversation_key=conversation_key, open_items=0,
                                 first_sentiment=sentiment, last_sentiment=sentiment))
        await session.flush()
    else:
        conv.first_sentiment = conv.first_sentiment or sentiment
        conv.last_sentiment = sentiment


def _row(event_id: str, item: Routed, placement: Placement) -> RoutedItem:
    r, c, m = item.routing, item.classification, item.message
    return RoutedItem(
        message_key=m.message_key, event_id=event_id, conversation_key=m.conversation_key, queue=r.queue,
        priority=r.priority, sla_deadline=utc(r.sla_deadline), routed_at=utc(r.routed_at), state=PENDING,
        language=c.language, channel=m.channel_kind.value, reason=placement.signals.reason, tags=list(c.tags),
        urgency=c.urgency.value, sentiment=placement.signals.sentiment, vip=placement.signals.vip,
        four_eyes=r.four_eyes, rule=placement.rule, sla_business_s=int(placement.sla_business.total_seconds()),
        received_at=utc(m.created_at), work_state=WAITING, relax_level=0, responses=0, response_s_total=0.0,
        handling_s=0.0, unstaffed_notified=False, text=m.text,
        locale=locale_of(c.language, m.language_hint, c.tags),
    )


def routing_of(row: RoutedItem, policy: str) -> Routing:
    """The routing as published, rebuilt from the stored row (for re-publishing a pending item)."""
    return Routing(queue=row.queue, priority=row.priority, sla_deadline=aware(row.sla_deadline),
                   routed_at=aware(row.routed_at), policy=policy,
                   rule=row.rule, assigned_agent=row.agent_id, four_eyes=row.four_eyes)
