"""Choosing an agent for an item. Pure: no I/O.

An agent is *eligible* when online and meeting the item's needs — language, channel, the
skill at the rule's minimum proficiency, and the queue's team — minus whatever the relaxation
ladder has dropped so far. Among eligible agents with free capacity the least loaded wins
(by share of capacity used, then absolute load, then higher proficiency, then id, so the
choice is deterministic) — except that when the customer's locale is known (``de-AT``), agents
listing that locale come first (culture: Austrian customers to Austrian agents), and any
agent of the language (``de``, ``de-DE``) is the fall-back. Agents' ``languages`` may be plain
languages or locales. A conversation's follow-ups go to its agent while that agent is
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
    locale: str | None = (
        None  # ll-RR: agents listing it are preferred (culture), the language suffices
    )


def locale_match(agent: AgentView, need: Need) -> bool:
    """The agent lists the customer's exact locale (de-AT for de-AT), not just the language."""
    return need.locale is not None and need.locale.lower() in {
        x.replace("_", "-").lower() for x in agent.languages
    }


def primary(tag: str) -> str:
    """The language of a language tag: ``de`` for ``de``, ``de-AT``, ``de_CH``."""
    return tag.replace("_", "-").split("-")[0].lower()


def normal_locale(tag: str | None) -> str | None:
    """``ll-RR`` for a tag with a region (``de_at`` -> ``de-AT``), else ``None``."""
    if not tag:
        return None
    parts = tag.replace("_", "-").split("-")
    if len(parts) < 2 or not parts[0].isalpha() or not 2 <= len(parts[1]) <= 3:
        return None
    return f"{parts[0].lower()}-{parts[1].upper()}"


def locale_of(language: str, hint: str | None = None, tags: Iterable[str] = ()) -> str | None:
    """The customer's locale (language and region) when something tells it: a ``locale:<ll-RR>``
    tag, a language (or platform hint) with a region. Only a locale of the item's language
    counts (a German message from an ``en-GB`` account is matched on German alone)."""
    candidates = [t.split(":", 1)[1] for t in tags if t.startswith("locale:")] + [
        language,
        hint or "",
    ]
    for tag in candidates:
        loc = normal_locale(tag)
        if loc is not None and primary(loc) == primary(language):
            return loc
    return None


@dataclass(frozen=True)
class Choice:
    agent_id: str
    cause: str  # routed, sticky, relaxed


def relaxed_steps(steps: Sequence[str], level: int) -> frozenset[str]:
    """The requirements dropped at relaxation ``level`` (0 = none)."""
    return frozenset(steps[: max(level, 0)])


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
        "language": primary(need.language) in {primary(x) for x in agent.languages},
        "channel": need.channel in agent.channels,
        "skill": need.skill is None or proficiency >= 1,
        "proficiency": need.skill is None or proficiency >= need.min_proficiency,
        "team": agent.team == need.team,
    }
    if "skill" in relaxed:
        relaxed = relaxed | {"proficiency"}
    return all(ok for name, ok in checks.items() if name not in relaxed)


def choose(
    agents: Iterable[AgentView],
    need: Need,
    relaxed: frozenset[str] = frozenset(),
    sticky: str | None = None,
    sticky_open: bool = False,
) -> Choice | None:
    """The agent for an item needing ``need``, or ``None`` when nobody can take it now."""
    pool = list(agents)
    by_id = {a.id: a for a in pool}
    mate = by_id.get(sticky) if sticky else None
    if mate is not None and mate.status == ONLINE and (sticky_open or mate.free > 0):
        return Choice(mate.id, "sticky")
    candidates = [a for a in pool if a.free > 0 and eligible(a, need, relaxed)]
    if not candidates:
        return None
    # culture first (an agent of the customer's locale), then least loaded, proficiency, id
    best = min(
        candidates,
        key=lambda a: (
            not locale_match(a, need),
            a.load / a.capacity,
            a.load,
            -a.skills.get(need.skill or "", 0),
            a.id,
        ),
    )
    return Choice(best.id, "relaxed" if relaxed and not eligible(best, need) else "routed")
