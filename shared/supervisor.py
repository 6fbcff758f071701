"""The one service supervisor: a service's consumer runners, periodic jobs and background tasks
under one start/stop path, with a restart policy per runner and the service's liveness and
readiness. Each service configures one instead of writing its own loops.

* A ``RunnerSlot`` holds a ``ConsumerRunner`` (built by its factory). By default a runner that
  gives up stops the whole service: the others are stopped and ``run`` raises ``RunnerFailed``
  (the process exits and the orchestrator restarts it). With a ``Restart`` policy its failure is
  told to ``on_failure``, logged as ``<service>.<slot>_failed`` and a fresh runner starts after a
  doubling backoff; uncommitted offsets are re-read then. Such a runner never stops the service,
  so it does not count for ``live`` or ``ready`` either; the others all must be.
* A ``Periodic`` job runs every ``interval_s`` (or when its ``wake`` event is set); an exception
  is logged and the next round retries: a job never ends the service. An outage of the database
  or the broker (``shared.outage``) is logged when it starts, every 30 s while it lasts and when
  it is over, not at every round.
* A ``Task`` is a coroutine beside them, handed the stop event (or cancelled on stop).
* ``probes`` (``shared.probes.Probes``, settable after construction): probed beside the rest
  while running; ``ready`` also needs the broker and the database to answer. ``live`` does not.

``run()`` awaits ``on_start`` (raising ends it there), runs everything until ``stop()`` or a
fatal runner failure, then waits for runners, jobs and tasks to finish and always awaits
``on_stop``. ``stop()`` returns at once (SIGTERM: runners finish their batch and commit).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from shared.logging import get_logger
from shared.outage import Waiting, unavailable
from shared.probes import Probes
from shared.runner import ConsumerRunner, RunnerFailed

log = get_logger(__name__)
Hook = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Restart:
    """Restart a failed runner after ``first_s``, doubling up to ``most_s`` per failure."""

    first_s: float = 1.0
    most_s: float = 60.0


class RunnerSlot:
    """One supervised runner; ``runner`` is the current one (a restart builds a new one)."""

    def __init__(
        self,
        name: str,
        make: Callable[[], ConsumerRunner],
        *,
        restart: Restart | None = None,
        on_failure: Callable[[RunnerFailed], None] | None = None,
    ) -> None:
        self.name, self.make, self.restart, self.on_failure = name, make, restart, on_failure
        self.runner = make()

    @property
    def vital(self) -> bool:
        """Its failure stops the service (no restart policy), so health counts it."""
        return self.restart is None


@dataclass(frozen=True)
class Periodic:
    """``job`` every ``interval_s`` after a first wait (``at_start``: at once as well), earlier when
    ``wake`` is set; ``final``: once more when the service stops. Failures are logged as
    ``failure`` (default ``<service>.<name>_failed``) at ``level``."""

    name: str
    interval_s: float
    job: Callable[[], Awaitable[object]]
    at_start: bool = False
    final: bool = False
    wake: asyncio.Event | None = None
    failure: str | None = None
    level: str = "warning"


@dataclass(frozen=True)
class Task:
    """``run(stopping)`` beside the runners; it returns once ``stopping`` is set, or, with
    ``cancel``, runs until the supervisor cancels it on stop."""

    name: str
    run: Callable[[asyncio.Event], Coroutine[Any, Any, None]]
    cancel: bool = False


class Supervisor:
    """Runs one service's runners, jobs and tasks; ``run`` until ``stop``. Not thread-safe."""

    def __init__(
        self,
        service: str,
        *,
        runners: Sequence[RunnerSlot] = (),
        jobs: Sequence[Periodic] = (),
        tasks: Sequence[Task] = (),
        on_start: Hook | None = None,
        on_stop: Hook | None = None,
        probes: Probes | None = None,
    ) -> None:
        self.service, self.probes = service, probes
        self.slots, self.jobs, self.tasks = list(runners), list(jobs), list(tasks)
        self.on_start, self.on_stop = on_start, on_stop
        self.stopping = asyncio.Event()

    @property
    def runners(self) -> list[ConsumerRunner]:
        return [slot.runner for slot in self.slots]

    def runner(self, name: str) -> ConsumerRunner:
        """The current runner of slot ``name``. Raises ``KeyError``."""
        for slot in self.slots:
            if slot.name == name:
                return slot.runner
        raise KeyError(name)

    @property
    def live(self) -> bool:
        return all(slot.runner.live for slot in self.slots if slot.vital)

    @property
    def ready(self) -> bool:
        runners = all(slot.runner.ready for slot in self.slots if slot.vital)
        return runners and (self.probes is None or self.probes.ok)

    def stop(self) -> None:
        """Ask everything to finish (runners: their batch, commit, leave). Returns at once."""
        self.stopping.set()
        for slot in self.slots:
            slot.runner.stop()

    async def run(self) -> None:
        """Until ``stop()``; raises ``RunnerFailed`` when a vital runner gave up."""
        if self.on_start is not None:
            await self.on_start()
        try:
            await self._run_all()
        finally:
            if self.on_stop is not None:
                await self.on_stop()

    async def _run_all(self) -> None:
        tasks = list(self.tasks)
        if self.probes is not None:
            tasks.append(Task("readiness", self.probes.run, cancel=True))
        beside = [(job.name, self._spawn(self._every(job), job.name)) for job in self.jobs]
        beside += [(task.name, self._spawn(task.run(self.stopping), task.name)) for task in tasks]
        keeping = [self._spawn(self._keep(slot), slot.name) for slot in self.slots]
        results: list[object] = []
        try:
            if keeping:
                await asyncio.wait(keeping, return_when=asyncio.FIRST_EXCEPTION)
            else:
                await self.stopping.wait()
            self.stop()  # one runner gave up, or all stopped: the rest follow
            results = await asyncio.gather(*keeping, return_exceptions=True)
        finally:
            self.stop()
            await self._finish(beside)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            raise RunnerFailed(str(failures[0])) from failures[0]

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> asyncio.Task:
        return asyncio.create_task(work, name=f"{self.service}:{name}")

    async def _finish(self, beside: list[tuple[str, asyncio.Task]]) -> None:
        cancel = {task.name for task in self.tasks if task.cancel} | {"readiness"}
        for name, task in beside:
            if name in cancel:
                task.cancel()
        for name, task in beside:
            with contextlib.suppress(asyncio.CancelledError):
                try:
                    await task
                except Exception as exc:  # noqa: BLE001 - stopping anyway; say what broke
                    log.error(
                        "supervisor.task_failed",
                        service=self.service,
                        task=name,
                        error=f"{type(exc).__name__}: {exc}",
                    )

    async def _keep(self, slot: RunnerSlot) -> None:
        """Run the slot's runner; restart it on failure when its policy says so."""
        delay = slot.restart.first_s if slot.restart is not None else 0.0
        while not self.stopping.is_set():
            try:
                await slot.runner.run()
                return
            except RunnerFailed as exc:
                if slot.on_failure is not None:
                    slot.on_failure(exc)
                if slot.restart is None:
                    raise
                log.error(f"{self.service}.{slot.name}_failed", error=str(exc), restart_in_s=delay)
                if await self._nap(delay):
                    return
                delay = min(delay * 2, slot.restart.most_s)
            slot.runner = slot.make()

    async def _every(self, job: Periodic) -> None:
        if not job.at_start and await self._nap(job.interval_s, job.wake):
            return
        waiting = Waiting(f"{self.service}:{job.name}")
        while True:
            try:
                await job.job()
            except Exception as exc:  # noqa: BLE001 - the next round retries; the service goes on
                if (gone := unavailable(exc)) is not None:
                    waiting.saw(gone, exc)
                else:
                    getattr(log, job.level)(
                        job.failure or f"{self.service}.{job.name}_failed",
                        error=f"{type(exc).__name__}: {exc}",
                    )
            else:
                waiting.over()
            if self.stopping.is_set():
                return
            if await self._nap(job.interval_s, job.wake) and not job.final:
                return

    async def _nap(self, seconds: float, wake: asyncio.Event | None = None) -> bool:
        """Sleep ``seconds`` or until stopped (or woken); True when stopping."""
        waits = [asyncio.ensure_future(self.stopping.wait())]
        if wake is not None:
            waits.append(asyncio.ensure_future(wake.wait()))
        try:
            await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
        if wake is not None:
            wake.clear()
        return self.stopping.is_set()
