"""Prometheus metrics shared by every service (one process-wide registry)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

MESSAGES_IN = Counter(
    "switchboard_messages_in_total", "Records polled from a topic", ["service", "topic"]
)
MESSAGES_OUT = Counter(
    "switchboard_messages_out_total", "Events produced and acknowledged", ["service", "topic"]
)
DEAD_LETTERED = Counter(
    "switchboard_dead_lettered_total",
    "Poison messages sent to a dead-letter topic",
    ["service", "topic", "reason"],
)
ERRORS = Counter(
    "switchboard_errors_total", "Errors by kind (transient, fatal, commit)", ["service", "kind"]
)
RETRIES = Counter(
    "switchboard_retries_total", "Stage attempts retried after a transient error", ["service"]
)
STAGE_LATENCY = Histogram(
    "switchboard_stage_seconds",
    "Time spent in the service's stage per message",
    ["service"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
END_TO_END_LATENCY = Histogram(
    "switchboard_event_age_seconds",
    "Age of an event (now - event time) when a stage finished",
    ["service"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
CONSUMER_LAG = Gauge(
    "switchboard_consumer_lag",
    "High watermark minus next offset to process",
    ["service", "topic", "partition"],
)
COMMITS = Counter("switchboard_commits_total", "Offset commits", ["service"])
