"""Queues: routed items per queue, and a queue's open items, most urgent first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response

from services.router.api.deps import AgentCaller, ApiDep, TeamQueues
from services.router.store import aware
from services.router.tables import RoutedItem

router = APIRouter()


@router.get("/queues", tags=["queues"], summary="Routed items per queue (your team's queues)")
async def queues(p: AgentCaller, api: ApiDep, visible: TeamQueues) -> dict[str, int]:
    return await api.items.count_by_queue(visible)


@router.get(
    "/queues/{queue}/items", tags=["queues"], summary="Open items of a queue, most urgent first"
)
async def queue_items(
    queue: str,
    p: AgentCaller,
    api: ApiDep,
    visible: TeamQueues,
    response: Response,
    limit: Annotated[int | None, Query(ge=1, le=500)] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[dict]:
    """Every open item, most urgent first; with ``limit``, one page (``offset``) ordered by SLA
    deadline, soonest first, and the queue's open total in ``X-Total-Count``."""
    if visible is not None and queue not in visible:
        raise HTTPException(403, f"queue {queue} is not one of your team's")
    now = api.runtime.clock()
    if limit is not None:
        rows, total = await api.items.open_page(queue, limit, offset)
        response.headers["X-Total-Count"] = str(total)
        return [item_json(r, api.runtime.dispatcher.priority(r, now)) for r in rows]
    rows = await api.items.open_items(queue)
    out = [item_json(r, api.runtime.dispatcher.priority(r, now)) for r in rows]
    return sorted(out, key=lambda i: (-i["priority"], i["routed_at"]))


def item_json(r: RoutedItem, priority: int) -> dict:
    return {
        "item_id": r.event_id,
        "message_key": r.message_key,
        "queue": r.queue,
        "state": r.work_state,
        "agent": r.agent_id,
        "priority": priority,
        "sla_deadline": aware(r.sla_deadline).isoformat(),
        "routed_at": aware(r.routed_at).isoformat(),
        "language": r.language,
        "channel": r.channel,
        "reason": r.reason,
        "four_eyes": r.four_eyes,
        "text": r.text,
        "author": r.author,
        "explanation": r.explanation,
        "tags": list(r.tags or ()),
        "urgency": r.urgency,
        "sentiment": r.sentiment,
        "vip": r.vip,
        "rule": r.rule,
        "received_at": aware(r.received_at).isoformat() if r.received_at else None,
    }
