"""``make bench``: figures as ratios against baselines measured in the same run.

Every module of this package that defines ``async def measure(bootstrap: str) -> list[dict]``
is a benchmark; each returns rows made with ``bench.report.row``. All rows are printed as a
table and written to ``bench/results.json`` (a list of {name, value, unit, baseline_name,
baseline_value, ratio}). ``python -m bench e2e`` runs only the named modules and keeps the
other figures already in the file.
Load knobs: BENCH_RATE (messages/s offered), BENCH_SECONDS, BENCH_BURST (unpaced messages).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import pkgutil
import sys
from pathlib import Path

import bench
from tools.devbroker import EmbeddedBroker

RESULTS = Path(__file__).resolve().parent / "results.json"


def modules(only: list[str]) -> list:
    found = []
    for info in sorted(pkgutil.iter_modules(bench.__path__), key=lambda i: i.name):
        if info.name.startswith("_") or (only and info.name not in only):
            continue
        module = importlib.import_module(f"bench.{info.name}")
        if hasattr(module, "measure"):
            found.append(module)
    return found


async def measure_all(bootstrap: str, only: list[str]) -> list[dict]:
    rows: list[dict] = []
    for module in modules(only):
        print(f"running {module.__name__} …", file=sys.stderr, flush=True)
        rows.extend(await module.measure(bootstrap))
    return rows


def print_table(rows: list[dict]) -> None:
    print(
        f"{'figure':<44} {'value':>10} {'unit':<9} {'baseline':<34} {'baseline':>10} {'ratio':>8}"
    )
    for r in rows:
        print(
            f"{r['name']:<44} {r['value']:>10.2f} {r['unit']:<9} {r['baseline_name']:<34} "
            f"{r['baseline_value']:>10.2f} {'-' if r['ratio'] is None else format(r['ratio'], '.3f'):>8}"
        )


def merged(rows: list[dict], partial: bool) -> list[dict]:
    """A full run replaces the file; a partial one (``python -m bench e2e``) replaces only the
    figures it measured and keeps the others."""
    if not partial or not RESULTS.exists():
        return rows
    fresh = {r["name"] for r in rows}
    return [r for r in json.loads(RESULTS.read_text()) if r["name"] not in fresh] + rows


def main(argv: list[str]) -> int:
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        rows = asyncio.run(measure_all(external, argv))
    else:
        with EmbeddedBroker() as b:
            rows = asyncio.run(measure_all(b.bootstrap_servers, argv))
    print_table(rows)
    RESULTS.write_text(
        json.dumps(merged(rows, partial=bool(argv)), indent=2, allow_nan=False) + "\n"
    )
    print(f"\nwritten to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
