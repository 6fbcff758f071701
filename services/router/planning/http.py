"""``/v1/forecast`` and ``/v1/staffing`` for team leads, as an ``APIRouter`` factory.

The router app wires it with its own dependencies (``planning_router(...)``): where the arrival
history comes from, each queue's SLA target and handling times, the lead-role check, the
forecast store and the business calendar. Nothing here opens a database or reads settings.

Answers: 200 with the figures; 401/403 from the ``lead`` dependency; 404 for an unknown queue;
422 with a sentence saying what is missing (too little history, no handling time, an impossible
target, a window outside the forecast).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from services.router.planning.erlang import StaffingTarget
from services.router.planning.errors import PlanningError
from services.router.planning.forecast import Forecast, Options, Series
from services.router.planning.service import QueueAnswer, answer, forecast_workloads
from services.router.planning.store import ForecastStore
from services.router.planning.whatif import Scenario

History = Callable[[str], Awaitable[Mapping[str, Series] | None]]  # workload name -> counts
Targets = Callable[[str], Awaitable[StaffingTarget | None]]
HandlingTimes = Callable[[str], Awaitable[Mapping[str, float | None]]]


class WhatIf(BaseModel):
    """What-if parameters; omitted ones keep the queue's own."""

    model_config = ConfigDict(extra="forbid")
    volume_factor: float = Field(1.0, ge=0, le=100, description="2.0 doubles the volume")
    window_start: datetime | None = Field(None, description="apply the volume factor from here")
    window_end: datetime | None = None
    aht_s: float | None = Field(None, gt=0)
    sla_s: float | None = Field(None, ge=0)
    target: float | None = Field(None, gt=0, lt=1)
    concurrency: int | None = Field(None, ge=1, le=50)
    shrinkage: float | None = Field(None, ge=0, lt=1)
    max_occupancy: float | None = Field(None, gt=0, le=1)
    patience_s: float | None = Field(None, gt=0)


class WhatIfQuery(WhatIf):
    """The same parameters in a query string, which also carries queue, start, end and days."""

    model_config = ConfigDict(extra="ignore")


def _forecast_json(name: str, f: Forecast) -> dict:
    return {
        "workload": name,
        "method": f.method,
        "backtest_wape": f.backtest_wape,
        "notes": list(f.notes),
        "intervals": [
            {
                "start": (f.start + timedelta(seconds=i * f.interval_s)).isoformat(),
                "mean": round(float(m), 3),
                "lower": round(float(lo), 3),
                "upper": round(float(hi), 3),
            }
            for i, (m, lo, hi) in enumerate(zip(f.mean, f.lower, f.upper, strict=True))
        ],
    }


def answer_json(a: QueueAnswer) -> dict:
    """The staffing answer as the console charts it."""
    plan = a.scenario or a.baseline
    base = {r.start: r for r in a.baseline.rows}
    rows = [
        {
            "start": r.start.isoformat(),
            "volume": round(r.volume, 3),
            "load_erlangs": round(r.load_erlangs, 3),
            "agents": r.agents,
            "scheduled": r.scheduled,
            "baseline_scheduled": base[r.start].scheduled,
            "service_level": round(r.service_level, 4),
            "abandonment": round(r.abandonment, 4),
            "occupancy": round(r.occupancy, 4),
            "rostered": None if a.rostered is None else int(a.rostered[i]),
        }
        for i, r in enumerate(plan.rows)
    ]
    return {
        "queue": a.queue,
        "interval_s": plan.interval_s,
        "target": plan.target.__dict__,
        "totals": {
            "agent_hours": round(plan.agent_hours, 2),
            "peak": plan.peak,
            "baseline_agent_hours": round(a.baseline.agent_hours, 2),
            "baseline_peak": a.baseline.peak,
        },
        "methods": {k: f.method for k, f in a.forecasts.items()},
        "notes": sorted({n for f in a.forecasts.values() for n in f.notes}),
        "intervals": rows,
        "gaps": [{"start": g.start.isoformat(), "short": g.short} for g in a.gaps()],
    }


