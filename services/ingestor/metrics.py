"""Prometheus metrics of the ingestor (process-wide registry, served on ``/metrics``).

Label values are bounded: ``source`` is a configured source name or ``unknown``; ``outcome``
and ``kind`` come from fixed sets in the code, and a ``kind`` named by a payload passes through
``bounded`` (at most ``MAX_KINDS`` distinct values, then ``other``).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

MAX_KINDS = 100
_kinds: set[str] = set()

REQUESTS = Counter(
    "switchboard_ingestor_requests_total",
    "Webhook requests by source and outcome",
    ["source", "outcome"],
)
PRODUCE_LATENCY = Histogram(
    "switchboard_ingestor_produce_seconds",
    "Time from send to broker acknowledgement (or failure)",
    ["kind", "outcome"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
IGNORED_EVENTS = Counter(
    "switchboard_ingestor_ignored_events_total",
    "Verified webhook events of a type the ingestor does not handle (accepted, dead-lettered)",
    ["source"],
)
INVALID_ITEMS = Counter(
    "switchboard_ingestor_invalid_items_total",
    "Malformed items of verified deliveries (the other items published; each dead-lettered once)",
    ["source"],
)
SKIPPED_EVENTS = Counter(
    "switchboard_ingestor_skipped_events_total",
    "Verified entries skipped on purpose (delivery statuses, read receipts, own echoes, reactions)",
    ["source", "kind"],
)
MESSAGES = Counter(
    "switchboard_ingestor_messages_total",
    "Platform messages by source and result (accepted, duplicate)",
    ["source", "result"],
)
LAST_EVENT = Gauge(
    "switchboard_ingestor_source_last_event_timestamp_seconds",
    "Unix time of the last verified webhook that carried at least one message, per source",
    ["source"],
)
SOURCE_ERRORS = Counter(
    "switchboard_ingestor_source_errors_total",
    "Refused or failed webhook requests per source (unauthorized, malformed, invalid, unavailable, …)",
    ["source", "outcome"],
)


def bounded(kind: str) -> str:
    """``kind`` as a label value, or ``other`` once ``MAX_KINDS`` distinct kinds were seen."""
    kind = kind[:64]
    if kind in _kinds:
        return kind
    if len(_kinds) < MAX_KINDS:
        _kinds.add(kind)
        return kind
    return "other"
