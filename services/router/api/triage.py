"""Triage review: what the classifier dropped (spam) or tagged (noise), and corrections."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.router import triage
from services.router.api.deps import AgentCaller, ApiDep, TeamQueues, check_window
from shared.events import ChannelKind, Platform

router = APIRouter()

Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=256)]


class CorrectionIn(BaseModel):
    """A person's verdict on a dropped or tagged message."""

    model_config = ConfigDict(extra="forbid")
    decision: Literal["reply", "tag", "drop"] = Field(
        description="The right decision: reply (needed a reply), tag (noise, not spam), drop (spam)"
    )
    tags: list[Tag] | None = Field(
        default=None,
        max_length=50,
        description="The right tags (e.g. reason:refund); omitted: unchanged",
    )
    note: str | None = Field(default=None, max_length=1024, description="Why, for the audit trail")


@router.get(
    "/triage", tags=["triage"], summary="Dropped (spam) and tagged (noise) messages, newest first"
)
async def triage_list(
    p: AgentCaller,
    api: ApiDep,
    visible: TeamQueues,
    decision: Literal["drop", "tag"] | None = None,
    platform: Platform | None = None,
    channel: ChannelKind | None = None,
    language: Annotated[str | None, Query(min_length=2, max_length=16)] = None,
    tag: Annotated[str | None, Query(min_length=1, max_length=256)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    corrected: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=triage.MAX_LIMIT)] = 100,
    cursor: Annotated[str | None, Query(max_length=4096)] = None,
) -> dict:
    """Each row with its decision, the classifier's reason and explanation (rule ids, model,
    score, threshold, evidence), tags and correction. Filters: received in [since, until)
    (RFC 3339 with an offset), corrected or not. ``next``: the cursor of the next page."""
    check_window(since, until)
    filters = triage.Filters(
        decision=decision,
        platform=platform.value if platform else None,
        channel=channel.value if channel else None,
        language=language,
        tag=tag,
        since=since,
        until=until,
        corrected=corrected,
        queues=visible,
    )
    try:
        async with api.sessions() as session:
            rows, following = await triage.page(session, filters, limit, cursor)
    except triage.BadCursor as exc:
        raise HTTPException(422, str(exc)) from exc
    return {"items": [triage.as_json(r) for r in rows], "next": following}


@router.post(
    "/triage/{message_key:path}/correction",
    tags=["triage"],
    summary="Correct a dropped or tagged message (the classifier learns from it)",
)
async def triage_correct(
    p: AgentCaller,
    api: ApiDep,
    visible: TeamQueues,
    body: CorrectionIn,
    message_key: Annotated[str, Path(min_length=1, max_length=1024)],
) -> dict:
    """Stores the correction and sends a ``ClassificationCorrected`` to the classifier through the
    outbox. The same correction posted again answers with the same event (nothing new is sent)."""
    try:
        done = await triage.correct(
            api.sessions,
            message_key,
            body.decision,
            body.tags,
            body.note,
            p.subject,
            api.runtime.clock(),
            visible,
        )
    except triage.CorrectionError as exc:
        raise HTTPException(exc.status, str(exc)) from exc
    if not done.repeated:
        await api.runtime.publish_outbox()
    return {
        "message_key": message_key,
        "event_id": done.event.id,
        "repeated": done.repeated,
        "triage": triage.as_json(done.row),
    }
