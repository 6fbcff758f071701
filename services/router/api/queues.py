"""Queues: routed items per queue, and a queue's open items, most urgent first."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

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
async def queue_items(queue: str, p: AgentCaller, api: ApiDep, visible: TeamQueues) -> list[dict]:
    if visible is not None and queue not in visible:
        raise HTTPException(403, f"queue {queue} is not one of your team's")
    rows = await api.items.open_items(queue)
    now = api.runtime.clock()
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
    }
