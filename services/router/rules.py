"""The router's configuration (``config/routing.yaml``): teams, queues, agents, SLA policies,
routing rules, four-eyes triggers and the skill-relaxation ladder.

``load_routing(text)`` parses and validates it; every problem raises ``RoutingConfigError``
whose message names the rule (or section) and its line in the YAML, e.g.
``rule 'billing-de' (line 31): queue 'billing' is not a declared queue``. Pure: no I/O but the
optional file read in ``load_routing_file``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared import topics
from shared.events import ChannelKind, Urgency

RelaxStep = Literal["proficiency", "skill", "channel", "team", "language"]
Role = Literal["agent", "lead", "admin"]


class RoutingConfigError(ValueError):
    """The routing configuration is invalid; the message says where and why."""


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Match(_Spec):
    """All given conditions must hold; each list matches any of its values. Empty matches all."""

    language: tuple[str, ...] = ()
    channel: tuple[ChannelKind, ...] = ()
    reason: tuple[str, ...] = ()
    urgency: tuple[Urgency, ...] = ()
    tags_any: tuple[str, ...] = ()
    tags_all: tuple[str, ...] = ()


class Rule(_Spec):
    id: str = Field(min_length=1, max_length=128)
    match: Match = Match()
    queue: str
    skill: str | None = None
    min_proficiency: int = Field(1, ge=1, le=5)
    four_eyes: bool = False
    four_eyes_reviewer: Role | None = Field(
        None, description="The least role that may review this rule's drafts (four_eyes only)"
    )


class TeamSpec(_Spec):
    id: str = Field(min_length=1, max_length=128)
    name: str


class QueueSpec(_Spec):
    id: str = Field(min_length=1, max_length=128)
    team: str
    skill: str | None = None


class AgentSpec(_Spec):
    id: str = Field(min_length=1, max_length=128)
    name: str
    team: str
    languages: tuple[str, ...] = Field(min_length=1)
    skills: dict[str, int] = {}
    channels: tuple[ChannelKind, ...] = tuple(ChannelKind)
    capacity: int = Field(ge=1, le=100)
    trainee: bool = False


class SlaSpec(_Spec):
    policy: str = "business-v1"
    minutes: dict[ChannelKind, dict[Urgency, int]]


class FourEyesSpec(_Spec):
    tags_any: tuple[str, ...] = ("vip", "reason:legal", "reason:press")
    trainee_drafts: bool = True
    # who may be the second pair of eyes: at least this role (a rule's four_eyes_reviewer
    # overrides it for that rule's items), of the item's team, and never a trainee unless allowed
    reviewer_role: Role = "agent"
    trainees_review: bool = False


class RelaxSpec(_Spec):
    after_minutes: float = Field(10.0, gt=0)
    steps: tuple[RelaxStep, ...] = ("proficiency", "skill", "channel", "team", "language")


class RoutingConfig(_Spec):
    version: Literal[1] = 1
    teams: tuple[TeamSpec, ...]
    queues: tuple[QueueSpec, ...]
    agents: tuple[AgentSpec, ...] = ()
    sla: SlaSpec
    rules: tuple[Rule, ...]
    fallback_queue: str
    four_eyes: FourEyesSpec = FourEyesSpec()
    relax: RelaxSpec = RelaxSpec()

    def queue(self, queue_id: str) -> QueueSpec:
        return next(q for q in self.queues if q.id == queue_id)


def load_routing_file(path: Path) -> RoutingConfig:
    """Read and validate ``path``. Raises ``RoutingConfigError`` (also for a missing file)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise RoutingConfigError(f"routing file {path}: {exc.strerror}") from exc
    return load_routing(text, str(path))


