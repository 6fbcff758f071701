"""Connector health: per configured source, the time of its last event and its error counts,
kept in this process and mirrored in Prometheus (``switchboard_ingestor_source_*``).

``GET /v1/sources`` shows this replica's view; across replicas, alert on the Prometheus series
(``max by (source)`` of the last-event gauge).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from services.ingestor.metrics import LAST_EVENT, SOURCE_ERRORS

_SUCCESS = {"accepted", "duplicate", "ignored", "skipped", "verified"}


@dataclass
class SourceState:
    platform: str
    last_event_at: float | None = None
    messages: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    last_error_at: float | None = None


class SourceHealth:
    """In-memory health of each configured source (name -> platform)."""

    def __init__(self, sources: dict[str, str], clock=time.time) -> None:
        self._states = {name: SourceState(platform) for name, platform in sorted(sources.items())}
        self._clock = clock
        self.listeners: list = []  # callables (source, messages, error) -> None: the silence watch

    def listen(self, listener) -> None:
        """Also tell ``listener(source, messages, error)`` of every event or error (must not do I/O)."""
        self.listeners.append(listener)

    def observe(self, source: str, outcome: str, messages: int = 0) -> None:
        """Record one answered request of ``source`` (unknown sources are ignored)."""
        state = self._states.get(source)
        if state is None:
            return
        now = self._clock()
        if messages:
            state.last_event_at, state.messages = now, state.messages + messages
            LAST_EVENT.labels(source).set(now)
        if outcome not in _SUCCESS:
            state.errors[outcome] = state.errors.get(outcome, 0) + 1
            state.last_error_at = now
            SOURCE_ERRORS.labels(source, outcome).inc()
        if self.listeners and (messages or outcome not in _SUCCESS):
            for listener in self.listeners:
                listener(source, messages, outcome not in _SUCCESS)

    def snapshot(self) -> list[dict]:
        """One JSON-able row per source, by name."""
        return [
            {
                "source": name,
                "platform": s.platform,
                "last_event_at": _iso(s.last_event_at),
                "messages": s.messages,
                "errors": dict(s.errors),
                "last_error_at": _iso(s.last_error_at),
            }
            for name, s in self._states.items()
        ]


def _iso(stamp: float | None) -> str | None:
    from datetime import UTC, datetime

    return None if stamp is None else datetime.fromtimestamp(stamp, UTC).isoformat()
