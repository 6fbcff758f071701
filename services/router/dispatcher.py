"""Assignment with persistence: place a new item, re-offer waiting items when capacity frees,
relax skills step by step for items that waited too long, release capacity on resolution.

Capacity is counted in open *conversations* per agent and taken with one conditional UPDATE
(``load < capacity AND status = 'online'``), so two router replicas can never overfill an
agent. Every decision writes an audit row in the same transaction. Returns ``Assignment``
values; the caller publishes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.router.assign import (
    AgentView,
    Choice,
    Need,
    choose,
    eligible,
    relax_level,
    relaxed_steps,
)
from services.router.directory import view
from services.router.policy import priority_at
from services.router.rules import RoutingConfig
from services.router.store import ASSIGNED, WAITING, audit, aware, utc
from services.router.tables import Agent, AssignmentRow, Conversation, RoutedItem
from shared.calendar import BusinessCalendar
from shared.events import Assignment


UNSTAFFED_REPEAT = timedelta(minutes=15)


@dataclass
class RoutingState:
    """The live configuration; admins may swap either part at run time."""

    config: RoutingConfig
    calendar: BusinessCalendar


def need_for(row: RoutedItem, config: RoutingConfig) -> Need:
    rule = next((r for r in config.rules if r.id == row.rule), None)
    queue = next((q for q in config.queues if q.id == row.queue), None)
    skill = (rule.skill if rule else None) or (queue.skill if queue else None)
    return Need(language=row.language or "", channel=row.channel or "", skill=skill,
                min_proficiency=rule.min_proficiency if rule else 1, team=queue.team if queue else "")


class Dispatcher:
    def __init__(self, sessions: async_sessionmaker, state: RoutingState) -> None:
        self._sessions = sessions
        self.state = state

    async def place(self, session: AsyncSession, row: RoutedItem, now: datetime) -> Assignment | None:
        """Try to assign a waiting item now (sticky first) within ``session`` (the caller
        commits). ``None``: it keeps waiting."""
        if row.work_state != WAITING:
            return None
        return await self._assign(session, row, await _agents(session), utc(now), "routed")

    async def offer_waiting(self, now: datetime, limit: int = 500) -> list[Assignment]:
        """Offer waiting items, most urgent (recomputed priority) and then oldest first, to
        agents with free capacity; relaxes skills by how long each item has waited."""
        now = utc(now)
        made: list[Assignment] = []
        async with self._sessions() as session:
            if not any(a.status == "online" and a.free > 0 for a in await _agents(session)):
                return made  # nobody can take anything: skip ranking the waiting items
            rows = (await session.execute(select(RoutedItem).where(RoutedItem.work_state == WAITING)
                                          .order_by(RoutedItem.routed_at).limit(limit))).scalars().all()
            for row in sorted(rows, key=lambda r: (-self.priority(r, now), aware(r.routed_at))):
                agents = await _agents(session)
                if not any(a.status == "online" and a.free > 0 for a in agents):
                    break
                self._relax(session, row, now)
                if (done := await self._assign(session, row, agents, now, "reoffered")) is not None:
                    made.append(done)
            await session.commit()
        return made

    def priority(self, row: RoutedItem, now: datetime) -> int:
        """The item's priority at ``now`` (it grows as business time runs out)."""
        return priority_at(self.state.calendar, now, aware(row.sla_deadline), timedelta(seconds=row.sla_business_s),
                           row.urgency, row.sentiment, row.vip)

    async def staffing(self, session: AsyncSession, row: RoutedItem) -> tuple[int, int]:
        """(items waiting in the row's queue, online agents able to serve it ignoring capacity)."""
        waiting = await session.scalar(select(func.count()).select_from(RoutedItem).where(
            RoutedItem.queue == row.queue, RoutedItem.work_state == WAITING))
        agents = await _agents(session)
        need = need_for(row, self.state.config)
        return int(waiting or 0), sum(1 for a in agents if eligible(a, need))

    async def should_tell_unstaffed(self, session: AsyncSession, row: RoutedItem) -> bool:
        """Whether ``row`` (waiting, unassigned) should raise an unstaffed-queue notice: once per
        queue per ``UNSTAFFED_REPEAT`` while items keep waiting, not once per item (a flood of
        notices would bury the notifier). Marks the row; a redelivery answers the same."""
        if row.unstaffed_notified:
            return True
        last = await session.scalar(select(func.max(RoutedItem.routed_at)).where(
            RoutedItem.queue == row.queue, RoutedItem.unstaffed_notified.is_(True),
            RoutedItem.work_state == WAITING))
        if last is not None and aware(row.routed_at) - aware(last) < UNSTAFFED_REPEAT:
            return False
        row.unstaffed_notified = True
        return True

    async def release(self, session: AsyncSession, row: RoutedItem) -> bool:
        """Close ``row`` in its conversation; True when that freed a unit of its agent's capacity."""
        conv = await session.get(Conversation, row.conversation_key)
        if conv is None or conv.agent_id != row.agent_id or conv.open_items <= 0:
            return False
        conv.open_items -= 1
        if conv.open_items > 0:
            return False
        await session.execute(update(Agent).where(Agent.id == row.agent_id, Agent.load > 0)
                              .values(load=Agent.load - 1))
        return True

    def _relax(self, session: AsyncSession, row: RoutedItem, now: datetime) -> None:
        relax = self.state.config.relax
        level = relax_level(now - aware(row.routed_at), timedelta(minutes=relax.after_minutes), relax.steps)
        if level > row.relax_level:
            audit(session, now, row.message_key, "relaxed",
                  {"level": level, "dropped": list(relax.steps[:level])})
            row.relax_level = level

    async def _assign(self, session: AsyncSession, row: RoutedItem, agents: list[AgentView],
                      now: datetime, plain_cause: str) -> Assignment | None:
        conv = await session.get(Conversation, row.conversation_key)
        sticky = conv.agent_id if conv else None
        sticky_open = bool(conv and conv.open_items > 0)
        relaxed = relaxed_steps(self.state.config.relax.steps, row.relax_level)
        choice = choose(agents, need_for(row, self.state.config), relaxed, sticky, sticky_open)
        if choice is None or not await _take(session, choice, conv, sticky_open):
            return None
        return _record(session, row, conv, choice, now, plain_cause if choice.cause == "routed" else choice.cause)


