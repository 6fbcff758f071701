"""The notifier's HTTP API: office hours, incidents (list, ack, resolve, signed one-click
links), who is on call, the rota as iCal and the Alertmanager webhook.

Incidents (which quote customer messages), who is on call, and the state-changing endpoints
(``POST`` ack/resolve, ``POST /v1/alertmanager``) need a bearer token (``shared.auth``: the admin
token or a hashed grant from ``NOTIFIER_API_TOKENS``): 401 without a valid one, 403 when the role
or team does not allow it; a token bound to a team sees that team's incidents only. The signed
one-click links carry their own authority (HMAC in the URL), and so does the iCal rota feed
(``?key=``, the team's feed key: calendar apps cannot send a bearer token). Office hours and the
page count (no personal data) stay open."""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Header, HTTPException, Query, Response
from pydantic import BaseModel, Field, ValidationError

from services.notifier import alerts, links, oncall
from services.notifier.paging import NotFound, Paging
from services.notifier.rota_ics import rota_ics
from services.notifier.tables import Incident
from shared.auth import Principal, StaticTokens, Unauthenticated


class Actor(BaseModel):
    by: str | None = Field(
        None,
        min_length=1,
        max_length=128,
        description="Who acknowledges or resolves; default: the token's subject",
    )


def incident_view(row: Incident) -> dict:
    return {
        "id": row.id,
        "key": row.key,
        "team": row.team,
        "status": row.status,
        "reason": row.reason,
        "summary": row.summary,
        "items": row.item_count,
        "step": row.step,
        "round": row.round,
        "next_at": row.next_at.isoformat() if row.next_at else None,
        "opened_at": row.opened_at.isoformat(),
        "acked_by": row.acked_by,
        "resolved_by": row.resolved_by,
    }


def _rota_view(spec: oncall.Team, now: datetime, days: int) -> dict:
    """Per rotation: who is on call at ``now``, who comes next and from when, and the shifts
    of the next ``days`` days (times as RFC 3339)."""
    rotations = {}
    for name, rotation in spec.rotations.items():
        ahead = oncall.shifts(rotation, now, now + timedelta(days=days), spec.timezone)
        current = oncall.on_call(rotation, now, spec.timezone)
        following = next(((p, b) for p, b, _ in ahead if p != current and b > now), None)
        rotations[name] = {
            "now": current,
            "next": {"person": following[0], "from": following[1].isoformat()}
            if following
            else None,
            "shifts": [
                {"person": p, "from": b.isoformat(), "to": e.isoformat()} for p, b, e in ahead
            ],
        }
    return {"timezone": spec.timezone, "rotations": rotations}


