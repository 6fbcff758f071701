"""``python -m services.router.planning``: forecast and staff from a CSV of arrivals, or run the
evaluation on the research data set.

    python -m services.router.planning plan arrivals.csv --aht-s 240 --sla-s 900 --target 0.8 \\
        --days 7 --out var/plan [--volume-factor 2 --window-start 2025-03-04T18:00] [--roster shifts.yaml]
    python -m services.router.planning evaluate [--data ../shared/datasets/callcenter-anonymous-bank]

``plan`` writes ``plan.csv`` (one row per queue and interval) and ``<queue>.png`` (or ``.svg``)
into ``--out`` and prints a summary per queue; progress goes to stderr. Exit status 2 with a
sentence when the input cannot give an answer (too little history, no handling time, an
impossible target).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from services.router.planning import csvio
from services.router.planning.erlang import StaffingTarget
from services.router.planning.errors import PlanningError
from services.router.planning.forecast import Options
from services.router.planning.service import answer, forecast_workloads
from services.router.planning.whatif import Scenario

DEFAULT_DATA = (
    Path(__file__).resolve().parents[4] / "shared" / "datasets" / "callcenter-anonymous-bank"
)


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m services.router.planning", description=__doc__.split("\n\n")[0]
    )
    sub = p.add_subparsers(dest="command", required=True)
    plan = sub.add_parser("plan", help="forecast and staff from a CSV of arrivals")
    plan.add_argument("csv", type=Path)
    plan.add_argument("--out", type=Path, default=Path("var/planning"))
    plan.add_argument("--interval-min", type=int, default=30, choices=(15, 30, 60))
    plan.add_argument("--days", type=int, default=7, help="horizon, 1-14 days")
    plan.add_argument("--tz", default="UTC", help="time zone of naive times and of the roster")
    plan.add_argument("--queue", action="append", help="only these queues (repeatable)")
    plan.add_argument(
        "--aht-s", type=float, help="mean handling seconds (else the file's handle_s column)"
    )
    plan.add_argument("--sla-s", type=float, default=20.0, help="answer within this many seconds")
    plan.add_argument("--target", type=float, default=0.8, help="share answered within --sla-s")
    plan.add_argument("--patience-s", type=float, help="mean patience: Erlang A instead of C")
    plan.add_argument("--concurrency", type=int, default=1, help="conversations per agent at once")
    plan.add_argument("--shrinkage", type=float, default=0.0)
    plan.add_argument("--max-occupancy", type=float, default=1.0)
    plan.add_argument(
        "--reliability",
        type=float,
        help="meet the target in this share of intervals (e.g. 0.95), checked by simulation "
        "(slower); default: staff to the expected service level",
    )
    plan.add_argument(
        "--holidays",
        metavar="COUNTRY",
        help="public holidays of this country (ISO code) as special days",
    )
    plan.add_argument(
        "--library",
        action="store_true",
        help="also try statsforecast's MSTL (slow: seconds per fit)",
    )
    plan.add_argument(
        "--start", type=datetime.fromisoformat, help="staff from (default: forecast start)"
    )
    plan.add_argument("--end", type=datetime.fromisoformat, help="staff until")
    plan.add_argument("--roster", type=Path, help="shifts (YAML) to count against the requirement")
    plan.add_argument("--plot-format", choices=("png", "svg"), default="png")
    for name, kind in (
        ("volume-factor", float),
        ("window-start", datetime.fromisoformat),
        ("window-end", datetime.fromisoformat),
        ("whatif-aht-s", float),
        ("whatif-sla-s", float),
        ("whatif-target", float),
        ("whatif-concurrency", int),
        ("whatif-shrinkage", float),
    ):
        plan.add_argument(f"--{name}", type=kind, help="what-if")
    ev = sub.add_parser(
        "evaluate", help="the forecast and staffing evaluation on the research data"
    )
    ev.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ev.add_argument("--out", type=Path, default=Path("eval/planning.json"))
    ev.add_argument(
        "--library", action="store_true", help="also score statsforecast's MSTL alone (minutes)"
    )
    return p


def _aware(t: datetime | None, tz: str) -> datetime | None:
    return None if t is None or t.tzinfo else (t.replace(tzinfo=ZoneInfo(tz)))


def _scenario(a: argparse.Namespace) -> Scenario:
    return Scenario(
        volume_factor=a.volume_factor or 1.0,
        window_start=_aware(a.window_start, a.tz),
        window_end=_aware(a.window_end, a.tz),
        aht_s=a.whatif_aht_s,
        sla_s=a.whatif_sla_s,
        target=a.whatif_target,
        concurrency=a.whatif_concurrency,
        shrinkage=a.whatif_shrinkage,
    )


def _special(country: str | None):
    if not country:
        return None
    import holidays

    table = holidays.country_holidays(country)
    return lambda d: d in table


def _rows(queue: str, ans) -> list[dict]:
    f = ans.forecasts.get("reply") or next(iter(ans.forecasts.values()))
    offset = (
        int((ans.baseline.rows[0].start - f.start).total_seconds() // f.interval_s)
        if ans.baseline.rows
        else 0
    )
    out = []
    for i, r in enumerate(ans.baseline.rows):
        row = {
            "queue": queue,
            "start": r.start.isoformat(),
            "forecast": round(r.volume, 2),
            "lower": round(float(sum(fc.lower[offset + i] for fc in ans.forecasts.values())), 2),
            "upper": round(float(sum(fc.upper[offset + i] for fc in ans.forecasts.values())), 2),
            "agents": r.agents,
            "scheduled": r.scheduled,
            "service_level": round(r.service_level, 4),
            "abandonment": round(r.abandonment, 4),
            "occupancy": round(r.occupancy, 4),
        }
        if ans.scenario is not None:
            row["whatif_scheduled"] = ans.scenario.rows[i].scheduled
        if ans.rostered is not None:
            row["rostered"] = int(ans.rostered[i])
        out.append(row)
    return out


def plan(a: argparse.Namespace) -> int:
    from services.router.planning import plot
    from services.router.planning.shifts import parse_roster

    arrivals = csvio.read(a.csv, interval_s=a.interval_min * 60, tz=a.tz)
    queues = [q for q in arrivals.series if not a.queue or q in a.queue]
    if not queues:
        raise PlanningError(
            f"none of the queues {a.queue} is in {a.csv} (it has {', '.join(arrivals.series)})"
        )
    roster = None
    if a.roster:
        import yaml

        roster = parse_roster(yaml.safe_load(a.roster.read_text()))
    rows, started = [], time.monotonic()
    for k, queue in enumerate(queues, 1):
        aht = a.aht_s or arrivals.handle_s.get(queue)
        if aht is None:
            raise PlanningError(
                f"queue {queue!r} has no handling time: pass --aht-s or add a handle_s column"
            )
        target = StaffingTarget(
            sla_s=a.sla_s,
            target=a.target,
            aht_s=aht,
            patience_s=a.patience_s,
            concurrency=a.concurrency,
            shrinkage=a.shrinkage,
            max_occupancy=a.max_occupancy,
            reliability=a.reliability,
        )
        series = arrivals.series[queue]
        fcs = forecast_workloads(
            {"reply": series},
            days=a.days,
            options=Options(use_library=a.library),
            is_special=_special(a.holidays),
        )
        ans = answer(
            queue,
            forecasts=fcs,
            handling_s={"reply": aht},
            target=target,
            scenario=_scenario(a),
            start=_aware(a.start, a.tz),
            end=_aware(a.end, a.tz),
            roster=roster,
        )
        rows.extend(_rows(queue, ans))
        plot.draw(a.out / f"{queue}.{a.plot_format}", series, ans)
        _summary(queue, ans)
        _progress(f"[{k}/{len(queues)}] {queue} done, {time.monotonic() - started:.1f} s")
    csvio.write_plan(a.out / "plan.csv", rows)
    print(f"written {a.out / 'plan.csv'} and {len(queues)} plot(s) in {a.out}")
    return 0


def _summary(queue: str, ans) -> None:
    f = ans.forecasts["reply"]
    print(
        f"{queue}: method {f.method}; {ans.baseline.agent_hours:.1f} agent-hours, peak {ans.baseline.peak}"
        + (
            f"; what-if {ans.scenario.agent_hours:.1f} agent-hours, peak {ans.scenario.peak}"
            if ans.scenario
            else ""
        )
    )
    for note in f.notes:
        print(f"  note: {note}")
    gaps = ans.gaps()
    if gaps:
        print(
            f"  {len(gaps)} interval(s) short of the requirement, worst {max(g.short for g in gaps)} agent(s)"
        )


def evaluate(a: argparse.Namespace) -> int:
    from services.router.planning import evaluate as ev

    if not (a.data / "arrivals-6min-1999-01-09.csv").exists():
        print(
            f"skipped: the research data set is not at {a.data} (see /work/shared/datasets/README.md)"
        )
        return 0
    result = ev.run(a.data, a.out, progress=_progress, library=a.library)
    print(ev.table(result))
    print(f"written {a.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return plan(args) if args.command == "plan" else evaluate(args)
    except PlanningError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
