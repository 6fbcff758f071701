"""Live flow: messages per minute by decision and by channel, the totals so far, the connectors'
state (a silent or failing one in red) and dead-letter counts. ``/flow/live`` is the fragment
the page's script fetches every few seconds (and the page includes on first load)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from fastapi import APIRouter, Request
from prometheus_client.parser import text_string_to_metric_families

from services.console import charts, present
from services.console.backends import SERVICES, BackendError
from services.console.flow import DECISIONS
from services.console.web import Console, ConsoleDep, SignedIn, render

router = APIRouter()
SILENT_AFTER = timedelta(hours=1)  # without the ingestor's learned rhythm: an hour of nothing


@router.get("/flow")
async def flow_page(request: Request, session: SignedIn, console: ConsoleDep):
    return render(request, "flow.html", **await _live(console, session.token))


@router.get("/flow/live")
async def flow_live(request: Request, session: SignedIn, console: ConsoleDep):
    return render(request, "flow_live.html", **await _live(console, session.token))


async def _live(console: Console, token: str) -> dict:
    flow, sources, dlq = await asyncio.gather(
        console.backends.get("router", "/v1/flow", token),
        _sources(console),
        _dead_letters(console),
    )
    now = console.clock()
    console.flow.add(now, flow["totals"])
    labels, per_minute = console.flow.per_minute(now, minutes=30)
    decisions = {d: per_minute.get(f"decision:{d}", [0] * len(labels)) for d in DECISIONS}
    channels = {
        k.removeprefix("channel:"): v for k, v in per_minute.items() if k.startswith("channel:")
    }
    totals = console.flow.latest()
    return {
        "totals": {d: totals.get(f"decision:{d}", 0) for d in DECISIONS},
        "channel_totals": {
            k.removeprefix("channel:"): v
            for k, v in sorted(totals.items())
            if k.startswith("channel:")
        },
        "last_minute": {d: v[-1] for d, v in decisions.items()},
        "by_decision": charts.columns("Messages per minute by decision", labels, decisions),
        "by_channel": charts.columns(
            "Messages per minute by channel", labels, channels or {"none": [0] * len(labels)}
        ),
        "labels": labels,
        "decisions": decisions,
        "sources": sources,
        "dlq": dlq,
    }


async def _sources(console: Console) -> dict:
    """The ingestor's connectors with a state: ``failing`` (errors since its last event),
    ``silent`` (nothing for an hour, or never), else ``ok``."""
    try:
        body = await console.backends.get("ingestor", "/v1/sources", None)
    except BackendError as exc:
        return {"error": exc.detail, "rows": []}
    now, rows = console.clock(), []
    for s in body.get("sources", []):
        last, failed = present.parse(s.get("last_event_at")), present.parse(s.get("last_error_at"))
        state = "ok"
        if failed and (last is None or failed > last):
            state = "failing"
        elif s.get("silent") or last is None or now - last > SILENT_AFTER:
            state = "silent"
        rows.append({**s, "state": state, "errors_total": sum((s.get("errors") or {}).values())})
    return {"error": None, "rows": rows}


async def _dead_letters(console: Console) -> dict:
    """Dead-lettered messages per service and topic since each service started, from their
    Prometheus metrics (``switchboard_dead_lettered_total``)."""

    async def one(service: str) -> tuple[str, dict[str, float] | None]:
        try:
            text = await console.backends.text(service, "/metrics")
        except BackendError:
            return service, None
        counts: dict[str, float] = {}
        for family in text_string_to_metric_families(text):
            if family.name != "switchboard_dead_lettered":
                continue
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    topic = sample.labels.get("topic", "?")
                    counts[topic] = counts.get(topic, 0) + sample.value
        return service, counts

    return dict(await asyncio.gather(*(one(s) for s in SERVICES)))
