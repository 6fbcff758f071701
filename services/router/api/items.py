"""Work on an item: reply drafts under four-eyes review (submit, approve, reject) and manual
assignment by a lead. What these commit to the outbox is published at once when it can be."""

from __future__ import annotations

from fastapi import APIRouter, Body, HTTPException
from pydantic import BaseModel, Field

from services.router.api.deps import (
    AgentCaller,
    Api,
    ApiDep,
    Lead,
    TeamQueues,
    visible_item,
)
from services.router.auth import Principal
from services.router.dispatcher import AssignError
from services.router.reviews import ReviewError

router = APIRouter()


class DraftIn(BaseModel):
    text: str = Field(min_length=1, max_length=100_000)


class Decision(BaseModel):
    reason: str | None = Field(default=None, max_length=1024)


class AssignIn(BaseModel):
    agent: str = Field(min_length=1, max_length=128)


@router.post(
    "/items/{item_id}/drafts", tags=["four-eyes"], status_code=201, summary="Submit a reply draft"
)
async def submit(
    item_id: str, body: DraftIn, p: AgentCaller, api: ApiDep, visible: TeamQueues
) -> dict:
    await visible_item(api, visible, item_id)
    now = api.runtime.clock()
    draft, released = await _review(api.reviews.submit(item_id, p.subject, body.text, now))
    if released is not None:  # committed to the outbox with the draft; publish now if we can
        await api.runtime.publish_outbox()
    return {"draft": draft.id, "state": draft.state}


@router.post(
    "/drafts/{draft_id}/approve", tags=["four-eyes"], summary="Approve and release (not the author)"
)
async def approve(
    draft_id: str, p: AgentCaller, api: ApiDep, body: Decision = Body(default=Decision())
) -> dict:
    return await _decide(api, draft_id, p, approve=True, reason=body.reason)


@router.post(
    "/drafts/{draft_id}/reject", tags=["four-eyes"], summary="Reject with a reason (not the author)"
)
async def reject(draft_id: str, body: Decision, p: AgentCaller, api: ApiDep) -> dict:
    return await _decide(api, draft_id, p, approve=False, reason=body.reason)


@router.post(
    "/items/{item_id}/assign", tags=["queues"], summary="Assign an item to an agent by hand"
)
async def assign(item_id: str, body: AssignIn, p: Lead, api: ApiDep, visible: TeamQueues) -> dict:
    await visible_item(api, visible, item_id)
    try:
        made = await api.runtime.dispatcher.assign_to(
            item_id, body.agent, api.runtime.clock(), p.subject, team=p.team
        )
    except AssignError as exc:
        raise HTTPException(exc.status, str(exc)) from exc
    await api.runtime.publish_outbox()  # the assignment event is committed to the outbox
    return {"item": item_id, "agent": made.agent_id, "cause": made.cause}


async def _decide(
    api: Api, draft_id: str, p: Principal, *, approve: bool, reason: str | None
) -> dict:
    now = api.runtime.clock()
    draft, released = await _review(api.reviews.decide(draft_id, p, approve, reason, now))
    if released is not None:
        await api.runtime.publish_outbox()
    return {"draft": draft.id, "state": draft.state, "reviewer": draft.reviewer}


async def _review(call):
    try:
        return await call
    except ReviewError as exc:
        raise HTTPException(exc.status, str(exc)) from exc
