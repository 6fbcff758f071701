"""Choosing an agent for an item. Pure: no I/O.

An agent is *eligible* when online and meeting the item's needs — language, channel, the
skill at the rule's minimum proficiency, and the queue's team — minus whatever the relaxation
ladder has dropped so far. Among eligible agents with free capacity the least loaded wins
(by share of capacity used, then absolute load, then higher proficiency, then id, so the
choice is deterministic). A conversation's follow-ups go to its agent while that agent is
online: without counting capacity when the conversation is still open with them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

ONLINE = "online"


@dataclass(frozen=True)
class AgentView:
    id: str
    team: str
    languages: frozenset[str]
    skills: dict[str, int]
    channels: frozenset[str]
    capacity: int
    load: int
    status: str

    @property
    def free(self) -> int:
        return self.capacity - self.load


@dataclass(frozen=True)
class Need:
    language: str
    channel: str
    skill: str | None
    min_proficiency: int
    team: str


@dataclass(frozen=True)
class Choice:
    agent_id: str
    cause: str  # routed, sticky, relaxed


def relaxed_steps(steps: Sequence[str], level: int) -> frozenset[str]:
    """The requirements dropped at relaxation ``level`` (0 = none)."""
    return frozenset(steps[:max(level, 0)])


def relax_level(waited: timedelta, after: timedelta, steps: Sequence[str]) -> int:
    """One more step per full ``after`` waited, capped at the ladder's length."""
    if waited <= timedelta(0):
        return 0
    return min(len(steps), math.floor(waited / after))


def eligible(agent: AgentView, need: Need, relaxed: frozenset[str] = frozenset()) -> bool:
    if agent.status != ONLINE:
        return False
    proficiency = agent.skills.get(need.skill, 0) if need.skill else 5
    checks = {
        "language": need.language in agent.languages,
        "channel": need.channel in agent.channels,
        "skill": need.skill is None or proficiency >= 1,
        "proficiency": need.skill is None or proficiency >= need.min_proficiency,
        "team": agent.team == need.team,
    }
    if "skill" in relaxed:
        relaxed = relaxed | {"proficiency"}
    return all(ok for name, ok in checks.items() if name not in relaxed)


def choose(agents: Iterable[AgentView], need: Need, relaxed: frozenset[str] = frozenset(),
           sticky: str | None = None, sticky_open: bool = False) -> Choice | None:
    """The agent for an item needing ``need``, or ``None`` when nobody can take it now."""
    pool = list(agents)
    by_id = {a.id: a for a in pool}
    mate = by_id.get(sticky) if sticky else None
    if mate is not None and mate.status == ONLINE and (sticky_open or mate.free > 0):
        return Choice(mate.id, "sticky")
    candidates = [a for a in pool if a.free > 0 and eligible(a, need, relaxed)]
    if not candidates:
        return None
    best = min(candidates, key=lambda a: (a.load / a.capacity, a.load, -a.skills.get(need.skill or "", 0), a.id))
    return Choice(best.id, "relaxed" if relaxed and not eligible(best, need) else "routed")
