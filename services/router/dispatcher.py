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
from services.router import outbox
from services.router.directory import view
from services.router.outbox import assigned_event
from services.router.policy import priority_at
from services.router.rules import RoutingConfig
from services.router.store import ASSIGNED, WAITING, audit, aware, utc
from services.router.tables import Agent, AssignmentRow, Conversation, OutboxRow, RoutedItem
from shared import topics
from shared.calendar import BusinessCalendar
from shared.events import Assignment, QueueUnstaffed, Unstaffed, Urgency, derived_id


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
                min_proficiency=rule.min_proficiency if rule else 1, team=queue.team if queue else "",
                locale=row.locale)


class AssignError(ValueError):
    """A manual assignment that cannot be done; ``status`` is the HTTP status that fits."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


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

    async def offer_waiting(self, now: datetime, limit: int = 500, correlation_id: str | None = None) -> list[Assignment]:
        """Offer waiting items, most urgent (recomputed priority) and then oldest first, to
        agents with free capacity; relaxes skills by how long each item has waited (business
        time). Each assignment's event goes into the outbox in the same transaction (correlated
        with ``correlation_id``, else the item's id); the caller wakes the relay."""
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
                    await outbox.add(session, topics.ASSIGNED, assigned_event(done, correlation_id or done.item_id), now)
            await session.commit()
        return made

    async def assign_to(self, item_id: str, agent_id: str, now: datetime, actor: str,
                        team: str | None = None) -> Assignment:
        """Assign an open item to ``agent_id`` by hand (a lead): the agent must be online (and in
        ``team`` when given) with free capacity, unless the conversation is already open with
        them; the conversation moves with its open items. The assignment event joins the
        outbox in the same transaction. Raises ``AssignError``."""
        now = utc(now)
        async with self._sessions() as session:
            row = (await session.execute(select(RoutedItem).where(RoutedItem.event_id == item_id))).scalar_one_or_none()
            if row is None:
                raise AssignError(f"no routed item {item_id}", 404)
            if row.work_state not in (WAITING, ASSIGNED):
                raise AssignError(f"item {item_id} is {row.work_state}")
            agent = await session.get(Agent, agent_id)
            if agent is None:
                raise AssignError(f"no agent {agent_id}", 404)
            if team is not None and agent.team_id != team:
                raise AssignError(f"agent {agent_id} is not in your team", 403)
            if row.agent_id == agent_id and row.work_state == ASSIGNED:
                raise AssignError(f"item {item_id} is already assigned to {agent_id}")
            if agent.status != "online":
                raise AssignError(f"agent {agent_id} is {agent.status}")
            conv = await session.get(Conversation, row.conversation_key)
            if row.work_state == ASSIGNED and conv is not None and conv.agent_id == row.agent_id and conv.open_items > 0:
                await self.release(session, row)  # the item leaves its agent's open work first
            sticky_open = bool(conv and conv.agent_id == agent_id and conv.open_items > 0)
            choice = Choice(agent_id, "sticky" if sticky_open else "manual")
            if not await _take(session, choice, conv, sticky_open):
                raise AssignError(f"agent {agent_id} has no free capacity")
            made = _record(session, row, conv, choice, now, "manual")
            audit(session, now, row.message_key, "manual_assignment", {"agent": agent_id}, actor)
            await outbox.add(session, topics.ASSIGNED, assigned_event(made, row.event_id), now)
            await session.commit()
        return made

    async def remind_unstaffed(self, now: datetime) -> int:
        """After a sweep, for each queue where items still wait (nobody could take them): tell
        the notifier again when the queue's last notice is ``UNSTAFFED_REPEAT`` old, about its
        oldest waiting item — so a queue nobody serves keeps being reported while nothing new
        arrives. Through the outbox; audited. Returns how many notices."""
        now = utc(now)
        told = 0
        async with self._sessions() as session:
            queues = (await session.execute(select(RoutedItem.queue, func.min(RoutedItem.routed_at)).where(
                RoutedItem.work_state == WAITING).group_by(RoutedItem.queue))).all()
            for queue, oldest_at in queues:
                if now - aware(oldest_at) < UNSTAFFED_REPEAT:
                    continue  # its items were reported when they were routed
                stamps = [await session.scalar(select(func.max(RoutedItem.routed_at)).where(
                              RoutedItem.queue == queue, RoutedItem.unstaffed_notified.is_(True))),
                          await session.scalar(select(func.max(OutboxRow.created_at)).where(
                              OutboxRow.event_type == QueueUnstaffed.TYPE, OutboxRow.key == queue))]
                last = max((aware(t) for t in stamps if t is not None), default=None)
                if last is not None and now - last < UNSTAFFED_REPEAT:
                    continue
                row = (await session.execute(select(RoutedItem).where(
                    RoutedItem.queue == queue, RoutedItem.work_state == WAITING,
                ).order_by(RoutedItem.routed_at, RoutedItem.message_key).limit(1))).scalar_one()
                waiting, online = await self.staffing(session, row)
                data = Unstaffed(queue=queue, item_id=row.event_id, message_key=row.message_key,
                                 urgency=Urgency(row.urgency), sla_deadline=aware(row.sla_deadline), waiting=waiting,
                                 online_agents=online, since=aware(row.routed_at))
                event = QueueUnstaffed(id=derived_id(row.event_id, f"router:unstaffed-reminder:{now.isoformat()}"),
                                       source=outbox.SOURCE, time=now, correlation_id=row.event_id, subject=queue,
                                       data=data)
                await outbox.add(session, topics.UNSTAFFED, event, now)
                audit(session, now, row.message_key, "unstaffed_reminder",
                      {"queue": queue, "waiting": waiting, "online_agents": online})
                told += 1
            await session.commit()
        return told

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
        waited = self.state.calendar.between(aware(row.routed_at), now)  # business time, like the SLA
        level = relax_level(waited, timedelta(minutes=relax.after_minutes), relax.steps)
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
    """The agents as ``session`` sees them. Loaded once per session (a consumer batch, a sweep):
    a repeated SELECT would hand back the same identity-mapped objects anyway, which the
    session's own capacity UPDATEs keep current (ORM ``synchronize_session``); other replicas'
    changes are enforced by the conditional UPDATE in ``_take``, and a failed one reloads them."""
    cached = session.info.get("router_agents")
    if cached is None:
        cached = list((await session.execute(select(Agent).execution_options(populate_existing=True))).scalars())
        session.info["router_agents"] = cached
    return [view(a) for a in cached]


async def _take(session: AsyncSession, choice: Choice, conv: Conversation | None, sticky_open: bool) -> bool:
    """Reserve capacity for ``choice``: free for an open conversation of the same agent."""
    if choice.cause == "sticky" and sticky_open:
        return True
    taken = await session.execute(update(Agent).where(
        Agent.id == choice.agent_id, Agent.status == "online", Agent.load < Agent.capacity,
    ).values(load=Agent.load + 1))
    if taken.rowcount != 1:
        session.info.pop("router_agents", None)  # another replica got there first: reload the agents
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
        session.info.setdefault("router_keep", []).append(conv)  # later items of the batch find it without a query
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
