"""The router's HTTP API. Every route needs a bearer token with a role (agent, lead, admin);
only ``/healthz``, ``/readyz`` and ``/metrics`` are open. Agents see and act on their team's
queues, leads also see their team and its KPIs, admins change routing, SLA and calendars.
Errors are JSON ``{"detail": ...}`` with 401 (no/unknown token), 403 (role or team), 404,
409 (state conflict) and 422 (invalid input, naming the problem).
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, Header, HTTPException, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import select

from services.router.auth import Principal, Tokens, Unauthenticated
from services.router.configs import ConfigStore, parse
from services.router import queuetopics, triage
from services.router.directory import Directory, UnknownAgent
from services.router.dispatcher import AssignError
from services.router.reports import kpi_report
from services.router.reviews import ReviewError, Reviews
from services.router.rules import RoutingConfig, RoutingConfigError
from services.router.runtime import RouterRuntime
from services.router.outbox import assigned_event
from services.router.store import ASSIGNED, WAITING, aware
from services.router.tables import AuditEntry, RoutedItem
from services.router.webhooks import WebhookBridge, WebhookFilterError
from shared.broker import BrokerError
from shared.calendar import CalendarError
from shared.events import ChannelKind, Platform


@dataclass
class Api:
    tokens: Tokens
    directory: Directory
    reviews: Reviews
    configs: ConfigStore
    runtime: RouterRuntime
    sessions: object


class StatusChange(BaseModel):
    status: Literal["online", "away", "offline"]


class DraftIn(BaseModel):
    text: str = Field(min_length=1, max_length=100_000)


class Decision(BaseModel):
    reason: str | None = Field(default=None, max_length=1024)


class AssignIn(BaseModel):
    agent: str = Field(min_length=1, max_length=128)


Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=256)]


class CorrectionIn(BaseModel):
    """A person's verdict on a dropped or tagged message."""

    model_config = ConfigDict(extra="forbid")
    decision: Literal["reply", "tag", "drop"] = Field(
        description="The right decision: reply (needed a reply), tag (noise, not spam), drop (spam)")
    tags: list[Tag] | None = Field(default=None, max_length=50,
                                   description="The right tags (e.g. reason:refund); omitted: unchanged")
    note: str | None = Field(default=None, max_length=1024, description="Why, for the audit trail")


class TokenIn(BaseModel):
    subject: str = Field(min_length=1, max_length=128)
    role: Literal["agent", "lead", "admin"]
    team: str | None = None


