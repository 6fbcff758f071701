"""Stored forecasts, recomputed on a schedule rather than on every request.

``ForecastStore`` is the interface; the router uses ``sqlstore.SqlForecastStore`` (a table, so
a restarted router or a second replica serves the same figures); ``MemoryStore`` and
``JsonFileStore`` (one JSON document, replaced atomically) serve tests and the CLI.
Entries are keyed ``queue:workload`` (``reply``, ``tag-only``) and ``queue:channel:<channel>``.

``refresh`` recomputes every queue's forecast (CPU work in a worker thread, so an event loop
keeps serving) and records a queue's failure as its message instead of stopping the others.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Protocol

import numpy as np

from services.router.planning.errors import PlanningError
from services.router.planning.forecast import Forecast, Options, Series


@dataclass(frozen=True)
class StoredForecast:
    queue: str
    computed_at: datetime
    forecast: Forecast | None
    error: str | None = None


class ForecastStore(Protocol):
    async def get(self, queue: str) -> StoredForecast | None: ...

    async def put(self, stored: StoredForecast) -> None: ...

    async def of_queue(self, queue: str) -> list[StoredForecast]:
        """Every entry whose key starts with ``queue:``."""
        ...


def series_key(queue: str, name: str) -> str:
    return f"{queue}:{name}"


def queue_of(key: str) -> str:
    return key.split(":", 1)[0]


def to_dict(s: StoredForecast) -> dict:
    f = s.forecast
    body = (
        None
        if f is None
        else {
            "start": f.start.isoformat(),
            "interval_s": f.interval_s,
            "method": f.method,
            "mean": [round(float(x), 4) for x in f.mean],
            "lower": [round(float(x), 4) for x in f.lower],
            "upper": [round(float(x), 4) for x in f.upper],
            "backtest_wape": f.backtest_wape,
            "notes": list(f.notes),
        }
    )
    return {
        "queue": s.queue,
        "computed_at": s.computed_at.isoformat(),
        "forecast": body,
        "error": s.error,
    }


def from_dict(d: dict) -> StoredForecast:
    f = d.get("forecast")
    fc = (
        None
        if f is None
        else Forecast(
            datetime.fromisoformat(f["start"]),
            int(f["interval_s"]),
            np.array(f["mean"]),
            np.array(f["lower"]),
            np.array(f["upper"]),
            f["method"],
            dict(f["backtest_wape"]),
            tuple(f["notes"]),
        )
    )
    return StoredForecast(d["queue"], datetime.fromisoformat(d["computed_at"]), fc, d.get("error"))


class MemoryStore:
    def __init__(self) -> None:
        self._rows: dict[str, StoredForecast] = {}

    async def get(self, queue: str) -> StoredForecast | None:
        return self._rows.get(queue)

    async def put(self, stored: StoredForecast) -> None:
        self._rows[stored.queue] = stored

    async def of_queue(self, queue: str) -> list[StoredForecast]:
        return [v for k, v in sorted(self._rows.items()) if queue_of(k) == queue]


class JsonFileStore:
    """All queues in one JSON file; each ``put`` rewrites it through a temporary file + rename."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = asyncio.Lock()

    def _read(self) -> dict:
        return json.loads(self.path.read_text()) if self.path.exists() else {}

    async def get(self, queue: str) -> StoredForecast | None:
        row = self._read().get(queue)
        return from_dict(row) if row else None

    async def of_queue(self, queue: str) -> list[StoredForecast]:
        return [from_dict(v) for k, v in sorted(self._read().items()) if queue_of(k) == queue]

    async def put(self, stored: StoredForecast) -> None:
        async with self._lock:
            rows = self._read()
            rows[stored.queue] = to_dict(stored)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp")
            with os.fdopen(fd, "w") as fh:
                json.dump(rows, fh)
            os.replace(tmp, self.path)


async def refresh(
    queues: Iterable[str],
    *,
    history: Callable[[str], Awaitable[Mapping[str, Series] | None]],
    store: ForecastStore,
    now: datetime,
    days: int = 14,
    options: Options = Options(),
    is_special: Callable[[date], bool] | None = None,
) -> dict[str, str]:
    """Recompute and store each queue's forecasts, one entry per workload keyed ``queue:workload``;
    returns ``queue:workload`` -> "ok" or the reason it failed. One queue's bad data never stops
    the others: its reason is stored (``error``) and returned."""
    from services.router.planning.service import forecast_workloads

    outcome = {}
    for queue in queues:
        series = await history(queue) or {}
        for name, s in series.items():
            key = f"{queue}:{name}"
            try:
                fc = await asyncio.to_thread(
                    forecast_workloads, {name: s}, days=days, options=options, is_special=is_special
                )
                await store.put(StoredForecast(key, now, fc[name]))
                outcome[key] = "ok"
            except PlanningError as exc:
                await store.put(StoredForecast(key, now, None, str(exc)))
                outcome[key] = str(exc)
    return outcome


async def refresh_periodically(
    period_s: float,
    *,
    queues: Callable[[], Awaitable[Iterable[str]]],
    clock: Callable[[], datetime],
    stop: asyncio.Event,
    **kwargs,
) -> int:
    """Run ``refresh`` every ``period_s`` seconds until ``stop`` is set (e.g. from the router's
    lifespan on shutdown); returns how many rounds ran. ``kwargs`` go to ``refresh``."""
    rounds = 0
    while not stop.is_set():
        await refresh(await queues(), now=clock(), **kwargs)
        rounds += 1
        try:
            await asyncio.wait_for(stop.wait(), timeout=period_s)
        except TimeoutError:
            pass
    return rounds
