"""The incident store: incidents with their escalation state (the durable timer ``next_at``),
the items grouped into them and the delivery ledger.

Idempotence lives in unique keys: an item (event id, alert fingerprint, SLA timer) attaches
once; one open incident per grouping key; one delivery per (incident, round, step, person,
target). Concurrent schedulers (several replicas) are kept apart by an optimistic ``version``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from services.notifier.escalation import RESOLVED, EscalationState
from services.notifier.tables import Delivery, Handled, Incident, IncidentItem, OutboxRow
from shared import outbox, topics
from shared.db import is_unique_violation
from shared.events import PageSent, derived_id

SENDING, SENT, FAILED, RATE_LIMITED = "sending", "sent", "failed", "rate_limited"
CLOSING_KINDS = ("replied", "resolved")  # lifecycle ledger kinds that close an item


@dataclass(frozen=True)
class Attach:
    """An item to group into the open incident of ``key`` (or a new one)."""

    source_id: str
    key: str
    team: str
    kind: str
    reason: str
    summary: str
    item_event_id: str | None = None
    queue: str | None = None
    message_key: str | None = None


def state_of(row: Incident) -> EscalationState:
    return EscalationState(row.status, row.step, row.round, row.passes_left, row.next_at)


class IncidentStore:
    def __init__(self, sessions: async_sessionmaker) -> None:
        self._sessions = sessions

    async def attach(
        self, item: Attach, now: datetime, opened: EscalationState
    ) -> tuple[str, bool] | None:
        """Group ``item``: ``(incident id, created)``, or ``None`` when it was attached before."""
        for _ in range(3):  # a concurrent writer may win the open key; look again
            try:
                return await self._attach_once(item, now, opened)
            except IntegrityError as exc:
                if not is_unique_violation(exc):
                    raise
        return None

    async def _attach_once(
        self, item: Attach, now: datetime, opened: EscalationState
    ) -> tuple[str, bool] | None:
        async with self._sessions() as session:
            if await session.get(IncidentItem, item.source_id) is not None:
                return None
            row = (
                await session.execute(select(Incident).where(Incident.open_key == item.key))
            ).scalar_one_or_none()
            created = row is None
            if row is None:
                row = Incident(
                    id=str(uuid.uuid4()),
                    key=item.key,
                    open_key=item.key,
                    team=item.team,
                    status=opened.status,
                    reason=item.reason[:256],
                    summary=item.summary[:1024],
                    item_count=0,
                    step=opened.step,
                    round=opened.round,
                    passes_left=opened.passes_left,
                    next_at=opened.next_at,
                    version=0,
                    opened_at=now,
                )
                session.add(row)
            row.item_count += 1
            session.add(
                IncidentItem(
                    source_id=item.source_id,
                    incident_id=row.id,
                    kind=item.kind,
                    item_event_id=item.item_event_id,
                    queue=item.queue,
                    message_key=item.message_key,
                    attached_at=now,
                )
            )
            await session.commit()
            return row.id, created

    async def get(self, incident_id: str) -> Incident | None:
        async with self._sessions() as session:
            return await session.get(Incident, incident_id)

    async def open_for(self, key: str) -> Incident | None:
        async with self._sessions() as session:
            return (
                await session.execute(select(Incident).where(Incident.open_key == key))
            ).scalar_one_or_none()

    async def open_for_item(self, item_event_id: str, kinds: tuple[str, ...]) -> list[Incident]:
        """Open incidents that ``item_event_id`` was attached to as one of ``kinds``."""
        query = (
            select(Incident)
            .join(IncidentItem, IncidentItem.incident_id == Incident.id)
            .where(
                IncidentItem.item_event_id == item_event_id,
                IncidentItem.kind.in_(kinds),
                Incident.status != RESOLVED,
            )
            .distinct()
        )
        async with self._sessions() as session:
            return list((await session.execute(query)).scalars())

    async def sent_targets(self, incident_id: str) -> list[str]:
        """Targets that accepted at least one page of the incident (for ack/resolve follow-ups)."""
        query = (
            select(Delivery.target)
            .where(Delivery.incident_id == incident_id, Delivery.status == SENT)
            .distinct()
            .order_by(Delivery.target)
        )
        async with self._sessions() as session:
            return list((await session.execute(query)).scalars())

    # -- the ledger of handled lifecycle / connector events ------------------------------
    async def was_handled(self, event_id: str) -> bool:
        async with self._sessions() as session:
            return await session.get(Handled, event_id) is not None

    async def subject_handled(self, subject: str) -> bool:
        """Whether a lifecycle event already closed the item ``subject`` (replied or resolved)."""
        async with self._sessions() as session:
            found = await session.scalar(
                select(Handled.event_id)
                .where(Handled.subject == subject, Handled.kind.in_(CLOSING_KINDS))
                .limit(1)
            )
            return found is not None

    async def mark_handled(self, event_id: str, kind: str, subject: str, now: datetime) -> bool:
        """Record ``event_id`` as handled; False when it already was (by this or another replica)."""
        async with self._sessions() as session:
            session.add(Handled(event_id=event_id, kind=kind, subject=subject[:256], at=now))
            try:
                await session.commit()
            except IntegrityError as exc:
                if not is_unique_violation(exc):
                    raise
                return False
        return True

    async def claim_follow_up(
        self, incident: Incident, target: str, action: str, now: datetime
    ) -> bool:
        """Whether this caller sends ``action`` for ``incident`` to ``target`` in the incident's
        current round: the first claim wins (the closing path and a trigger's catch-up can both
        try; an acknowledge after an ack timed out is a new round)."""
        key = derived_id(f"{incident.id}:{incident.round}:{target}:{action}", "pagerduty-follow-up")
        return await self.mark_handled(key, f"pagerduty-{action}", incident.id, now)

    async def listing(self, status: str | None = None, limit: int = 200) -> list[Incident]:
        query = select(Incident).order_by(Incident.opened_at.desc()).limit(limit)
        if status:
            query = query.where(Incident.status == status)
        async with self._sessions() as session:
            return list((await session.execute(query)).scalars())

    async def first_item(self, incident_id: str) -> IncidentItem | None:
        query = (
            select(IncidentItem)
            .where(IncidentItem.incident_id == incident_id)
            .order_by(IncidentItem.attached_at)
            .limit(1)
        )
        async with self._sessions() as session:
            return (await session.execute(query)).scalars().first()

    async def due(self, now: datetime, limit: int = 100) -> list[Incident]:
        """Open incidents whose timer has passed, oldest first."""
        query = (
            select(Incident)
            .where(
                Incident.next_at.is_not(None), Incident.next_at <= now, Incident.status != RESOLVED
            )
            .order_by(Incident.next_at)
            .limit(limit)
        )
        async with self._sessions() as session:
            return list((await session.execute(query)).scalars())

    async def save(self, row: Incident, state: EscalationState, **changes) -> bool:
        """Store ``state`` if nobody else changed the incident since ``row`` was read."""
        values = dict(
            status=state.status,
            step=state.step,
            round=state.round,
            passes_left=state.passes_left,
            next_at=state.next_at,
            version=row.version + 1,
            **changes,
        )
        if state.status == RESOLVED:
            values["open_key"] = None
        async with self._sessions() as session:
            result = await session.execute(
                update(Incident)
                .where(Incident.id == row.id, Incident.version == row.version)
                .values(**values)
            )
            await session.commit()
            return result.rowcount == 1

    # -- the delivery ledger -----------------------------------------------------------
    async def claim_delivery(
        self, row: Incident, person: str, target: str, now: datetime
    ) -> str | None:
        """``None`` when this (round, step, person, target) has to be delivered now, else the
        status it already has; a ``sending`` row left by a crash is delivered again, a finished
        one never."""
        async with self._sessions() as session:
            found = (
                await session.execute(
                    select(Delivery).where(
                        Delivery.incident_id == row.id,
                        Delivery.round == row.round,
                        Delivery.step == row.step,
                        Delivery.person == person,
                        Delivery.target == target,
                    )
                )
            ).scalar_one_or_none()
            if found is not None:
                return None if found.status == SENDING else found.status
            session.add(
                Delivery(
                    incident_id=row.id,
                    round=row.round,
                    step=row.step,
                    person=person,
                    target=target,
                    status=SENDING,
                    attempts=0,
                    created_at=now,
                )
            )
            try:
                await session.commit()
            except IntegrityError as exc:
                if not is_unique_violation(exc):
                    raise
                return SENDING  # another replica is delivering it right now
        return None

    async def finish_delivery(
        self,
        row: Incident,
        person: str,
        target: str,
        status: str,
        attempts: int,
        error: str | None,
        now: datetime,
        record: PageSent | None = None,
    ) -> None:
        """Store the delivery's outcome; ``record`` (the page record of a sent page) goes into
        the outbox in the same transaction, so it is published exactly when the delivery is
        recorded sent (raises what the database raised, with neither stored)."""
        async with self._sessions() as session:
            if record is not None:
                await outbox.add(session, OutboxRow, topics.PAGES, record, now)
            await session.execute(
                update(Delivery)
                .where(
                    Delivery.incident_id == row.id,
                    Delivery.round == row.round,
                    Delivery.step == row.step,
                    Delivery.person == person,
                    Delivery.target == target,
                )
                .values(
                    status=status,
                    attempts=attempts,
                    error=(error or "")[:1024] or None,
                    sent_at=now if status == SENT else None,
                )
            )
            await session.commit()

    async def pages_last_hour(self, person: str, now: datetime) -> int:
        """Incidents paged to ``person`` in the last hour (the per-person rate limit counts these)."""
        query = select(func.count(func.distinct(Delivery.incident_id))).where(
            Delivery.person == person,
            Delivery.status == SENT,
            Delivery.created_at > now - timedelta(hours=1),
        )
        async with self._sessions() as session:
            return await session.scalar(query) or 0

    async def deliveries(self, incident_id: str) -> list[Delivery]:
        query = select(Delivery).where(Delivery.incident_id == incident_id).order_by(Delivery.id)
        async with self._sessions() as session:
            return list((await session.execute(query)).scalars())

    async def count_sent(self) -> int:
        async with self._sessions() as session:
            return await session.scalar(select(func.count()).where(Delivery.status == SENT)) or 0

    async def item_total(self) -> int:
        async with self._sessions() as session:
            return await session.scalar(select(func.count()).select_from(IncidentItem)) or 0