def api_router(
    paging: Paging,
    clock: Callable[[], datetime],
    signing_key: str,
    tokens: StaticTokens | None = None,
) -> APIRouter:
    router = APIRouter()
    tokens = tokens or StaticTokens(None, {})

    async def caller(authorization: Annotated[str | None, Header()] = None) -> Principal:
        """The authenticated caller (401 without a valid bearer token), at least an agent."""
        try:
            principal = tokens.principal(authorization, clock())
        except Unauthenticated as exc:
            raise HTTPException(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from exc
        if not principal.at_least("agent"):
            raise HTTPException(403, f"needs role agent (you are {principal.role})")
        return principal

    Caller = Annotated[Principal, Depends(caller)]

    async def for_team(incident_id: str, principal: Principal) -> None:
        row = await paging.incidents.get(incident_id)
        if row is None:
            raise HTTPException(404, "no such incident")
        if not principal.may_act_for(row.team):
            raise HTTPException(
                403,
                f"incident {incident_id} belongs to team {row.team}, not yours ({principal.team})",
            )

    @router.get(
        "/v1/office-hours", tags=["calendar"], summary="Is the office open now, and if not why?"
    )
    async def office() -> dict:
        now, calendar = clock(), paging.calendar
        closed = calendar.closed_because(now)
        return {
            "timezone": calendar.timezone,
            "now": now.isoformat(),
            "open": closed is None,
            "closed_because": closed,
        }

    @router.get(
        "/v1/pages/count", tags=["pages"], summary="Deliveries accepted by their targets so far"
    )
    async def pages_count() -> dict[str, int]:
        return {
            "sent": await paging.incidents.count_sent(),
            "items": await paging.incidents.item_total(),
        }

    @router.get(
        "/v1/incidents", tags=["incidents"], summary="Recent incidents, newest first (bearer token)"
    )
    async def incidents(principal: Caller, status: str | None = None) -> list[dict]:
        return [
            incident_view(r)
            for r in await paging.incidents.listing(status)
            if principal.may_act_for(r.team)
        ]

    @router.get(
        "/v1/incidents/{incident_id}",
        tags=["incidents"],
        summary="One incident and its deliveries (bearer token)",
    )
    async def incident(incident_id: str, principal: Caller) -> dict:
        await for_team(incident_id, principal)
        row = await paging.incidents.get(incident_id)
        if row is None:
            raise HTTPException(404, "no such incident")
        deliveries = [
            {
                "round": d.round,
                "step": d.step,
                "person": d.person,
                "target": d.target,
                "status": d.status,
                "attempts": d.attempts,
                "error": d.error,
                "created_at": d.created_at.isoformat() if d.created_at else None,
                "sent_at": d.sent_at.isoformat() if d.sent_at else None,
            }
            for d in await paging.incidents.deliveries(row.id)
        ]
        return {**incident_view(row), "deliveries": deliveries}

    async def act(action: str, incident_id: str, by: str) -> dict:
        try:
            if action == "ack":
                return incident_view(await paging.acknowledge(incident_id, by, clock()))
            return incident_view(await paging.resolve(incident_id, by, clock()))
        except NotFound as exc:
            raise HTTPException(404, "no such incident") from exc

    @router.post(
        "/v1/incidents/{incident_id}/ack",
        tags=["incidents"],
        summary="Acknowledge: stop escalating (bearer token; 401/403)",
    )
    async def ack(incident_id: str, actor: Actor, principal: Caller) -> dict:
        await for_team(incident_id, principal)
        return await act("ack", incident_id, actor.by or principal.subject)

    @router.post(
        "/v1/incidents/{incident_id}/resolve",
        tags=["incidents"],
        summary="Resolve: close the incident (bearer token; 401/403)",
    )
    async def resolve(incident_id: str, actor: Actor, principal: Caller) -> dict:
        await for_team(incident_id, principal)
        return await act("resolve", incident_id, actor.by or principal.subject)

    @router.get(
        "/v1/incidents/{incident_id}/{action}",
        tags=["incidents"],
        summary="One-click signed link from a page (403 with the reason when wrong or expired)",
    )
    async def one_click(incident_id: str, action: str, by: str, exp: int, sig: str) -> dict:
        try:
            links.verify(signing_key, action, incident_id, by, exp, sig, clock())
        except links.LinkRefused as exc:
            raise HTTPException(403, str(exc)) from exc
        return await act(action, incident_id, by)

    @router.get(
        "/v1/oncall/{team}",
        tags=["rota"],
        summary="Who is on call now, per rotation (bearer token)",
    )
    async def on_call_now(team: str, principal: Caller) -> dict:
        if team not in paging.oncall.teams:
            raise HTTPException(404, "no such team")
        if not principal.may_act_for(team):
            raise HTTPException(403, f"team {team} is not yours ({principal.team})")
        spec, now = paging.oncall.teams[team], clock()
        return {
            "team": team,
            "at": now.isoformat(),
            "rotations": {
                name: oncall.on_call(rot, now, spec.timezone)
                for name, rot in spec.rotations.items()
            },
        }

    @router.get(
        "/v1/oncall",
        tags=["rota"],
        summary="Your teams: who is on call now and next per rotation, the shifts ahead, the iCal feed",
    )
    async def on_call_overview(
        principal: Caller, days: Annotated[int, Query(ge=1, le=28)] = 14
    ) -> dict:
        now = clock()
        return {
            "at": now.isoformat(),
            "teams": {
                team: _rota_view(spec, now, days) | {"feed": _feed_path(team)}
                for team, spec in paging.oncall.teams.items()
                if principal.may_act_for(team)
            },
        }

    def _feed_path(team: str) -> str:
        return f"/v1/rotas/{team}.ics?key={links.feed_key(signing_key, team)}"

    @router.get(
        "/v1/rotas/{team}.ics",
        tags=["rota"],
        summary="The team's rota as an iCalendar feed (4 weeks); ?key= the team's feed key",
    )
    async def rota(team: str, key: str | None = None) -> Response:
        if team not in paging.oncall.teams:
            raise HTTPException(404, "no such team")
        try:
            links.verify_feed(signing_key, team, key)
        except links.LinkRefused as exc:
            raise HTTPException(403, str(exc)) from exc
        start = clock().replace(minute=0, second=0, microsecond=0)
        return Response(rota_ics(paging.oncall, team, start), media_type="text/calendar")

    @router.post(
        "/v1/alertmanager",
        tags=["alerts"],
        summary="Prometheus Alertmanager webhook (version 4; bearer token via http_config.authorization)",
    )
    async def alertmanager(
        principal: Caller,
        body: Annotated[dict, Body(description="Alertmanager webhook, version 4")],
    ) -> dict:
        try:
            hook = alerts.AlertmanagerWebhook.model_validate(body)
        except ValidationError as error:  # the alerts' own text is never echoed back
            raise HTTPException(
                422,
                [
                    {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
                    for e in error.errors(include_input=False, include_url=False)
                ],
            ) from None
        return await alerts.receive(paging, hook, clock())

    return router