async def caller(request: Request, authorization: Annotated[str | None, Header()] = None) -> Principal:
    """The authenticated caller (401 without a valid bearer token)."""
    try:
        return await request.app.state.tokens.principal(authorization)
    except Unauthenticated as exc:
        raise HTTPException(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from exc


def role(minimum: str):
    async def check(p: Annotated[Principal, Depends(caller)]) -> Principal:
        if not p.at_least(minimum):
            raise HTTPException(403, f"needs role {minimum} (you are {p.role})")
        return p
    return check


Agent_ = Annotated[Principal, Depends(role("agent"))]
Lead = Annotated[Principal, Depends(role("lead"))]
Admin = Annotated[Principal, Depends(role("admin"))]


def routes(api: Api) -> APIRouter:
    router = APIRouter(prefix="/v1")

    async def visible_queues(p: Principal) -> set[str] | None:
        return None if p.team is None else set((await api.directory.teams()).get(p.team, []))

    async def item_for(p: Principal, item_id: str) -> RoutedItem:
        async with api.sessions() as session:
            row = (await session.execute(select(RoutedItem).where(RoutedItem.event_id == item_id))).scalar_one_or_none()
        if row is None:
            raise HTTPException(404, f"no routed item {item_id}")
        queues = await visible_queues(p)
        if queues is not None and row.queue not in queues:
            raise HTTPException(403, f"item {item_id} is in queue {row.queue}, not one of your team's")
        return row

    @router.get("/queues", tags=["queues"], summary="Routed items per queue (your team's queues)")
    async def queues(p: Agent_) -> dict[str, int]:
        from services.router.store import RoutedItems
        return await RoutedItems(api.sessions).count_by_queue(await visible_queues(p))

    @router.get("/queues/{queue}/items", tags=["queues"], summary="Open items of a queue, most urgent first")
    async def queue_items(queue: str, p: Agent_) -> list[dict]:
        allowed = await visible_queues(p)
        if allowed is not None and queue not in allowed:
            raise HTTPException(403, f"queue {queue} is not one of your team's")
        async with api.sessions() as session:
            rows = (await session.execute(select(RoutedItem).where(
                RoutedItem.queue == queue, RoutedItem.work_state.in_([WAITING, ASSIGNED])))).scalars().all()
        now = api.runtime.clock()
        out = [_item_json(r, api.runtime.dispatcher.priority(r, now)) for r in rows]
        return sorted(out, key=lambda i: (-i["priority"], i["routed_at"]))

    @router.put("/agents/{agent_id}/status", tags=["agents"], summary="Set an agent online, away or offline")
    async def set_status(agent_id: str, change: StatusChange, p: Agent_) -> dict:
        if p.role == "agent" and p.subject != agent_id:
            raise HTTPException(403, "agents may only change their own status")
        try:
            agent = await api.directory.agent(agent_id)
            if p.role == "lead" and agent.team_id != p.team:
                raise HTTPException(403, f"agent {agent_id} is not in your team")
            previous = await api.directory.set_status(agent_id, change.status, api.runtime.clock(), p.subject)
        except UnknownAgent as exc:
            raise HTTPException(404, f"no agent {agent_id}") from exc
        offered = await api.runtime.sweep() if change.status == "online" else 0
        return {"agent": agent_id, "status": change.status, "previous": previous, "offered": offered}

    @router.post("/items/{item_id}/drafts", tags=["four-eyes"], status_code=201, summary="Submit a reply draft")
    async def submit(item_id: str, body: DraftIn, p: Agent_) -> dict:
        await item_for(p, item_id)
        draft, released = await _review(api.reviews.submit(item_id, p.subject, body.text, api.runtime.clock()))
        if released is not None:  # committed to the outbox with the draft; publish now if we can
            await api.runtime.publish_outbox()
        return {"draft": draft.id, "state": draft.state}

    async def decide(draft_id: str, p: Principal, approve: bool, reason: str | None) -> dict:
        draft, released = await _review(api.reviews.decide(draft_id, p.subject, approve, reason, api.runtime.clock()))
        if released is not None:
            await api.runtime.publish_outbox()
        return {"draft": draft.id, "state": draft.state, "reviewer": draft.reviewer}

    @router.post("/drafts/{draft_id}/approve", tags=["four-eyes"], summary="Approve and release (not the author)")
    async def approve(draft_id: str, p: Agent_, body: Decision = Body(default=Decision())) -> dict:
        return await decide(draft_id, p, True, body.reason)

    @router.post("/drafts/{draft_id}/reject", tags=["four-eyes"], summary="Reject with a reason (not the author)")
    async def reject(draft_id: str, body: Decision, p: Agent_) -> dict:
        return await decide(draft_id, p, False, body.reason)

    @router.post("/items/{item_id}/assign", tags=["queues"], summary="Assign an item to an agent by hand")
    async def assign(item_id: str, body: AssignIn, p: Lead) -> dict:
        await item_for(p, item_id)
        try:
            made = await api.runtime.dispatcher.assign_to(item_id, body.agent, api.runtime.clock(), p.subject,
                                                          team=p.team)
        except AssignError as exc:
            raise HTTPException(exc.status, str(exc)) from exc
        await api.runtime.publish_outbox()  # the assignment event is committed to the outbox
        return {"item": item_id, "agent": made.agent_id, "cause": made.cause}

    @router.get("/teams", tags=["teams"], summary="Teams and their queues (a lead sees their own)")
    async def teams(p: Lead) -> dict[str, list[str]]:
        all_teams = await api.directory.teams()
        return all_teams if p.team is None else {p.team: all_teams.get(p.team, [])}

    @router.get("/kpis", tags=["kpis"], summary="KPIs in calendar and business time")
    async def kpis(p: Lead, since: datetime | None = None, until: datetime | None = None) -> dict:
        """Optionally over messages received in [since, until) (RFC 3339 with an offset)."""
        _check_window(since, until)
        return await kpi_report(api.sessions, api.runtime.dispatcher.state.calendar, await visible_queues(p),
                                since, until)

    @router.get("/triage", tags=["triage"], summary="Dropped (spam) and tagged (noise) messages, newest first")
    async def triage_list(
            p: Agent_, decision: Literal["drop", "tag"] | None = None, platform: Platform | None = None,
            channel: ChannelKind | None = None,
            language: Annotated[str | None, Query(min_length=2, max_length=16)] = None,
            tag: Annotated[str | None, Query(min_length=1, max_length=256)] = None,
            since: datetime | None = None, until: datetime | None = None,
            corrected: bool | None = None, limit: Annotated[int, Query(ge=1, le=triage.MAX_LIMIT)] = 100,
            cursor: Annotated[str | None, Query(max_length=4096)] = None) -> dict:
        """Each row with its decision, the classifier's reason and explanation (rule ids, model,
        score, threshold, evidence), tags and correction. Filters: received in [since, until)
        (RFC 3339 with an offset), corrected or not. ``next``: the cursor of the next page."""
        _check_window(since, until)
        filters = triage.Filters(decision=decision, platform=platform.value if platform else None,
                                 channel=channel.value if channel else None, language=language, tag=tag,
                                 since=since, until=until, corrected=corrected, queues=await visible_queues(p))
        try:
            async with api.sessions() as session:
                rows, following = await triage.page(session, filters, limit, cursor)
        except triage.BadCursor as exc:
            raise HTTPException(422, str(exc)) from exc
        return {"items": [triage.as_json(r) for r in rows], "next": following}

    @router.post("/triage/{message_key:path}/correction", tags=["triage"],
                 summary="Correct a dropped or tagged message (the classifier learns from it)")
    async def triage_correct(p: Agent_, body: CorrectionIn,
                             message_key: Annotated[str, Path(min_length=1, max_length=1024)]) -> dict:
        """Stores the correction and sends a ``ClassificationCorrected`` to the classifier through the
        outbox. The same correction posted again answers with the same event (nothing new is sent)."""
        try:
            done = await triage.correct(api.sessions, message_key, body.decision, body.tags, body.note,
                                        p.subject, api.runtime.clock(), await visible_queues(p))
        except triage.CorrectionError as exc:
            raise HTTPException(exc.status, str(exc)) from exc
        if not done.repeated:
            await api.runtime.publish_outbox()
        return {"message_key": message_key, "event_id": done.event.id, "repeated": done.repeated,
                "triage": triage.as_json(done.row)}

    @router.get("/audit", tags=["audit"], summary="The audit trail of routing decisions")
    async def audit_trail(p: Lead, item_id: str | None = None, limit: int = 200) -> list[dict]:
        query = select(AuditEntry).order_by(AuditEntry.id).limit(min(max(limit, 1), 1000))
        if item_id is not None:
            query = query.where(AuditEntry.message_key == (await item_for(p, item_id)).message_key)
        async with api.sessions() as session:
            rows = (await session.execute(query)).scalars().all()
        return [{"at": aware(r.at).isoformat(), "action": r.action, "actor": r.actor, "item": r.message_key,
                 "detail": r.detail} for r in rows]

    @router.get("/admin/config/{name}", tags=["admin"], summary="Current routing or calendar YAML")
    async def get_config(name: Literal["routing", "calendar"], p: Admin) -> dict:
        text, version = await api.configs.text(name)
        return {"name": name, "version": version, "yaml": text}

    @router.put("/admin/config/{name}", tags=["admin"], summary="Replace routing (incl. SLA) or calendar YAML")
    async def put_config(name: Literal["routing", "calendar"], p: Admin,
                         body: Annotated[str, Body(media_type="application/yaml")]) -> dict:
        try:
            parsed = parse(name, body)
        except (RoutingConfigError, CalendarError) as exc:
            raise HTTPException(422, str(exc)) from exc
        if name == "routing":
            _keeps_filtered_queues(api.runtime.relay.bridge, parsed)
            try:  # new queues need their routed topics before items go there
                await queuetopics.ensure(api.runtime.settings, parsed, timeout=5.0)
            except BrokerError as exc:
                raise HTTPException(503, f"cannot create the per-queue routed topics, nothing saved: {exc}",
                                    headers={"Retry-After": "10"}) from exc
        version = await api.configs.save(name, body, p.subject, api.runtime.clock())
        await api.runtime.prepare(reload=True)
        return {"name": name, "version": version}

    @router.post("/admin/webhooks/{delivery_id}/replay", tags=["admin"], summary="Re-send a dead-lettered webhook")
    async def replay(p: Admin, delivery_id: int = Path(ge=1, le=2**63 - 1, description="the delivery's id")) -> dict:
        bridge = api.runtime.relay.bridge
        if bridge is None or not await bridge.replay(delivery_id, api.runtime.clock(), p.subject):
            raise HTTPException(404, f"no dead-lettered webhook delivery {delivery_id}")
        return {"delivery": delivery_id, "state": "pending"}

    @router.post("/admin/tokens", tags=["admin"], status_code=201, summary="Issue an API token (shown once)")
    async def issue(body: TokenIn, p: Admin) -> dict:
        token = await api.tokens.issue(body.subject, body.role, body.team, api.runtime.clock())
        return {"token": token, "subject": body.subject, "role": body.role}

    return router


def _check_window(since: datetime | None, until: datetime | None) -> None:
    """422 unless both bounds carry an offset and since < until."""
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise HTTPException(422, f"{name} needs a UTC offset, e.g. 2026-11-23T00:00:00Z")
    if since is not None and until is not None and since >= until:
        raise HTTPException(422, "since must be before until")


def _keeps_filtered_queues(bridge: WebhookBridge | None, parsed: RoutingConfig) -> None:
    """422 when the document drops a queue a webhook filter names (the next start-up would refuse)."""
    if bridge is None:
        return
    try:
        bridge.check_queues(parsed, "this routing document")
    except WebhookFilterError as exc:
        raise HTTPException(422, f"{exc}; remove it from the filter first") from exc


async def _review(call):
    try:
        return await call
    except ReviewError as exc:
        raise HTTPException(exc.status, str(exc)) from exc


def _item_json(r: RoutedItem, priority: int) -> dict:
    return {"item_id": r.event_id, "message_key": r.message_key, "queue": r.queue, "state": r.work_state,
            "agent": r.agent_id, "priority": priority, "sla_deadline": aware(r.sla_deadline).isoformat(),
            "routed_at": aware(r.routed_at).isoformat(), "language": r.language, "channel": r.channel,
            "reason": r.reason, "four_eyes": r.four_eyes}


__all__ = ["Api", "assigned_event", "routes"]
