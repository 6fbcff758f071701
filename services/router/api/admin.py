"""Administration: the routing (incl. SLA) and calendar documents, dead-lettered webhook
replays, API tokens."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Body, HTTPException, Path
from pydantic import BaseModel, Field

from services.router import queuetopics
from services.router.api.deps import Admin, ApiDep
from services.router.auth import TokenInfo
from services.router.configs import parse
from services.router.rules import RoutingConfig, RoutingConfigError
from services.router.webhooks import WebhookBridge, WebhookFilterError
from shared.broker import BrokerError
from shared.calendar import CalendarError

router = APIRouter()


class TokenIn(BaseModel):
    subject: str = Field(min_length=1, max_length=128)
    role: Literal["agent", "lead", "admin"]
    team: str | None = None
    expires_in_days: float | None = Field(
        None,
        gt=0,
        le=3650,
        description="Lifetime in days (default: the router's token_ttl_days setting)",
    )


@router.get("/admin/config/{name}", tags=["admin"], summary="Current routing or calendar YAML")
async def get_config(name: Literal["routing", "calendar"], p: Admin, api: ApiDep) -> dict:
    text, version = await api.configs.text(name)
    return {"name": name, "version": version, "yaml": text}


@router.put(
    "/admin/config/{name}", tags=["admin"], summary="Replace routing (incl. SLA) or calendar YAML"
)
async def put_config(
    name: Literal["routing", "calendar"],
    p: Admin,
    api: ApiDep,
    body: Annotated[str, Body(media_type="application/yaml")],
) -> dict:
    try:
        parsed = parse(name, body)
    except (RoutingConfigError, CalendarError) as exc:
        raise HTTPException(422, str(exc)) from exc
    if name == "routing":
        _keeps_filtered_queues(api.runtime.relay.bridge, parsed)
        try:  # new queues need their routed topics before items go there
            await queuetopics.ensure(api.runtime.settings, parsed, timeout=5.0)
        except BrokerError as exc:
            raise HTTPException(
                503,
                f"cannot create the per-queue routed topics, nothing saved: {exc}",
                headers={"Retry-After": "10"},
            ) from exc
    version = await api.configs.save(name, body, p.subject, api.runtime.clock())
    await api.runtime.prepare(reload=True)
    return {"name": name, "version": version}


@router.post(
    "/admin/webhooks/{delivery_id}/replay",
    tags=["admin"],
    summary="Re-send a dead-lettered webhook",
)
async def replay(
    p: Admin,
    api: ApiDep,
    delivery_id: int = Path(ge=1, le=2**63 - 1, description="the delivery's id"),
) -> dict:
    bridge = api.runtime.relay.bridge
    if bridge is None or not await bridge.replay(delivery_id, api.runtime.clock(), p.subject):
        raise HTTPException(404, f"no dead-lettered webhook delivery {delivery_id}")
    return {"delivery": delivery_id, "state": "pending"}


@router.post(
    "/admin/tokens", tags=["admin"], status_code=201, summary="Issue an API token (shown once)"
)
async def issue(body: TokenIn, p: Admin, api: ApiDep) -> dict:
    lifetime = timedelta(days=body.expires_in_days) if body.expires_in_days else None
    token, info = await api.tokens.issue(
        body.subject, body.role, body.team, api.runtime.clock(), lifetime
    )
    return {"token": token, **_token(info)}


@router.get("/admin/tokens", tags=["admin"], summary="Issued API tokens (never the tokens)")
async def tokens(p: Admin, api: ApiDep) -> dict:
    return {"tokens": [_token(t) for t in await api.tokens.list()]}


@router.delete("/admin/tokens/{token_id}", tags=["admin"], summary="Revoke an API token now")
async def revoke(
    p: Admin,
    api: ApiDep,
    token_id: str = Path(min_length=1, max_length=64, description="the token's id (from the list)"),
) -> dict:
    info = await api.tokens.revoke(token_id.lower(), p.subject, api.runtime.clock())
    if info is None:
        raise HTTPException(404, f"no API token {token_id} (ids are 12 hex digits, see the list)")
    return _token(info)


def _token(info: TokenInfo) -> dict:
    return {
        "id": info.id,
        "subject": info.subject,
        "role": info.role,
        "team": info.team,
        "created_at": info.created_at.isoformat(),
        "expires_at": info.expires_at.isoformat() if info.expires_at else None,
        "revoked_at": info.revoked_at.isoformat() if info.revoked_at else None,
        "revoked_by": info.revoked_by,
    }


def _keeps_filtered_queues(bridge: WebhookBridge | None, parsed: RoutingConfig) -> None:
    """422 when the document drops a queue a webhook filter names (the next start-up would
    refuse)."""
    if bridge is None:
        return
    try:
        bridge.check_queues(parsed, "this routing document")
    except WebhookFilterError as exc:
        raise HTTPException(422, f"{exc}; remove it from the filter first") from exc
