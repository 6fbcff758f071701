"""Triage review: what the classifier dropped (spam) or tagged (noise), newest first, with its
reason and evidence, filterable; one click sends a correction ("needed a reply", "not spam", or
new tags) that the router stores and passes to the classifier to learn from. The chart shows the
share of triaged messages corrected per day."""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import RedirectResponse

from services.console import charts
from services.console.web import ConsoleDep, SignedIn, changed, render

router = APIRouter()
PAGE = 50


@router.get("/triage")
async def triage_page(
    request: Request,
    session: SignedIn,
    console: ConsoleDep,
    decision: Literal["drop", "tag", ""] = "",
    corrected: Literal["yes", "no", ""] = "",
    tag: Annotated[str, Query(max_length=256)] = "",
    language: Annotated[str, Query(max_length=16)] = "",
    cursor: Annotated[str, Query(max_length=4096)] = "",
):
    params = {
        "decision": decision,
        "tag": tag,
        "language": language if len(language) >= 2 else "",
        "corrected": {"yes": "true", "no": "false"}.get(corrected, ""),
        "cursor": cursor,
        "limit": PAGE,
    }
    listing, stats = await asyncio.gather(
        console.backends.get("router", "/v1/triage", session.token, **params),
        console.backends.get("router", "/v1/triage/stats", session.token, days=30),
    )
    days = stats.get("days", [])
    share = [round(100 * d["corrected"] / d["triaged"], 1) if d["triaged"] else 0 for d in days]
    filters = {"decision": decision, "corrected": corrected, "tag": tag, "language": language}
    following = listing.get("next")
    return render(
        request,
        "triage.html",
        rows=listing.get("items", []),
        filters=filters,
        next_url=f"/triage?{urlencode({**filters, 'cursor': following})}" if following else None,
        days=days,
        share=share,
        chart=charts.lines(
            "Share of triaged messages corrected, per day (%)",
            [d["day"][5:] for d in days],
            {"corrected %": share},
        )
        if days
        else None,
    )


@router.post("/triage/correct")
async def correct(request: Request, session: SignedIn, console: ConsoleDep):
    form = await changed(request, session)
    key = str(form.get("message_key", ""))
    decision = str(form.get("decision", ""))
    if not key or len(key) > 1024 or decision not in ("reply", "tag", "drop"):
        raise HTTPException(
            422, "a correction needs the message and a decision (reply, tag or drop)"
        )
    body: dict = {"decision": decision}
    raw_tags = str(form.get("tags", "")).strip()
    if raw_tags:
        body["tags"] = [t.strip() for t in raw_tags.split(",") if t.strip()]
    note = str(form.get("note", "")).strip()
    if note:
        body["note"] = note[:1024]
    await console.backends.call(
        "router", "POST", f"/v1/triage/{quote(key, safe='')}/correction", session.token, json=body
    )
    back = str(form.get("back", "/triage"))
    if not back.startswith("/triage"):
        back = "/triage"
    sep = "&" if "?" in back else "?"
    return RedirectResponse(
        f"{back}{sep}{urlencode({'done': f'Correction stored: {decision}'})}", 303
    )
