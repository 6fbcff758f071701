"""Assignment with persistence: place a new item, re-offer waiting items when capacity frees,
relax skills step by step for items that waited too long, assign by hand, and tell the notifier
about queues nobody can serve.

The dispatcher orchestrates: the pure rules choose (``assign``: eligibility and choice;
``policy``: what an item needs and its priority) and the ``store.Repository`` reads and writes
(capacity is counted in open *conversations* per agent and taken with one conditional UPDATE, so
two router replicas can never overfill an agent). Every decision writes an audit row in the same
transaction. Returns ``Assignment`` values; the caller publishes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker

from services.router.assign import (
    AgentView,
    Choice,
    Need,
    choose,
    eligible,
    relax_level,
    relaxed_steps,
)
from services.router.outbox import SOURCE, assigned_event
from services.router.policy import need, priority_at
from services.router.rules import RoutingConfig
from services.router.store import ASSIGNED, WAITING, Repository, aware, transaction, utc
from services.router.tables import Conversation, RoutedItem
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
    """What an agent must offer to take ``row`` under ``config`` (``policy.need``)."""
    return need(
        config,
        rule_id=row.rule,
        queue_id=row.queue,
        language=row.language,
        channel=row.channel,
        locale=row.locale,
    )


def can_take_any(agents: list[AgentView]) -> bool:
    return any(a.status == "online" and a.free > 0 for a in agents)


class AssignError(ValueError):
    """A manual assignment that cannot be done; ``status`` is the HTTP status that fits."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


