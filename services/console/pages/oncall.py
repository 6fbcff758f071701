"""On-call: per team, who is on call now and next in each rotation, the next two weeks as a
calendar (with the team's iCal feed), and the incidents not yet resolved with their escalation
timeline (each page delivery: when, to whom, through what, with what result); acknowledge or
resolve from the page."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse

from services.console import present
from services.console.web import ConsoleDep, SignedIn, changed, render

router = APIRouter()
OPEN = ("triggered", "open", "acknowledged", "acked")
DETAILED = 10  # incidents whose timeline is fetched


@router.get("/oncall")
async def oncall_page(request: Request, session: SignedIn, console: ConsoleDep):
    token = session.token
    rota, incidents = await asyncio.gather(
        console.backends.get("notifier", "/v1/oncall", token, days=14),
        console.backends.get("notifier", "/v1/incidents", token),
    )
    active = [i for i in incidents if i["status"] != "resolved"]
    details = await asyncio.gather(
        *(
            console.backends.get("notifier", f"/v1/incidents/{i['id']}", token)
            for i in active[:DETAILED]
        )
    )
    base = (console.settings.notifier_public_url or console.settings.notifier_url).rstrip("/")
    return render(
        request,
        "oncall.html",
        teams={
            name: _calendar(team, console.clock()) | {"feed_url": base + team["feed"]}
            for name, team in rota["teams"].items()
        },
        active=list(details) + active[DETAILED:],
        recent=[i for i in incidents if i["status"] == "resolved"][:20],
    )


@router.post("/oncall/incidents/{incident_id}/{action}")
async def act(
    request: Request,
    incident_id: Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")],
    action: Literal["ack", "resolve"],
    session: SignedIn,
    console: ConsoleDep,
):
    await changed(request, session)
    await console.backends.call(
        "notifier", "POST", f"/v1/incidents/{incident_id}/{action}", session.token, json={}
    )
    done = "Acknowledged" if action == "ack" else "Resolved"
    return RedirectResponse(f"/oncall?{urlencode({'done': f'{done}: {incident_id}'})}", 303)


def _calendar(team: dict, now) -> dict:
    """Per rotation, the next 14 days as (day, [(person, from HH:MM, to HH:MM)])."""
    days = [(now + timedelta(days=i)).date() for i in range(14)]
    out = {}
    for name, rotation in team["rotations"].items():
        per_day: dict = {d: [] for d in days}
        for shift in rotation["shifts"]:
            start, end = present.parse(shift["from"]), present.parse(shift["to"])
            for d in days:
                if start and end and start.date() <= d <= end.date():
                    per_day[d].append(shift["person"])
        out[name] = {
            "now": rotation["now"],
            "next": rotation["next"],
            "days": [(d, sorted(set(p))) for d, p in per_day.items()],
        }
    return {"timezone": team["timezone"], "rotations": out}
