"""Agents: set an agent online, away or offline (going online re-offers waiting items)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel

from services.router.api.deps import AgentCaller, ApiDep
from services.router.store import UnknownAgent

router = APIRouter()


class StatusChange(BaseModel):
    status: Literal["online", "away", "offline"]


@router.put(
    "/agents/{agent_id}/status", tags=["agents"], summary="Set an agent online, away or offline"
)
async def set_status(agent_id: str, change: StatusChange, p: AgentCaller, api: ApiDep) -> dict:
    if p.role == "agent" and p.subject != agent_id:
        raise HTTPException(403, "agents may only change their own status")
    try:
        agent = await api.directory.agent(agent_id)
        if p.role == "lead" and agent.team_id != p.team:
            raise HTTPException(403, f"agent {agent_id} is not in your team")
        previous = await api.directory.set_status(
            agent_id, change.status, api.runtime.clock(), p.subject
        )
    except UnknownAgent as exc:
        raise HTTPException(404, f"no agent {agent_id}") from exc
    offered = await api.runtime.sweep() if change.status == "online" else 0
    return {"agent": agent_id, "status": change.status, "previous": previous, "offered": offered}
