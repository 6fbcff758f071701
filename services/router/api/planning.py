"""Workload forecast and staffing for leads (``/v1/forecast``, ``/v1/staffing``) over the
router's own arrival history, and the hourly job that recomputes and stores the forecasts.

A queue's staffing target comes from the routing configuration: its SLA is the tightest
``normal``-urgency SLA of the channels (near-live channels: 15–20 minutes), and 80 % of the
items are to be answered within it; the what-if parameters of a request override any of them
(target share, SLA, handling time, concurrency, shrinkage, occupancy cap, patience). Handling
times are the mean handling of the queue's handled items; a queue without any gets a 422 that
says so. Tag-only work is staffed with ``ROUTER_PLANNING_TAG_ONLY_HANDLING_S`` (per queue) or
``ROUTER_PLANNING_TAG_ONLY_DEFAULT_S`` seconds per message (0: not staffed).

Forecasts are stored in ``router_planning_forecasts`` (every replica serves the same rows) and
rosters in ``router_planning_rosters``; both tables come with migration ``0012_router_planning``.
The planning package's pure parts open no database and read no settings; this module hands them
the router's data.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from fastapi import APIRouter

from services.router.api.deps import Api, role
from services.router.auth import Principal
from services.router.planning.erlang import StaffingTarget
from services.router.planning.history import read_history
from services.router.planning.http import Rosters, planning_router
from services.router.planning.sqlstore import RosterStore, SqlForecastStore
from services.router.planning.store import refresh
from shared.events import Urgency

HISTORY_DAYS = 56  # eight weeks: enough for the weekly methods' backtest
INTERVAL_S = 1800
TARGET_SHARE = 0.8
REFRESH_S = 3600.0


class Planning:
    """The router's side of planning: history, targets, handling times, the forecast store."""

    def __init__(self, api: Api, clock: Callable[[], datetime]) -> None:
        self.api, self.clock = api, clock
        self.store = SqlForecastStore(api.sessions)
        self.rosters = RosterStore(api.sessions)

    @property
    def _config(self):
        return self.api.runtime.dispatcher.state.config

    def _queue_ids(self) -> list[str]:
        return [q.id for q in self._config.queues]

    async def _history(self, queue: str):
        now = self.clock()
        # whole intervals only: a half-counted current interval would read as a dip
        now = datetime.fromtimestamp(now.timestamp() // INTERVAL_S * INTERVAL_S, tz=now.tzinfo)
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

    def tag_only_s(self, queue: str) -> float:
        settings = self.api.runtime.settings
        return settings.planning_tag_only_handling_s.get(
            queue, settings.planning_tag_only_default_s
        )

    async def handling_times(self, queue: str):
        return (await self._history(queue)).handling(tag_only_s=self.tag_only_s(queue))

    async def handling_sample(self, queue: str):
        return (await self._history(queue)).handling_sample

    def _team_of(self, queue: str) -> str | None:
        return next((q.team for q in self._config.queues if q.id == queue), None)

    async def roster_of(self, queue: str):
        team = self._team_of(queue)
        stored = await self.rosters.get(team) if team else None
        return None if stored is None else stored.roster

    def teams(self) -> set[str]:
        return {t.id for t in self._config.teams}

    def may_see_team(self, principal: Principal, team: str) -> bool:
        return principal.team is None or principal.team == team

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
        owner = self._team_of(queue)
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
            roster_of=self.roster_of,
            handling_sample=self.handling_sample,
            rosters=Rosters(self.rosters, self.teams, self.may_see_team, self.clock),
        )
