"""The audit trail of routing decisions (leads: all of it, or one item's)."""

from __future__ import annotations

from fastapi import APIRouter

from services.router.api.deps import ApiDep, Lead, TeamQueues, visible_item
from services.router.store import aware

router = APIRouter()


@router.get("/audit", tags=["audit"], summary="The audit trail of routing decisions")
async def audit_trail(
    p: Lead, api: ApiDep, visible: TeamQueues, item_id: str | None = None, limit: int = 200
) -> list[dict]:
    key = None if item_id is None else (await visible_item(api, visible, item_id)).message_key
    rows = await api.items.audit_trail(key, min(max(limit, 1), 1000))
    return [
        {
            "at": aware(r.at).isoformat(),
            "action": r.action,
            "actor": r.actor,
            "item": r.message_key,
            "detail": r.detail,
        }
        for r in rows
    ]
