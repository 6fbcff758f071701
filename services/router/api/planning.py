"""Workload forecast and staffing for leads (``/v1/forecast``, ``/v1/staffing``) over the
router's own arrival history, and the hourly job that recomputes and stores the forecasts.

A queue's staffing target comes from the routing configuration: its SLA is the tightest
``normal``-urgency SLA of the channels (near-live channels: 15–20 minutes), and 80 % of the
items are to be answered within it; the what-if parameters of a request override any of them
(target share, SLA, handling time, concurrency, shrinkage, occupancy cap, patience). Handling
times are the mean first-response handling of the queue's answered items; a queue without any
gets a 422 that says so. The planning package itself (``services.router.planning``) opens no
database and reads no settings; this module hands it the router's data.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from fastapi import APIRouter

from services.router.api.deps import Api, role
from services.router.auth import Principal
from services.router.planning.erlang import StaffingTarget
from services.router.planning.history import read_history
from services.router.planning.http import planning_router
from services.router.planning.store import MemoryStore, refresh
from shared.events import Urgency

HISTORY_DAYS = 56  # eight weeks: enough for the weekly methods' backtest
INTERVAL_S = 1800
TARGET_SHARE = 0.8
REFRESH_S = 3600.0


class Planning:
    """The router's side of planning: history, targets, handling times, the forecast store."""

    def __init__(self, api: Api, clock: Callable[[], datetime]) -> None:
        self.api, self.clock, self.store = api, clock, MemoryStore()

    @property
    def _config(self):
        return self.api.runtime.dispatcher.state.config

    def _queue_ids(self) -> list[str]:
        return [q.id for q in self._config.queues]

    async def _history(self, queue: str):
        now = self.clock()
        since = (now - timedelta(days=HISTORY_DAYS)).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        return await read_history(
            self.api.sessions, queue, since=since, until=now, interval_s=INTERVAL_S
        )

    async def history(self, queue: str):
        if queue not in self._queue_ids():
            return None
        return (await self._history(queue)).series()

    async def handling_times(self, queue: str):
        return (await self._history(queue)).handling()

    async def targets(self, queue: str) -> StaffingTarget | None:
        minutes = [
            m[Urgency.NORMAL] for m in self._config.sla.minutes.values() if Urgency.NORMAL in m
        ]
        if not minutes:
            return None
        return StaffingTarget(sla_s=min(minutes) * 60.0, target=TARGET_SHARE, aht_s=0.0)

    def is_special(self, day) -> bool:
        return self.api.runtime.dispatcher.state.calendar.holiday(day) is not None

    def may_see(self, principal: Principal, queue: str) -> bool:
        if principal.team is None:
            return True
        owner = next((q.team for q in self._config.queues if q.id == queue), None)
        return owner is None or owner == principal.team

    async def refresh(self) -> dict[str, str]:
        """Recompute and store every queue's forecasts (the router runs it hourly)."""
        return await refresh(
            self._queue_ids(),
            history=self.history,
            store=self.store,
            now=self.clock(),
            is_special=self.is_special,
        )

    def router(self) -> APIRouter:
        """The planning routes; the app includes them with ``bound(api)`` so ``role`` finds the
        token store like every other route."""
        return planning_router(
            history=self.history,
            targets=self.targets,
            handling_times=self.handling_times,
            lead=role("lead"),
            store=self.store,
            is_special=self.is_special,
            may_see=self.may_see,
            clock=self.clock,
            max_age=timedelta(seconds=2 * REFRESH_S),
        )
