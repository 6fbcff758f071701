"""Admin-editable configuration documents: the routing YAML (teams, queues, agents, SLA, rules)
and the business calendar YAML. The files under ``config/`` are the defaults; a document an
admin saved (validated first, versioned, audited) takes precedence from then on.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from services.router.dispatcher import RoutingState
from services.router.rules import RoutingConfig, RoutingConfigError, load_routing
from services.router.store import audit, utc
from services.router.tables import ConfigDocument
from shared.calendar import BusinessCalendar, CalendarError
from shared.calendar_config import calendar_from, read_spec

ROUTING, CALENDAR = "routing", "calendar"


def parse_calendar(text: str) -> BusinessCalendar:
    """A calendar from YAML text. Raises ``CalendarError`` naming the problem."""
    return calendar_from(read_spec(text))


def parse(name: str, text: str) -> RoutingConfig | BusinessCalendar:
    """Validate a document. Raises ``RoutingConfigError`` / ``CalendarError`` / ``KeyError``."""
    if name == ROUTING:
        return load_routing(text, "routing")
    if name == CALENDAR:
        return parse_calendar(text)
    raise KeyError(name)


def initial_state(routing_file: Path, calendar_file: Path) -> RoutingState:
    """The state from the files alone (used until the database copy is loaded)."""
    return RoutingState(
        config=load_routing(Path(routing_file).read_text(encoding="utf-8"), str(routing_file)),
        calendar=parse_calendar(Path(calendar_file).read_text(encoding="utf-8")),
    )


class ConfigStore:
    def __init__(self, sessions, files: dict[str, Path]) -> None:
        self._sessions, self._files = sessions, files

    async def text(self, name: str) -> tuple[str, int]:
        """The current document and its version (0 = the file default)."""
        async with self._sessions() as session:
            doc = await session.get(ConfigDocument, name)
        if doc is not None:
            return doc.body, doc.version
        return self._files[name].read_text(encoding="utf-8"), 0

    async def load_into(self, state: RoutingState) -> None:
        state.config = parse(ROUTING, (await self.text(ROUTING))[0])
        state.calendar = parse(CALENDAR, (await self.text(CALENDAR))[0])

    async def save(self, name: str, text: str, actor: str, now: datetime) -> int:
        """Validate and store a new version; returns it. Raises the parse errors above."""
        parse(name, text)
        now = utc(now)
        async with self._sessions() as session:
            doc = await session.get(ConfigDocument, name)
            version = (doc.version if doc else 0) + 1
            if doc is None:
                session.add(
                    ConfigDocument(
                        name=name, body=text, version=version, updated_by=actor, updated_at=now
                    )
                )
            else:
                doc.body, doc.version, doc.updated_by, doc.updated_at = text, version, actor, now
            audit(session, now, None, f"config_{name}", {"version": version}, actor)
            await session.commit()
        return version


__all__ = [
    "CALENDAR",
    "ROUTING",
    "CalendarError",
    "ConfigStore",
    "RoutingConfigError",
    "initial_state",
    "parse",
]
