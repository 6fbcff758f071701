"""Queues: each queue's open items (text, tags, contact reason, language, urgency, SLA clock,
assignee, four-eyes), a page at a time, soonest deadline first; the agents online and the
capacity used. The clock is drawn by the server and counted down in the browser."""

from __future__ import annotations

import asyncio
import math
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from services.console import present
from services.console.web import Console, ConsoleDep, SignedIn, render

router = APIRouter()
QueueName = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:\-]+$")]


@router.get("/queues")
async def queues_page(request: Request, session: SignedIn, console: ConsoleDep):
    token = session.token
    counts, agents = await asyncio.gather(
        console.backends.get("router", "/v1/queues", token),
        console.backends.get("router", "/v1/agents", token),
    )
    names = sorted(counts)
    open_counts = await asyncio.gather(*(_open_total(console, token, q) for q in names))
    return render(
        request,
        "queues.html",
        queues=[{"name": q, "routed": counts[q], "open": n} for q, n in zip(names, open_counts)],
        agents=agents,
        online=[a for a in agents if a["status"] == "online"],
        capacity=_capacity(agents),
    )


@router.get("/queues/{queue}")
async def queue_page(
    request: Request,
    queue: QueueName,
    session: SignedIn,
    console: ConsoleDep,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
):
    size = console.settings.queue_page_size
    reply = await console.backends.call(
        "router",
        "GET",
        f"/v1/queues/{queue}/items",
        session.token,
        params={"limit": size, "offset": (page - 1) * size},
    )
    total = int(reply.headers.get("x-total-count", len(reply.body)))
    now = console.clock()
    items = [_item(i, now, session.user.subject) for i in reply.body]
    return render(
        request,
        "queue.html",
        queue=queue,
        items=items,
        total=total,
        page=page,
        pages=max(1, math.ceil(total / size)),
    )


async def _open_total(console: Console, token: str, queue: str) -> int:
    reply = await console.backends.call(
        "router", "GET", f"/v1/queues/{queue}/items", token, params={"limit": 1}
    )
    return int(reply.headers.get("x-total-count", len(reply.body)))


def _capacity(agents: list[dict]) -> dict:
    online = [a for a in agents if a["status"] == "online"]
    used, total = sum(a["load"] for a in online), sum(a["capacity"] for a in online)
    return {"used": used, "total": total, "share": (used / total) if total else None}


def _item(item: dict, now, me: str) -> dict:
    deadline = present.parse(item.get("sla_deadline"))
    routed = present.parse(item.get("routed_at"))
    left = (deadline - now).total_seconds() if deadline else 0.0
    total = (deadline - routed).total_seconds() if deadline and routed else None
    tags = [t for t in item.get("tags") or () if not t.startswith("reason:")]
    return {
        **item,
        "left_s": left,
        "total_s": total,
        "sla_class": present.sla_state(left, total),
        "other_tags": tags,
        "mine": item.get("agent") == me,
    }
