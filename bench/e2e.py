"""End-to-end figures: webhook → routed topic through the four real services, beside the bare
broker's rates, and each service's peak resident memory beside its budget."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from bench import broker, pipeline
from bench.report import row

RSS_BUDGET_MB = {"ingestor": 200, "classifier": 600, "router": 200, "notifier": 200}


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
        row(
            "e2e_latency_p50_at_offered_rate",
            paced.p50 * 1000,
            "ms",
            "broker_round_trip_p50",
            rt50 * 1000,
        ),
        row(
            "e2e_latency_p99_at_offered_rate",
            paced.p99 * 1000,
            "ms",
            "broker_round_trip_p99",
            rt99 * 1000,
        ),
        row(
            "e2e_peak_throughput_webhook_to_routed",
            burst_.throughput,
            "msg/s",
            "broker_produce_consume_rate",
            raw_rate,
        ),
        row("e2e_routed_share_burst", burst_.routed, "messages", "accepted_webhooks", burst_.sent),
    ]
    for name, budget in RSS_BUDGET_MB.items():
        rows.append(
            row(
                f"peak_rss_{name}",
                result.peak_rss_mb.get(name, float("nan")),
                "MB",
                f"budget_{name}",
                budget,
            )
        )
    return rows
