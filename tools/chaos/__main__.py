"""``make chaos`` / ``python -m tools.chaos [--quick] [--scenario NAME ...]``: run the chaos
scenarios, print the table and write it to ``bench/chaos.json`` (``--out``)."""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path

from shared.settings import ROOT
from tools.chaos import trial
from tools.chaos.faults import BY_NAME, SCENARIOS
from tools.pgcluster import PrivatePostgres

OUT = ROOT / "bench" / "chaos.json"
VAR = ROOT / "var" / "chaos"  # each scenario's service logs, kept until the next run
COLUMNS = (
    ("scenario", 20),
    ("sent", 6),
    ("answered_2xx", 13),
    ("routed", 7),
    ("lost", 5),
    ("doubled", 8),
    ("caught_up_s", 12),
    ("first_new_s", 12),
)


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def table(rows: list[dict]) -> str:
    def cell(value) -> str:
        return "-" if value is None else str(value)

    lines = [" ".join(f"{name:>{width}}" for name, width in COLUMNS)]
    for row in rows:
        lines.append(" ".join(f"{cell(row.get(name)):>{width}}" for name, width in COLUMNS))
    return "\n".join(lines)


async def run_all(names: list[str], options: trial.Options, var_dir: Path) -> list[dict]:
    """Each scenario in turn, on one private PostgreSQL; logs under ``var_dir/<scenario>``."""
    rows = []
    shutil.rmtree(var_dir, ignore_errors=True)
    with PrivatePostgres() as pg:
        say(f"private PostgreSQL at {pg.url}; logs under {var_dir}")
        for name in names:
            scenario = BY_NAME[name]
            say(f"{name}: {scenario.what}")
            started = time.monotonic()
            row = await trial.run(scenario, options, pg, var_dir / name, say)
            row["trial_s"] = round(time.monotonic() - started, 1)
            say(
                f"  {name}: {row['answered_2xx']} answered 2xx, lost {row['lost']}, "
                f"doubled {row['doubled']}, caught up {row['caught_up_s']}s"
            )
            rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.chaos", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="seconds, not minutes, per scenario")
    parser.add_argument(
        "--scenario", action="append", choices=sorted(BY_NAME), help="repeatable; default: all"
    )
    parser.add_argument("--rate", type=float, help="deliveries per second")
    parser.add_argument("--seconds", type=float, help="seconds of load per scenario")
    parser.add_argument("--fault-at", type=float, help="seconds into the load")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--var", type=Path, default=VAR, help="where the logs go")
    args = parser.parse_args(argv)
    options = trial.QUICK if args.quick else trial.Options()
    for name in ("rate", "seconds", "fault_at"):
        if getattr(args, name) is not None:
            options = replace(options, **{name: getattr(args, name)})
    names = args.scenario or [scenario.name for scenario in SCENARIOS]
    rows = asyncio.run(run_all(names, options, args.var))
    print(table(rows))
    args.out.write_text(json.dumps({"options": vars(options), "scenarios": rows}, indent=2) + "\n")
    print(f"\nwritten to {args.out}")
    failed = [r["scenario"] for r in rows if r["lost"] or r["doubled"] or r["stack_failed"]]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
