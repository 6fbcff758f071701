"""``/v1/forecast``, ``/v1/staffing`` and ``/v1/rosters/{team}`` for team leads, as an
``APIRouter`` factory.

The router app wires it with its own dependencies (``planning_router(...)``): where the arrival
history comes from, each queue's SLA target and handling times, the lead-role check, the
forecast store, the rosters and the business calendar. Nothing here opens a database or reads
settings.

With a ``store``, forecasts are served as the scheduled refresh stored them, with their age
(``computed_at``, ``age_s``, ``stale``), never computed on a request; ``POST
/v1/forecasts/refresh`` recomputes one queue's now. Without a store (tests, embedding) they are
computed on each request.

Answers: 200 with the figures; 401/403 from the ``lead`` dependency; 404 for an unknown queue or
team; 409 when no forecast has been computed yet; 422 with a sentence saying what is missing (too
little history, no handling time, an impossible target, a window outside the forecast, a bad
roster).
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
from services.router.planning.service import (
    QueueAnswer,
    answer,
    forecast_workloads,
    workloads_of,
)
from services.router.planning.shifts import Roster
from services.router.planning.store import ForecastStore, StoredForecast, refresh
from services.router.planning.whatif import Scenario

History = Callable[[str], Awaitable[Mapping[str, Series] | None]]  # series name -> counts
Targets = Callable[[str], Awaitable[StaffingTarget | None]]
HandlingTimes = Callable[[str], Awaitable[Mapping[str, float | None]]]
RosterOf = Callable[[str], Awaitable[Roster | None]]  # queue -> its team's roster


class WhatIf(BaseModel):
    """What-if parameters; omitted ones keep the queue's own."""

    model_config = ConfigDict(extra="forbid")
    volume_factor: float = Field(1.0, ge=0, le=100, description="2.0 doubles the volume")
    window_start: datetime | None = Field(None, description="apply the volume factor from here")
    window_end: datetime | None = None
    aht_s: float | None = Field(None, gt=0)
    sla_s: float | None = Field(None, ge=0)
    target: float | None = Field(None, gt=0, le=1, description="share within sla_s; < 1")
    concurrency: int | None = Field(None, ge=1, le=50)
    shrinkage: float | None = Field(None, ge=0, lt=1)
    max_occupancy: float | None = Field(None, gt=0, le=1)
    patience_s: float | None = Field(None, gt=0)
    reliability: float | None = Field(
        None,
        gt=0,
        le=1,
        description="meet the target in this share of intervals (e.g. 0.95), checked by "
        "simulation with the queue's own handling times; slower (about 0.1 s per interval)",
    )


class WhatIfQuery(WhatIf):
    """The same parameters in a query string, which also carries queue, start, end and days."""

    model_config = ConfigDict(extra="ignore")


