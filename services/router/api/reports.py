"""What a lead reads: the teams and their queues, and the KPIs."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter

from services.router.api.deps import ApiDep, Lead, TeamQueues, check_window
from services.router.reports import kpi_report

router = APIRouter()


@router.get("/teams", tags=["teams"], summary="Teams and their queues (a lead sees their own)")
async def teams(p: Lead, api: ApiDep) -> dict[str, list[str]]:
    all_teams = await api.directory.teams()
    return all_teams if p.team is None else {p.team: all_teams.get(p.team, [])}


@router.get("/kpis", tags=["kpis"], summary="KPIs in calendar and business time")
async def kpis(
    p: Lead,
    api: ApiDep,
    visible: TeamQueues,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict:
    """Optionally over messages received in [since, until) (RFC 3339 with an offset)."""
    check_window(since, until)
    calendar = api.runtime.dispatcher.state.calendar
    return await kpi_report(api.sessions, calendar, visible, since, until)
