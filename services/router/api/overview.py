"""Read-only views for dashboards (the console): who the caller is, message totals by decision
and channel, the agents with their status and load, and how much of triage was corrected per
day. Each needs a bearer token; team-scoped callers see their team."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import func, select

from services.router.api.deps import AgentCaller, ApiDep, TeamQueues
from services.router.store import aware, utc
from services.router.tables import MessageFact, TriageMessage

router = APIRouter()


@router.get("/me", tags=["overview"], summary="The caller of this token: subject, role, team")
async def me(p: AgentCaller) -> dict:
    return {"subject": p.subject, "role": p.role, "team": p.team}


@router.get(
    "/flow",
    tags=["overview"],
    summary="Classified messages so far by decision and channel (counts only, every team)",
)
async def flow(p: AgentCaller, api: ApiDep) -> dict:
    """Running totals; a dashboard samples them to draw messages per minute."""
    query = select(MessageFact.decision, MessageFact.channel, func.count()).group_by(
        MessageFact.decision, MessageFact.channel
    )
    async with api.sessions() as session:
        rows = (await session.execute(query)).all()
    totals: dict[str, dict[str, int]] = {}
    for decision, channel, n in rows:
        totals.setdefault(decision, {})[channel] = n
    return {"at": api.runtime.clock().isoformat(), "totals": totals}


@router.get("/agents", tags=["agents"], summary="Agents with status, load and capacity (your team)")
async def agents(p: AgentCaller, api: ApiDep) -> list[dict]:
    return [
        {
            "id": a.id,
            "team": a.team,
            "status": a.status,
            "load": a.load,
            "capacity": a.capacity,
            "languages": sorted(a.languages),
            "channels": sorted(a.channels),
        }
        for a in await api.directory.agents()
        if p.team is None or a.team == p.team
    ]


@router.get(
    "/triage/stats",
    tags=["triage"],
    summary="Dropped and tagged messages per day of receipt, and how many were corrected",
)
async def triage_stats(
    p: AgentCaller,
    api: ApiDep,
    visible: TeamQueues,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
) -> dict:
    """Counted in UTC days over the last ``days`` days (the share corrected over time)."""
    since = api.runtime.clock() - timedelta(days=days)
    query = select(TriageMessage.received_at, TriageMessage.corrected_at).where(
        TriageMessage.received_at >= utc(since)
    )
    if visible is not None:
        query = query.where(TriageMessage.queue.in_(sorted(visible)))
    per_day: dict[str, list[int]] = {}
    async with api.sessions() as session:
        for received, corrected in await session.execute(query):
            counts = per_day.setdefault(aware(received).date().isoformat(), [0, 0])
            counts[0] += 1
            counts[1] += corrected is not None
    return {
        "days": [{"day": d, "triaged": n, "corrected": c} for d, (n, c) in sorted(per_day.items())]
    }
