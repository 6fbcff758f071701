"""A team's rota as an iCalendar feed (one VEVENT per shift, per rotation), for people's calendars."""

from __future__ import annotations

from datetime import datetime, timedelta

import icalendar

from services.notifier.oncall import Oncall, shifts


def rota_ics(config: Oncall, team_name: str, start: datetime, days: int = 28) -> bytes:
    """Shifts of every rotation of ``team_name`` from ``start`` for ``days``. Raises ``KeyError``."""
    team = config.teams[team_name]
    cal = icalendar.Calendar()
    cal.add("prodid", "-//Switchboard//notifier rota//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"On call: {team_name}")
    for rotation_name, rotation in team.rotations.items():
        for person, begin, end in shifts(
            rotation, start, start + timedelta(days=days), team.timezone
        ):
            event = icalendar.Event()
            event.add(
                "uid", f"{team_name}-{rotation_name}-{person}-{int(begin.timestamp())}@switchboard"
            )
            event.add(
                "summary",
                f"{config.people[person].name or person} on call ({team_name} {rotation_name})",
            )
            event.add("dtstart", begin)
            event.add("dtend", end)
            event.add("dtstamp", start)
            cal.add_component(event)
    return cal.to_ical()
