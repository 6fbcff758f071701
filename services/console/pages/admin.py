"""Admin (admin role only; agents and leads get 403): the routing document (queues, SLA,
rules) and the business calendar as the router serves them, and what the classifier runs
(models, rule sets, taxonomy)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request

from services.console.web import ConsoleDep, needs, render

router = APIRouter()
Admin = needs("admin")


@router.get("/admin", dependencies=[Admin])
async def admin_page(request: Request, console: ConsoleDep):
    token = request.state.session.token
    routing, calendar, models, taxonomy = await asyncio.gather(
        console.backends.get("router", "/v1/admin/config/routing", token),
        console.backends.get("router", "/v1/admin/config/calendar", token),
        console.backends.get("classifier", "/v1/models", token),
        console.backends.get("classifier", "/v1/taxonomy", token),
    )
    return render(
        request, "admin.html", routing=routing, calendar=calendar, models=models, taxonomy=taxonomy
    )
