"""Routed items a whole poll at a time: the notifier's hot path in one transaction.

Item by item, a routed item cost four transactions (the closed-item check, its SLA timers, the
incident lookup and the item's attachment). Here one poll is three reads that prefetch what the
batch needs — items a helpdesk lifecycle event already closed, items already attached (a
redelivery) and the open incidents of the batch's conversations —, planning in memory
(``Paging.plan_routed``, in record order), one statement per table and one commit.

Planning in record order keeps the item-by-item behaviour: the first item of a conversation
opens its incident and the later ones of the same poll join it; an event seen before (stored, or
earlier in the poll) attaches once; SLA timers (unique per item and kind) and digest entries
(per item) are inserted or ignored. A unique conflict at write time — another replica or the
scheduler opened the same conversation's incident or attached the same item meanwhile — rolls
the poll back and plans it again from fresh reads. Any other failure leaves nothing written and
propagates: the runner retries the poll and commits no offset until it is stored.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifier.escalation import EscalationState
from services.notifier.store import CLOSING_KINDS, Attach
from services.notifier.tables import (
    DigestItem,
    Handled,
    Incident,
    IncidentItem,
    SlaTimer,
)
from shared.db import dialect_insert, is_unique_violation
from shared.events import ItemRouted

ATTEMPTS = (
    3  # plan again after a unique conflict at most this often, then fail the poll (transient)
)
_INCIDENTS, _ITEMS = Incident.__table__, IncidentItem.__table__
_JOIN = (
    update(_INCIDENTS)
    .where(_INCIDENTS.c.id == bindparam("b_id"))
    .values(item_count=_INCIDENTS.c.item_count + bindparam("b_added"))
)


@dataclass(frozen=True)
class Seen:
    """What the database already holds for one poll's items."""

    closed: frozenset[str]  # item ids a lifecycle event replied to or resolved
    attached: frozenset[str]  # source ids already attached to an incident
    open_incidents: dict[str, str]  # grouping key -> id of its open incident


@dataclass
class Writes:
    """The rows one poll adds, planned in memory from ``Seen`` (record order matters)."""

    attached: set[str]
    open_incidents: dict[str, str]
    timers: list[dict] = field(default_factory=list)
    digests: list[dict] = field(default_factory=list)
    incidents: dict[str, dict] = field(default_factory=dict)  # new incidents by id
    items: list[dict] = field(default_factory=list)
    joined: dict[str, int] = field(default_factory=dict)  # stored incident id -> items added

    @classmethod
    def after(cls, seen: Seen) -> Writes:
        return cls(set(seen.attached), dict(seen.open_incidents))

    def attach(self, item: Attach, now: datetime, opened: EscalationState) -> None:
        """Group ``item`` into the open incident of its key, opening one (due at once) if none;
        nothing when it was attached before."""
        if item.source_id in self.attached:
            return
        self.attached.add(item.source_id)
        incident = self.open_incidents.get(item.key)
        if incident is None:
            incident = self.open_incidents[item.key] = str(uuid.uuid4())
            self.incidents[incident] = dict(
                id=incident,
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
                acked_at=None,
                acked_by=None,
                resolved_at=None,
                resolved_by=None,
            )
        if incident in self.incidents:
            self.incidents[incident]["item_count"] += 1
        else:
            self.joined[incident] = self.joined.get(incident, 0) + 1
        self.items.append(
            dict(
                source_id=item.source_id,
                incident_id=incident,
                kind=item.kind,
                item_event_id=item.item_event_id,
                queue=item.queue,
                message_key=item.message_key,
                attached_at=now,
            )
        )


class RoutedStore:
    """Stores one poll of routed items in one transaction; see the module docstring."""

    def __init__(self, sessions: async_sessionmaker) -> None:
        self._sessions = sessions

    async def record(self, events: Sequence[ItemRouted], plan: Callable[[Seen], Writes]) -> Writes:
        """Prefetch, ``plan``, write, commit. Raises what the database raised (nothing written)."""
        for attempt in range(1, ATTEMPTS + 1):
            async with self._sessions() as session:
                writes = plan(await self._seen(session, events))
                try:
                    await self._write(session, writes)
                    await session.commit()
                    return writes
                except IntegrityError as exc:
                    if not is_unique_violation(exc) or attempt == ATTEMPTS:
                        raise
        raise AssertionError("unreachable")

    @staticmethod
    async def _seen(session: AsyncSession, events: Sequence[ItemRouted]) -> Seen:
        ids = sorted({e.id for e in events})
        keys = sorted({e.data.message.conversation_key for e in events})
        closed = await session.scalars(
            select(Handled.subject).where(Handled.subject.in_(ids), Handled.kind.in_(CLOSING_KINDS))
        )
        attached = await session.scalars(
            select(IncidentItem.source_id).where(IncidentItem.source_id.in_(ids))
        )
        opened = await session.execute(
            select(Incident.open_key, Incident.id).where(Incident.open_key.in_(keys))
        )
        return Seen(
            frozenset(closed), frozenset(attached), {key: incident for key, incident in opened}
        )

    @staticmethod
    async def _write(session: AsyncSession, writes: Writes) -> None:
        """One statement per table, rows as executemany parameters (Core: the ORM would inspect
        each row). Timers and digest entries ignore rows stored before; the rest must be new."""
        insert_ignoring = dialect_insert(session.bind.dialect.name)
        for table, rows in (
            (SlaTimer.__table__, writes.timers),
            (DigestItem.__table__, writes.digests),
        ):
            if rows:
                await session.execute(insert_ignoring(table).on_conflict_do_nothing(), rows)
        if writes.incidents:
            await session.execute(insert(_INCIDENTS), list(writes.incidents.values()))
        if writes.items:
            await session.execute(insert(_ITEMS), writes.items)
        if writes.joined:
            await session.execute(
                _JOIN, [{"b_id": k, "b_added": n} for k, n in sorted(writes.joined.items())]
            )