class Dispatcher:
    def __init__(self, sessions: async_sessionmaker, state: RoutingState) -> None:
        self._sessions = sessions
        self.state = state

    async def place(self, repo: Repository, row: RoutedItem, now: datetime) -> Assignment | None:
        """Try to assign a waiting item now (sticky first) within ``repo``'s transaction (the
        caller commits). ``None``: it keeps waiting."""
        if row.work_state != WAITING:
            return None
        return await self._assign(repo, row, await repo.agents(), utc(now), "routed")

    async def offer_waiting(
        self, now: datetime, limit: int = 500, correlation_id: str | None = None
    ) -> list[Assignment]:
        """Offer waiting items, most urgent (recomputed priority) and then oldest first, to
        agents with free capacity; relaxes skills by how long each item has waited (business
        time). Each assignment's event goes into the outbox in the same transaction (correlated
        with ``correlation_id``, else the item's id); the caller wakes the relay."""
        now = utc(now)
        made: list[Assignment] = []
        async with transaction(self._sessions) as repo:
            if not can_take_any(await repo.agents()):
                return made  # nobody can take anything: skip ranking the waiting items
            rows = await repo.waiting(limit)
            for row in sorted(rows, key=lambda r: (-self.priority(r, now), aware(r.routed_at))):
                agents = await repo.agents()
                if not can_take_any(agents):
                    break
                self._relax(repo, row, now)
                if (done := await self._assign(repo, row, agents, now, "reoffered")) is not None:
                    made.append(done)
                    event = assigned_event(done, correlation_id or done.item_id)
                    await repo.add_to_outbox(topics.ASSIGNED, event, now)
            await repo.commit()
        return made

    async def assign_to(
        self, item_id: str, agent_id: str, now: datetime, actor: str, team: str | None = None
    ) -> Assignment:
        """Assign an open item to ``agent_id`` by hand (a lead): the agent must be online (and in
        ``team`` when given) with free capacity, unless the conversation is already open with
        them; the conversation moves with its open items. The assignment event joins the
        outbox in the same transaction. Raises ``AssignError``."""
        now = utc(now)
        async with transaction(self._sessions) as repo:
            row = await repo.item(item_id)
            if row is None:
                raise AssignError(f"no routed item {item_id}", 404)
            if row.work_state not in (WAITING, ASSIGNED):
                raise AssignError(f"item {item_id} is {row.work_state}")
            agent = await repo.agent(agent_id)
            if agent is None:
                raise AssignError(f"no agent {agent_id}", 404)
            if team is not None and agent.team_id != team:
                raise AssignError(f"agent {agent_id} is not in your team", 403)
            if row.agent_id == agent_id and row.work_state == ASSIGNED:
                raise AssignError(f"item {item_id} is already assigned to {agent_id}")
            if agent.status != "online":
                raise AssignError(f"agent {agent_id} is {agent.status}")
            conv = await repo.conversation(row.conversation_key)
            if (
                row.work_state == ASSIGNED
                and conv is not None
                and conv.agent_id == row.agent_id
                and conv.open_items > 0
            ):
                await repo.release(row)  # the item leaves its agent's open work first
            sticky_open = bool(conv and conv.agent_id == agent_id and conv.open_items > 0)
            choice = Choice(agent_id, "sticky" if sticky_open else "manual")
            if not await _take(repo, choice, conv, sticky_open):
                raise AssignError(f"agent {agent_id} has no free capacity")
            made = repo.record_assignment(row, conv, choice, now=now, cause="manual")
            repo.audit(now, row.message_key, "manual_assignment", {"agent": agent_id}, actor)
            await repo.add_to_outbox(topics.ASSIGNED, assigned_event(made, row.event_id), now)
            await repo.commit()
        return made

    async def remind_unstaffed(self, now: datetime) -> int:
        """After a sweep, for each queue where items still wait (nobody could take them): tell
        the notifier again when the queue's last notice is ``UNSTAFFED_REPEAT`` old, about its
        oldest waiting item — so a queue nobody serves keeps being reported while nothing new
        arrives. Through the outbox; audited. Returns how many notices."""
        now = utc(now)
        told = 0
        async with transaction(self._sessions) as repo:
            for queue, oldest_at in await repo.waiting_queues():
                if now - oldest_at < UNSTAFFED_REPEAT:
                    continue  # its items were reported when they were routed
                last = await repo.last_unstaffed_notice(queue)
                if last is not None and now - last < UNSTAFFED_REPEAT:
                    continue
                row = await repo.oldest_waiting(queue)
                event = await self.unstaffed(
                    repo, row, correlation_id=row.event_id, reminder_at=now
                )
                await repo.add_to_outbox(topics.UNSTAFFED, event, now)
                repo.audit(
                    now,
                    row.message_key,
                    "unstaffed_reminder",
                    {
                        "queue": queue,
                        "waiting": event.data.waiting,
                        "online_agents": event.data.online_agents,
                    },
                )
                told += 1
            await repo.commit()
        return told

    def priority(self, row: RoutedItem, now: datetime) -> int:
        """The item's priority at ``now`` (it grows as business time runs out)."""
        total = timedelta(seconds=row.sla_business_s)
        return priority_at(
            self.state.calendar,
            now,
            aware(row.sla_deadline),
            total,
            row.urgency,
            row.sentiment,
            row.vip,
        )

    async def staffing(self, repo: Repository, row: RoutedItem) -> tuple[int, int]:
        """(items waiting in the row's queue, online agents able to serve it ignoring capacity)."""
        waiting = await repo.waiting_count(row.queue)
        needs = need_for(row, self.state.config)
        return waiting, sum(1 for a in await repo.agents() if eligible(a, needs))

    async def should_tell_unstaffed(self, repo: Repository, row: RoutedItem) -> bool:
        """Whether ``row`` (waiting, unassigned) should raise an unstaffed-queue notice: once per
        queue per ``UNSTAFFED_REPEAT`` while items keep waiting, not once per item (a flood of
        notices would bury the notifier). Marks the row; a redelivery answers the same."""
        if row.unstaffed_notified:
            return True
        last = await repo.last_notified_waiting(row.queue)
        if last is not None and aware(row.routed_at) - last < UNSTAFFED_REPEAT:
            return False
        row.unstaffed_notified = True
        return True

    async def unstaffed(
        self,
        repo: Repository,
        row: RoutedItem,
        *,
        correlation_id: str,
        reminder_at: datetime | None = None,
    ) -> QueueUnstaffed:
        """The notice that nobody can take ``row`` in its queue now: when it was routed, or again
        at ``reminder_at`` (the sweeper), with the queue's waiting items and able agents."""
        waiting, online = await self.staffing(repo, row)
        data = Unstaffed(
            queue=row.queue,
            item_id=row.event_id,
            message_key=row.message_key,
            urgency=Urgency(row.urgency),
            sla_deadline=aware(row.sla_deadline),
            waiting=waiting,
            online_agents=online,
            since=aware(row.routed_at),
        )
        if reminder_at is None:
            event_id, time = derived_id(row.event_id, "router:unstaffed"), data.since
        else:
            reminder = f"router:unstaffed-reminder:{reminder_at.isoformat()}"
            event_id = derived_id(row.event_id, reminder)
            time = reminder_at
        return QueueUnstaffed(
            id=event_id,
            source=SOURCE,
            time=time,
            correlation_id=correlation_id,
            subject=row.queue,
            data=data,
        )

    def _relax(self, repo: Repository, row: RoutedItem, now: datetime) -> None:
        relax = self.state.config.relax
        # business time, like the SLA
        waited = self.state.calendar.between(aware(row.routed_at), now)
        level = relax_level(waited, timedelta(minutes=relax.after_minutes), relax.steps)
        if level > row.relax_level:
            repo.audit(
                now,
                row.message_key,
                "relaxed",
                {"level": level, "dropped": list(relax.steps[:level])},
            )
            row.relax_level = level

    async def _assign(
        self,
        repo: Repository,
        row: RoutedItem,
        agents: list[AgentView],
        now: datetime,
        plain_cause: str,
    ) -> Assignment | None:
        conv = await repo.conversation(row.conversation_key)
        sticky = conv.agent_id if conv else None
        sticky_open = bool(conv and conv.open_items > 0)
        relaxed = relaxed_steps(self.state.config.relax.steps, row.relax_level)
        choice = choose(agents, need_for(row, self.state.config), relaxed, sticky, sticky_open)
        if choice is None or not await _take(repo, choice, conv, sticky_open):
            return None
        cause = plain_cause if choice.cause == "routed" else choice.cause
        return repo.record_assignment(row, conv, choice, now=now, cause=cause)


async def _take(
    repo: Repository, choice: Choice, conv: Conversation | None, sticky_open: bool
) -> bool:
    """Reserve capacity for ``choice``: free for an open conversation of the same agent."""
    if choice.cause == "sticky" and sticky_open:
        return True
    if not await repo.reserve(choice.agent_id):
        return False  # another replica got there first
    moved = conv is not None and conv.agent_id and conv.agent_id != choice.agent_id
    if moved and conv.open_items > 0:
        await repo.move_conversation(conv, choice.agent_id)  # its open items go with it
    return True