async def _agents(session: AsyncSession) -> list[AgentView]:
    return [view(a) for a in (await session.execute(select(Agent))).scalars()]


async def _take(session: AsyncSession, choice: Choice, conv: Conversation | None, sticky_open: bool) -> bool:
    """Reserve capacity for ``choice``: free for an open conversation of the same agent."""
    if choice.cause == "sticky" and sticky_open:
        return True
    taken = await session.execute(update(Agent).where(
        Agent.id == choice.agent_id, Agent.status == "online", Agent.load < Agent.capacity,
    ).values(load=Agent.load + 1))
    if taken.rowcount != 1:
        return False
    if conv is not None and conv.agent_id and conv.agent_id != choice.agent_id and conv.open_items > 0:
        # the conversation moves to the new agent with its open items; the old one is freed
        await session.execute(update(Agent).where(Agent.id == conv.agent_id, Agent.load > 0)
                              .values(load=Agent.load - 1))
        await session.execute(update(RoutedItem).where(
            RoutedItem.conversation_key == conv.conversation_key, RoutedItem.work_state == ASSIGNED,
        ).values(agent_id=choice.agent_id))
    return True


def _record(session: AsyncSession, row: RoutedItem, conv: Conversation | None, choice: Choice,
            now: datetime, cause: str) -> Assignment:
    if conv is None:
        conv = Conversation(conversation_key=row.conversation_key, open_items=0)
        session.add(conv)
    # open items of a moved conversation moved with it (see _take), so the count carries on
    conv.agent_id, conv.open_items = choice.agent_id, (conv.open_items or 0) + 1
    row.work_state, row.agent_id, row.assigned_at = ASSIGNED, choice.agent_id, now
    session.add(AssignmentRow(message_key=row.message_key, agent_id=choice.agent_id, cause=cause,
                              relax_level=row.relax_level, assigned_at=now))
    audit(session, now, row.message_key, "assigned",
          {"agent": choice.agent_id, "cause": cause, "relax_level": row.relax_level, "queue": row.queue})
    return Assignment(item_id=row.event_id, message_key=row.message_key, conversation_key=row.conversation_key,
                      queue=row.queue, agent_id=choice.agent_id, cause=cause, relax_level=row.relax_level,
                      assigned_at=now)