def planning_router(
    *,
    history: History,
    targets: Targets,
    handling_times: HandlingTimes,
    lead: Callable[..., Any],
    store: ForecastStore | None = None,
    is_special: Callable[[date], bool] | None = None,
    may_see: Callable[[Any, str], bool] = lambda principal, queue: True,
    max_age: timedelta = timedelta(hours=26),
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    options: Options = Options(),
) -> APIRouter:
    """The planning routes. ``lead`` is a FastAPI dependency returning the caller (and raising
    401/403 for anyone below the lead role); ``may_see(principal, queue)`` scopes a lead to
    their team's queues; ``store`` supplies forecasts ``refresh`` computed (younger than
    ``max_age``), otherwise they are computed on the request."""
    router = APIRouter(prefix="/v1", tags=["planning"])
    caller = Depends(lead)  # a default, not an Annotated alias: annotations are strings here

    async def forecasts_for(principal, queue: str, days: int) -> dict[str, Forecast]:
        if not may_see(principal, queue):
            raise HTTPException(403, f"queue {queue!r} belongs to another team")
        series = await history(queue)
        if series is None:
            raise HTTPException(404, f"unknown queue {queue!r}")
        fresh = {}
        for name in series:
            stored = await store.get(f"{queue}:{name}") if store is not None else None
            if (
                stored
                and stored.forecast
                and clock() - stored.computed_at <= max_age
                and len(stored.forecast.mean) * stored.forecast.interval_s >= days * 86_400
            ):
                fresh[name] = stored.forecast
        if len(fresh) == len(series):
            return fresh
        try:
            return forecast_workloads(series, days=days, options=options, is_special=is_special)
        except PlanningError as exc:
            raise HTTPException(422, f"queue {queue!r}: {exc}") from None

    @router.get("/forecast", summary="Workload forecast per interval with an 80 % band (lead)")
    async def get_forecast(
        *,
        principal: Any = caller,
        queue: Annotated[str, Query(min_length=1, max_length=128)],
        days: Annotated[int, Query(ge=1, le=14)] = 7,
    ) -> dict:
        fcs = await forecasts_for(principal, queue, days)
        return {"queue": queue, "workloads": [_forecast_json(k, f) for k, f in fcs.items()]}

    async def staffing(
        principal,
        queue: str,
        start: datetime | None,
        end: datetime | None,
        days: int,
        what_if: WhatIf,
    ) -> dict:
        fcs = await forecasts_for(principal, queue, days)
        target = await targets(queue)
        if target is None:
            raise HTTPException(422, f"queue {queue!r} has no SLA target; configure its SLA policy")
        handling = dict(await handling_times(queue))
        known = [v for v in handling.values() if v]
        target = replace(target, aht_s=known[0] if known else (what_if.aht_s or target.aht_s))
        try:
            a = answer(
                queue,
                forecasts=fcs,
                handling_s=handling,
                target=target,
                scenario=Scenario(**what_if.model_dump()),
                start=start,
                end=end,
            )
        except PlanningError as exc:
            raise HTTPException(422, f"queue {queue!r}: {exc}") from None
        return answer_json(a)

    @router.get(
        "/staffing",
        summary="Agents needed per interval to meet the queue's SLA, with what-if (lead)",
    )
    async def get_staffing(
        *,
        principal: Any = caller,
        queue: Annotated[str, Query(min_length=1, max_length=128)],
        what_if: Annotated[WhatIfQuery, Query()],
        start: datetime | None = None,
        end: datetime | None = None,
        days: Annotated[int, Query(ge=1, le=14)] = 7,
    ) -> dict:
        return await staffing(principal, queue, start, end, days, what_if)

    @router.post("/staffing", summary="As GET /v1/staffing, the what-if in the body (lead)")
    async def post_staffing(
        *,
        principal: Any = caller,
        queue: Annotated[str, Query(min_length=1, max_length=128)],
        what_if: Annotated[WhatIf, Body()] = WhatIf(),
        start: datetime | None = None,
        end: datetime | None = None,
        days: Annotated[int, Query(ge=1, le=14)] = 7,
    ) -> dict:
        return await staffing(principal, queue, start, end, days, what_if)

    return router
