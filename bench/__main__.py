"""``make bench``: figures as ratios against baselines measured in the same run.

Writes ``bench/results.json``: a list of {name, value, unit, baseline_name, baseline_value, ratio}.
Set BENCH_RATE (messages/s offered), BENCH_SECONDS and BENCH_BURST (unpaced messages) to change the load.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path

from bench import broker, pipeline
from shared.broker import EmbeddedBroker

RESULTS = Path(__file__).resolve().parent / "results.json"
RSS_BUDGET_MB = {"ingestor": 200, "classifier": 600, "router": 200, "notifier": 200}


def row(name, value, unit, baseline_name, baseline_value) -> dict:
    ratio = value / baseline_value if baseline_value else float("nan")
    return {"name": name, "value": round(value, 4), "unit": unit, "baseline_name": baseline_name,
            "baseline_value": round(baseline_value, 4), "ratio": round(ratio, 4)}


async def measure(bootstrap: str) -> list[dict]:
    rate = float(os.environ.get("BENCH_RATE", "50"))
    seconds = float(os.environ.get("BENCH_SECONDS", "20"))
    burst = int(os.environ.get("BENCH_BURST", "2000"))
    raw_rate = await broker.produce_consume_rate(bootstrap, count=int(rate * seconds))
    rt50, rt99 = await broker.round_trip_latency(bootstrap)
    with tempfile.TemporaryDirectory() as tmp:
        result = await pipeline.run(bootstrap, Path(tmp), rate, seconds, burst)
    paced, burst_ = result.paced, result.burst
    rows = [
        row("e2e_throughput_at_offered_rate", paced.throughput, "msg/s", "offered_rate", rate),
        row("e2e_routed_share_paced", paced.routed, "messages", "accepted_webhooks", paced.sent),
        row("e2e_latency_p50_at_offered_rate", paced.p50 * 1000, "ms", "broker_round_trip_p50", rt50 * 1000),
        row("e2e_latency_p99_at_offered_rate", paced.p99 * 1000, "ms", "broker_round_trip_p99", rt99 * 1000),
        row("e2e_peak_throughput_webhook_to_routed", burst_.throughput, "msg/s",
            "broker_produce_consume_rate", raw_rate),
        row("e2e_routed_share_burst", burst_.routed, "messages", "accepted_webhooks", burst_.sent),
    ]
    for name, budget in RSS_BUDGET_MB.items():
        rows.append(row(f"peak_rss_{name}", result.peak_rss_mb.get(name, float("nan")), "MB", f"budget_{name}", budget))
    return rows


def print_table(rows: list[dict]) -> None:
    print(f"{'figure':<36} {'value':>10} {'unit':<8} {'baseline':<30} {'baseline':>10} {'ratio':>8}")
    for r in rows:
        print(f"{r['name']:<36} {r['value']:>10.2f} {r['unit']:<8} {r['baseline_name']:<30} "
              f"{r['baseline_value']:>10.2f} {r['ratio']:>8.3f}")


def main() -> int:
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        rows = asyncio.run(measure(external))
    else:
        with EmbeddedBroker() as b:
            rows = asyncio.run(measure(b.bootstrap_servers))
    print_table(rows)
    RESULTS.write_text(json.dumps(rows, indent=2) + "\n")
    print(f"\nwritten to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
