"""Who is on call: people, delivery targets, per-team rotations (layers, daily or weekly
hand-off, overrides) and escalation policies, loaded from ``config/oncall.yaml``.

Pure values: ``on_call(rotation, at)`` and ``shifts(rotation, start, end)`` take the time as an
argument. A rotation's layers are listed lowest first; a higher layer that has someone at a
moment wins (a weekend layer over the weekday one), and an override wins over every layer.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import yaml
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HANDOFF = {"daily": timedelta(days=1), "weekly": timedelta(weeks=1)}


class OncallError(ValueError):
    """An unusable on-call configuration; the message names the bad part."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Target(_Model):
    """Where a page can go. ``url`` empty for ``webhook`` means ``NOTIFIER_PAGE_URL``; secrets
    (PagerDuty routing keys, apprise URLs with tokens) come from ``NOTIFIER_TARGET_SECRETS``."""

    kind: Literal["webhook", "pagerduty", "apprise"]
    url: str | None = None


class Person(_Model):
    name: str | None = None
    contacts: tuple[str, ...] = Field(min_length=1, description="Target names, all notified")
    max_pages_per_hour: int = Field(20, ge=1)


class Layer(_Model):
    people: tuple[str, ...] = Field(min_length=1)
    handoff: Literal["daily", "weekly"] = "weekly"
    start: AwareDatetime = Field(
        description="A hand-off moment; the first person's turn starts here"
    )
    days: tuple[str, ...] = Field(WEEKDAYS, description="Weekdays (local) this layer covers")


class Override(_Model):
    person: str
    start: AwareDatetime
    end: AwareDatetime


class Rotation(_Model):
    layers: tuple[Layer, ...] = Field(min_length=1)
    overrides: tuple[Override, ...] = ()


class Step(_Model):
    notify: tuple[str, ...] = Field(
        min_length=1, description="'rotation:<name>' or 'person:<name>'"
    )
    wait_minutes: float = Field(15, gt=0)


class Policy(_Model):
    steps: tuple[Step, ...] = Field(min_length=1)
    repeat: int = Field(1, ge=0, description="Times the whole chain repeats after the first pass")
    ack_timeout_minutes: float = Field(60, gt=0, description="An ack older than this re-triggers")


class Team(_Model):
    timezone: str = "Europe/Berlin"
    rotations: dict[str, Rotation]
    escalation: Policy
    digest_contacts: tuple[str, ...] = ()


class ConnectorPaging(_Model):
    """Who is paged when an ingestion source goes silent (``switchboard.connectors.status.v1``)."""

    team: str | None = Field(
        None, description="Team paged for a silent connector; unset = default_team"
    )
    sources: dict[str, str] = Field({}, description="Per-source team, overriding ``team``")


class Oncall(_Model):
    default_team: str
    queues: dict[str, str] = {}
    connectors: ConnectorPaging = ConnectorPaging()
    people: dict[str, Person]
    targets: dict[str, Target]
    teams: dict[str, Team]

    @model_validator(mode="after")
    def _references(self) -> "Oncall":
        for name, person in self.people.items():
            _known(person.contacts, self.targets, f"people.{name}.contacts")
        for team_name, team in self.teams.items():
            ZoneInfo(team.timezone)
            _known(team.digest_contacts, self.targets, f"teams.{team_name}.digest_contacts")
            for rot_name, rot in team.rotations.items():
                for layer in rot.layers:
                    _known(layer.people, self.people, f"teams.{team_name}.rotations.{rot_name}")
                _known(
                    [o.person for o in rot.overrides],
                    self.people,
                    f"teams.{team_name}.rotations.{rot_name}",
                )
            for step in team.escalation.steps:
                for ref in step.notify:
                    kind, _, name = ref.partition(":")
                    table = {"rotation": team.rotations, "person": self.people}.get(kind)
                    _known([name], table or {}, f"teams.{team_name}.escalation ({ref})")
        _known([self.default_team, *self.queues.values()], self.teams, "default_team/queues")
        _known(
            [t for t in (self.connectors.team, *self.connectors.sources.values()) if t],
            self.teams,
            "connectors",
        )
        return self

    def team_for_connector(self, source: str) -> str:
        """The team paged when ``source`` goes silent: per source, else ``connectors.team``, else default."""
        return self.connectors.sources.get(source) or self.connectors.team or self.default_team

    def team_for(self, queue: str | None, label: str | None = None) -> str:
        """The team owning ``queue`` (or named by an alert's ``team`` label), else the default."""
        if label in self.teams:
            return label
        return self.queues.get(queue or "", self.default_team)


def _known(names, table, where: str) -> None:
    missing = [n for n in names if n not in table]
    if missing:
        raise ValueError(f"{where}: unknown {', '.join(missing)}")


def load(path: Path) -> Oncall:
    """Parse the on-call file. Raises ``OncallError`` naming the bad field."""
    try:
        return Oncall.model_validate(yaml.safe_load(Path(path).read_text()))
    except FileNotFoundError as exc:
        raise OncallError(f"on-call file {path} not found") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        raise OncallError(f"{path}: {'.'.join(map(str, first['loc']))}: {first['msg']}") from exc


def layer_person(layer: Layer, at: datetime, timezone: str) -> str | None:
    """Who ``layer`` has at ``at`` (``None`` on days it does not cover)."""
    tz = ZoneInfo(timezone)
    local = at.astimezone(tz)
    if WEEKDAYS[local.weekday()] not in layer.days:
        return None
    # wall-clock arithmetic: a 09:00 hand-off stays at 09:00 local across daylight-saving changes
    turns = (
        local.replace(tzinfo=None) - layer.start.astimezone(tz).replace(tzinfo=None)
    ) // HANDOFF[layer.handoff]
    return layer.people[turns % len(layer.people)]


def on_call(rotation: Rotation, at: datetime, timezone: str) -> str | None:
    """The person on call in ``rotation`` at ``at``: an override, else the highest layer with someone."""
    for override in rotation.overrides:
        if override.start <= at < override.end:
            return override.person
    for layer in reversed(rotation.layers):
        if (person := layer_person(layer, at, timezone)) is not None:
            return person
    return None


def shifts(
    rotation: Rotation,
    start: datetime,
    end: datetime,
    timezone: str,
    grain: timedelta = timedelta(hours=1),
) -> list[tuple[str, datetime, datetime]]:
    """Consecutive (person, from, to) shifts between ``start`` and ``end``, sampled every ``grain``
    (hand-offs and overrides on the hour are exact; that is what rotas use)."""
    out: list[tuple[str, datetime, datetime]] = []
    at = start
    while at < end:
        person, nxt = on_call(rotation, at, timezone), min(at + grain, end)
        if person and out and out[-1][0] == person and out[-1][2] == at:
            out[-1] = (person, out[-1][1], nxt)
        elif person:
            out.append((person, at, nxt))
        at = nxt
    return out
