"""The router's HTTP API. Every route needs a bearer token with a role (agent, lead, admin);
only ``/healthz``, ``/readyz`` and ``/metrics`` are open. Agents see and act on their team's
queues, leads also see their team and its KPIs, admins change routing, SLA and calendars.
Errors are JSON ``{"detail": ...}`` with 401 (no/unknown token), 403 (role or team), 404,
409 (state conflict) and 422 (invalid input, naming the problem).

One small router per concern (``queues``, ``agents``, ``items``, ``reports``, ``templates``,
``triage``, ``overview``, ``audit``, ``admin``), included in this order (the order of the OpenAPI
document); their dependencies are the typed aliases of ``deps``.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from services.router.api import (
    admin,
    agents,
    audit,
    items,
    overview,
    queues,
    reports,
    templates,
    triage,
)
from services.router.api.deps import API_STATE, Api

PARTS = (queues, agents, items, reports, templates, triage, overview, audit, admin)


def bound(api: Api):
    """A router-level dependency (solved before each endpoint's own) that binds ``api`` to the
    request for ``deps.api_of``, so one process may serve several apps."""

    async def bind(request: Request) -> None:
        setattr(request.state, API_STATE, api)

    return Depends(bind)


def routes(api: Api) -> APIRouter:
    """The ``/v1`` routes over ``api``."""
    router = APIRouter(prefix="/v1", dependencies=[bound(api)])
    for part in PARTS:
        router.include_router(part.router)
    return router


__all__ = ["Api", "bound", "routes"]
