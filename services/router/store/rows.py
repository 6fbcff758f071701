"""How the router's rows are written and read back: the item states, UTC datetimes, audit rows,
and the mappings between events and rows (a routed item, its published routing, an agent's
view for the pure assignment rules)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.router.assign import AgentView, locale_of
from services.router.context import customer_key
from services.router.policy import Placement
from services.router.tables import Agent, AuditEntry, RoutedItem
from shared.events import Author, Decision, Routed, Routing

PENDING, QUEUED = "pending", "queued"  # publication of a routed item
WAITING, ASSIGNED, RESOLVED = "waiting", "assigned", "resolved"  # its work state
TRIAGED = (Decision.DROP.value, Decision.TAG.value)  # decisions kept for triage review
MAX_TAG = 256  # longer triage tags are kept on the row but not indexed for the tag filter


def utc(value: datetime) -> datetime:
    """Stored datetimes are UTC: SQLite keeps the wall time and drops the offset."""
    return value.astimezone(UTC)


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every stored one is UTC."""
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


def audit(
    session: AsyncSession,
    at: datetime,
    message_key: str | None,
    action: str,
    detail: dict,
    actor: str = "router",
) -> None:
    """Add one audit-trail row to ``session`` (committed with the change it explains)."""
    session.add(
        AuditEntry(at=utc(at), message_key=message_key, action=action, actor=actor, detail=detail)
    )


def view(agent: Agent) -> AgentView:
    """An agent row as the pure assignment rules see it."""
    return AgentView(
        id=agent.id,
        team=agent.team_id,
        languages=frozenset(agent.languages),
        skills=dict(agent.skills),
        channels=frozenset(agent.channels),
        capacity=agent.capacity,
        load=agent.load,
        status=agent.status,
    )


def item_row(event_id: str, item: Routed, placement: Placement) -> RoutedItem:
    """A new ledger row (``pending``, waiting) for a routed item."""
    r, c, m = item.routing, item.classification, item.message
    return RoutedItem(
        message_key=m.message_key,
        event_id=event_id,
        conversation_key=m.conversation_key,
        queue=r.queue,
        priority=r.priority,
        sla_deadline=utc(r.sla_deadline),
        routed_at=utc(r.routed_at),
        state=PENDING,
        language=c.language,
        channel=m.channel_kind.value,
        reason=placement.signals.reason,
        tags=list(c.tags),
        urgency=c.urgency.value,
        sentiment=placement.signals.sentiment,
        vip=placement.signals.vip,
        four_eyes=r.four_eyes,
        rule=placement.rule,
        sla_business_s=int(placement.sla_business.total_seconds()),
        received_at=utc(m.created_at),
        work_state=WAITING,
        relax_level=0,
        responses=0,
        response_s_total=0.0,
        handling_s=0.0,
        unstaffed_notified=False,
        text=m.text,
        locale=locale_of(c.language, m.language_hint, c.tags),
        customer_key=customer_key(m.platform.value, m.author.id),
        ingestion_delay_s=r.ingestion_delay_seconds,
        author=author_label(m.author)[:512] or None,
        explanation=c.reason[:512] or None,
    )


def author_label(author: Author) -> str:
    """``Display Name (@handle)``, whichever parts the platform gave, else the author id."""
    name = (author.display_name or "").strip()
    handle = (author.handle or "").strip().lstrip("@")
    if name and handle and handle != name:
        return f"{name} (@{handle})"
    return name or (f"@{handle}" if handle else author.id)


def routing_of(row: RoutedItem, policy: str) -> Routing:
    """The routing as published, rebuilt from the stored row (for re-publishing a pending item)."""
    return Routing(
        queue=row.queue,
        priority=row.priority,
        sla_deadline=aware(row.sla_deadline),
        routed_at=aware(row.routed_at),
        policy=policy,
        rule=row.rule,
        assigned_agent=row.agent_id,
        four_eyes=row.four_eyes,
        sla_started_at=min(aware(row.received_at) or aware(row.routed_at), aware(row.routed_at)),
        ingestion_delay_seconds=row.ingestion_delay_s,
    )