def load_routing(text: str, origin: str = "routing.yaml") -> RoutingConfig:
    """Parse and validate routing YAML. Raises ``RoutingConfigError`` naming rule and line."""
    try:
        data, lines = yaml.safe_load(text), _item_lines(text)
    except yaml.YAMLError as exc:
        raise RoutingConfigError(f"{origin}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise RoutingConfigError(f"{origin}: expected a mapping at the top")
    try:
        config = RoutingConfig.model_validate(data)
    except ValidationError as exc:
        raise RoutingConfigError(_describe(exc.errors()[0], data, lines, origin)) from exc
    _check_references(config, lines, origin)
    return config


def _item_lines(text: str) -> dict[tuple[str, int], int]:
    """(section, index) -> 1-based line of each list item, for error messages."""
    root = yaml.compose(text)
    found: dict[tuple[str, int], int] = {}
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if isinstance(value, yaml.SequenceNode):
                for i, item in enumerate(value.value):
                    found[(key.value, i)] = item.start_mark.line + 1
    return found


def _where(section: str, index: int, data: dict, lines: dict) -> str:
    items = data.get(section) or []
    ident = (
        items[index].get("id") if index < len(items) and isinstance(items[index], dict) else None
    )
    kind = {"rules": "rule", "teams": "team", "queues": "queue", "agents": "agent"}.get(
        section, section
    )
    name = f"{kind} {ident!r}" if ident else f"{kind} #{index + 1}"
    line = lines.get((section, index))
    return f"{name} (line {line})" if line else name


def _describe(error: dict, data: dict, lines: dict, origin: str) -> str:
    loc = error["loc"]
    if len(loc) >= 2 and isinstance(loc[1], int):
        rest = ".".join(map(str, loc[2:])) or "entry"
        return f"{origin}: {_where(str(loc[0]), loc[1], data, lines)}: {rest}: {error['msg']}"
    return f"{origin}: {'.'.join(map(str, loc)) or 'document'}: {error['msg']}"


def _check_references(config: RoutingConfig, lines: dict, origin: str) -> None:
    data = config.model_dump()

    def fail(section: str, index: int, problem: str) -> None:
        raise RoutingConfigError(f"{origin}: {_where(section, index, data, lines)}: {problem}")

    for section in ("teams", "queues", "agents", "rules"):
        seen: set[str] = set()
        for i, entry in enumerate(getattr(config, section)):
            if entry.id in seen:
                fail(section, i, f"duplicate id {entry.id!r}")
            seen.add(entry.id)
    teams, queues = {t.id for t in config.teams}, {q.id for q in config.queues}
    for i, q in enumerate(config.queues):
        if q.team not in teams:
            fail("queues", i, f"team {q.team!r} is not a declared team")
        if not topics.QUEUE_SUFFIX.match(q.id):  # it names the queue's routed topic
            fail(
                "queues",
                i,
                f"id {q.id!r} cannot name its topic {topics.ROUTED}.<queue>: use lowercase "
                "letters, digits and '-' (at most 63, not 'dlq')",
            )
    for i, a in enumerate(config.agents):
        if a.team not in teams:
            fail("agents", i, f"team {a.team!r} is not a declared team")
        if any(not 1 <= p <= 5 for p in a.skills.values()):
            fail("agents", i, "skill proficiency must be 1..5")
    for i, r in enumerate(config.rules):
        if r.queue not in queues:
            fail("rules", i, f"queue {r.queue!r} is not a declared queue")
        if r.four_eyes_reviewer and not r.four_eyes:
            fail("rules", i, "four_eyes_reviewer needs four_eyes: true")
    if config.fallback_queue not in queues:
        raise RoutingConfigError(
            f"{origin}: fallback_queue {config.fallback_queue!r} is not a declared queue"
        )
    _check_sla(config, origin)


def _check_sla(config: RoutingConfig, origin: str) -> None:
    for channel in ChannelKind:
        for urgency in Urgency:
            minutes = config.sla.minutes.get(channel, {}).get(urgency)
            if minutes is None or minutes <= 0:
                raise RoutingConfigError(
                    f"{origin}: sla.minutes.{channel.value}.{urgency.value}: needs a positive number of minutes"
                )
