"""Prometheus metrics of the ingestor (process-wide registry, served on ``/metrics``).

Label values are bounded: ``source`` is a configured source name or ``unknown``; ``outcome``
and ``kind`` come from fixed sets in the code, never from request content.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUESTS = Counter(
    "switchboard_ingestor_requests_total", "Webhook requests by source and outcome",
    ["source", "outcome"],
)
PRODUCE_LATENCY = Histogram(
    "switchboard_ingestor_produce_seconds", "Time from send to broker acknowledgement (or failure)",
    ["kind", "outcome"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
IGNORED_EVENTS = Counter(
    "switchboard_ingestor_ignored_events_total",
    "Verified webhook events of a type the ingestor does not handle (accepted, dead-lettered)",
    ["source"],
)
