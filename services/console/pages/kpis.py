"""KPIs and planning (lead role and up): the router's ``/v1/kpis`` drawn whatever fields it
carries (shares per channel and reason, response and resolution times — medians and p90 when the
router reports them —, SLA attained, CSAT, contact reasons), and per queue the forecast (with its
80 % band) and the staffing plan (required vs scheduled agents per interval)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from services.console import charts, present
from services.console.backends import BackendError
from services.console.web import ConsoleDep, needs, render

router = APIRouter()
Lead = needs("lead")


@router.get("/kpis", dependencies=[Lead])
async def kpis_page(request: Request, console: ConsoleDep):
    session = request.state.session
    report = await console.backends.get("router", "/v1/kpis", session.token)
    sections = present.kpi_sections(report)
    for section in sections:
        if section.get("series"):
            section["chart"] = charts.bars(section["title"], section["series"][:20])
    return render(request, "kpis.html", sections=sections)


@router.get("/planning", dependencies=[Lead])
async def planning_page(
    request: Request,
    console: ConsoleDep,
    queue: Annotated[str, Query(max_length=128)] = "",
    days: Annotated[int, Query(ge=1, le=14)] = 2,
):
    session = request.state.session
    queues = sorted(await console.backends.get("router", "/v1/queues", session.token))
    queue = queue if queue in queues else (queues[0] if queues else "")
    forecast = staffing = None
    problem = None
    if queue:
        try:
            forecast = await console.backends.get(
                "router", "/v1/forecast", session.token, queue=queue, days=days
            )
            staffing = await console.backends.get(
                "router", "/v1/staffing", session.token, queue=queue, days=days
            )
        except BackendError as exc:
            if exc.status in (401, 403):
                raise
            problem = f"{exc.service} said: {exc.detail}"
    return render(
        request,
        "planning.html",
        queues=queues,
        queue=queue,
        days=days,
        problem=problem,
        forecast_chart=_forecast_chart(forecast),
        staffing_chart=_staffing_chart(staffing),
        staffing=staffing,
    )


def _label(stamp: str) -> str:
    when = present.parse(stamp)
    return when.strftime("%a %H:%M") if when else stamp


def _forecast_chart(forecast: dict | None):
    if not forecast or not forecast.get("workloads"):
        return None
    rows = forecast["workloads"][0]["intervals"]
    return charts.lines(
        f"Forecast arrivals per interval, {forecast['queue']} (80 % band)",
        [_label(r["start"]) for r in rows],
        {k: [r[k] for r in rows] for k in ("mean", "lower", "upper")},
    )


def _staffing_chart(staffing: dict | None):
    if not staffing or not staffing.get("intervals"):
        return None
    rows = staffing["intervals"]
    series = {"required": [r.get("agents") for r in rows]}
    if any(r.get("scheduled") is not None for r in rows):
        series["scheduled"] = [r.get("scheduled") for r in rows]
    if any(r.get("rostered") is not None for r in rows):
        series["rostered"] = [r.get("rostered") for r in rows]
    return charts.lines(
        f"Agents per interval, {staffing['queue']}: required vs scheduled",
        [_label(r["start"]) for r in rows],
        series,
    )