def _forecast_json(name: str, f: Forecast) -> dict:
    return {
        "series": name,
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


class ShiftIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    days: str = Field(..., min_length=3, max_length=64, examples=["mon-fri"])
    start: str = Field(..., alias="from", pattern=r"^\d{1,2}:\d{2}$", examples=["08:00"])
    end: str = Field(..., alias="to", pattern=r"^\d{1,2}:\d{2}$", examples=["16:30"])
    agents: int = Field(1, ge=0, le=10_000)


class ExceptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    day: date = Field(..., alias="date")
    start: str = Field("00:00", alias="from", pattern=r"^\d{1,2}:\d{2}$")
    end: str = Field("24:00", alias="to", pattern=r"^\d{1,2}:\d{2}$")
    agents: int = Field(..., ge=-10_000, le=10_000, description="added; negative: absent")
    reason: str = Field("", max_length=256)


class RosterIn(BaseModel):
    """A team's shifts: a weekly pattern plus dated exceptions, in the team's time zone."""

    model_config = ConfigDict(extra="forbid")
    timezone: str = Field("UTC", max_length=64, examples=["Europe/Berlin"])
    pattern: list[ShiftIn] = Field(..., max_length=500)
    exceptions: list[ExceptionIn] = Field(default_factory=list, max_length=5_000)

    def document(self) -> dict:
        """As stored and returned: the documented YAML/JSON shape (``from``/``to``, ISO dates)."""
        return self.model_dump(mode="json", by_alias=True)


class Rosters:
    """What the roster routes need: the store (``get``/``put``), the teams, who may see a team."""

    def __init__(
        self,
        store: Any,
        teams: Callable[[], set[str]],
        may_see_team: Callable[[Any, str], bool],
        clock: Callable[[], datetime],
    ) -> None:
        self.store, self.teams, self.may_see_team, self.clock = store, teams, may_see_team, clock


def _age(stored: StoredForecast, now: datetime, max_age: timedelta) -> dict:
    age = now - stored.computed_at
    return {
        "computed_at": stored.computed_at.isoformat(),
        "age_s": round(age.total_seconds()),
        "stale": age > max_age,
    }


def _trim(f: Forecast, first: datetime, until: datetime) -> Forecast:
    """The part of ``f`` from the interval holding ``first`` up to ``until`` (within ``f``)."""
    a = max(0, int((first - f.start).total_seconds() // f.interval_s))
    b = min(len(f.mean), int(-(-(until - f.start).total_seconds() // f.interval_s)))
    b = max(a, b)
    return replace(
        f,
        start=f.start + timedelta(seconds=a * f.interval_s),
        mean=f.mean[a:b],
        lower=f.lower[a:b],
        upper=f.upper[a:b],
    )


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
    roster_of: RosterOf | None = None,
    rosters: Rosters | None = None,
    handling_sample: Callable[[str], Awaitable[Any]] | None = None,
) -> APIRouter:
    """The planning routes. ``lead`` is a FastAPI dependency returning the caller (and raising
    401/403 for anyone below the lead role); ``may_see(principal, queue)`` scopes a lead to
    their team's queues; ``store`` holds the forecasts ``refresh`` computed (served with their
    age; a forecast older than ``max_age`` is marked stale); without a store they are computed on
    each request. ``roster_of(queue)`` gives the rostered agents beside the requirement;
    ``rosters`` adds ``GET``/``PUT /v1/rosters/{team}``; ``handling_sample(queue)`` gives recorded
    handling times for staffing with a ``reliability``."""
    router = APIRouter(prefix="/v1", tags=["planning"])
    caller = Depends(lead)  # a default, not an Annotated alias: annotations are strings here

    async def series_of(principal, queue: str) -> Mapping[str, Series]:
        if not may_see(principal, queue):
            raise HTTPException(403, f"queue {queue!r} belongs to another team")
        series = await history(queue)
        if series is None:
            raise HTTPException(404, f"unknown queue {queue!r}")
        return series

    async def stored_for(queue: str, names) -> dict[str, StoredForecast]:
        assert store is not None
        stored = {s.queue.split(":", 1)[1]: s for s in await store.of_queue(queue)}
        if not stored:
            raise HTTPException(
                409,
                f"no forecast of queue {queue!r} has been computed yet: the router computes every "
                f"queue's at start and then hourly; POST /v1/forecasts/refresh?queue={queue} "
                "computes it now",
            )
        failed = [f"{k}: {v.error}" for k, v in stored.items() if v.forecast is None]
        if failed and all(stored[k].forecast is None for k in names if k in stored):
            raise HTTPException(422, f"queue {queue!r} cannot be forecast: " + "; ".join(failed))
        return stored

    async def forecasts_for(
        principal, queue: str, days: int, until: datetime | None = None
    ) -> tuple[dict[str, Forecast], dict]:
        """The queue's forecasts from the current interval for ``days`` (or up to ``until``),
        and what the caller should know about their age."""
        series = await series_of(principal, queue)
        now = clock()
        if store is None:
            try:
                fcs = forecast_workloads(series, days=days, options=options, is_special=is_special)
            except PlanningError as exc:
                raise HTTPException(422, f"queue {queue!r}: {exc}") from None
            return fcs, {"computed_at": now.isoformat(), "age_s": 0, "stale": False}
        stored = await stored_for(queue, [k for k in series if k in workloads_of(series)])
        end = max(now + timedelta(days=days), until or now)
        fcs = {k: _trim(v.forecast, now, end) for k, v in stored.items() if v.forecast is not None}
        oldest = min(
            (v for v in stored.values() if v.forecast), key=lambda v: v.computed_at, default=None
        )
        age = _age(oldest, now, max_age) if oldest else {}
        age["errors"] = {k: v.error for k, v in stored.items() if v.forecast is None}
        return fcs, age

    @router.get("/forecast", summary="Workload forecast per interval with an 80 % band (lead)")
    async def get_forecast(
        *,
        principal: Any = caller,
        queue: Annotated[str, Query(min_length=1, max_length=128)],
        days: Annotated[int, Query(ge=1, le=14)] = 7,
    ) -> dict:
        fcs, age = await forecasts_for(principal, queue, days)
        work = workloads_of(fcs)
        return {
            "queue": queue,
            **age,
            "workloads": [_forecast_json(k, f) for k, f in work.items()],
            "channels": [
                {**_forecast_json(k, f), "channel": k.split(":", 1)[1]}
                for k, f in fcs.items()
                if k not in work
            ],
        }

    @router.post("/forecasts/refresh", summary="Recompute and store a queue's forecasts now (lead)")
    async def post_refresh(
        *,
        principal: Any = caller,
        queue: Annotated[str, Query(min_length=1, max_length=128)],
    ) -> dict:
        await series_of(principal, queue)
        if store is None:
            raise HTTPException(404, "this router keeps no forecast store")
        outcome = await refresh(
            [queue], history=history, store=store, now=clock(), is_special=is_special
        )
        return {"queue": queue, "computed_at": clock().isoformat(), "series": outcome}

    async def staffing(
        principal,
        queue: str,
        start: datetime | None,
        end: datetime | None,
        days: int,
        what_if: WhatIf,
    ) -> dict:
        for name, value in (("start", start), ("end", end)):
            if value is not None and value.tzinfo is None:
                raise HTTPException(422, f"{name} needs a UTC offset, e.g. 2026-12-07T18:00:00Z")
        fcs, age = await forecasts_for(principal, queue, days, until=end)
        target = await targets(queue)
        if target is None:
            raise HTTPException(422, f"queue {queue!r} has no SLA target; configure its SLA policy")
        handling = dict(await handling_times(queue))
        if what_if.aht_s is None and not handling.get("reply"):
            raise HTTPException(
                422,
                f"queue {queue!r} has no handling times yet: the helpdesk reports them with its "
                "lifecycle events (handled items); or pass aht_s",
            )
        target = replace(target, aht_s=handling.get("reply") or what_if.aht_s or target.aht_s)
        if what_if.aht_s is not None and not handling.get("reply"):
            handling["reply"] = what_if.aht_s
        roster = await roster_of(queue) if roster_of is not None else None
        sample = None
        if handling_sample is not None and (what_if.reliability or target.reliability):
            sample = await handling_sample(queue)
        try:
            a = answer(
                queue,
                forecasts=fcs,
                handling_s=handling,
                target=target,
                scenario=Scenario(**what_if.model_dump()),
                start=start,
                end=end,
                roster=roster,
                handling_sample=sample,
            )
        except PlanningError as exc:
            raise HTTPException(422, f"queue {queue!r}: {exc}") from None
        return {**answer_json(a), "forecast": age, "roster": roster is not None}

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

    if rosters is not None:
        _roster_routes(router, rosters, caller)
    return router


def _roster_routes(router: APIRouter, rosters: Rosters, caller: Any) -> None:
    def check(principal, team: str) -> None:
        if team not in rosters.teams():
            raise HTTPException(404, f"unknown team {team!r}")
        if not rosters.may_see_team(principal, team):
            raise HTTPException(403, f"team {team!r} is another team")

    def body(r) -> dict:
        return {
            "team": r.team,
            "version": r.version,
            "updated_by": r.updated_by,
            "updated_at": r.updated_at.isoformat(),
            "roster": r.body,
        }

    @router.get("/rosters/{team}", summary="A team's shifts: weekly pattern and exceptions (lead)")
    async def get_roster(team: str, principal: Any = caller) -> dict:
        check(principal, team)
        r = await rosters.store.get(team)
        if r is None:
            raise HTTPException(404, f"team {team!r} has no roster yet; PUT one")
        return body(r)

    @router.put("/rosters/{team}", summary="Replace a team's shifts (lead)")
    async def put_roster(team: str, roster: RosterIn, principal: Any = caller) -> dict:
        check(principal, team)
        by = getattr(principal, "subject", str(principal))
        try:
            r = await rosters.store.put(team, roster.document(), by=by, at=rosters.clock())
        except PlanningError as exc:
            raise HTTPException(422, f"roster of team {team!r}: {exc}") from None
        return body(r)
