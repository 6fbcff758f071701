"""The router's moving parts in one object with the runner's interface (``run``, ``stop``,
``live``, ``ready``): the classified-topic consumer, the helpdesk-lifecycle consumer, the
sweeper that periodically re-offers waiting items (relaxing skills as they wait), and the
outbox relay that publishes what the sweeper, the lifecycle consumer and the API committed
(``outbox.py``) — on start (what a crash left unsent), every second, and when woken.

Start-up first loads admin-edited configuration from the database (falling back to the
files) and syncs the directory, so agents and SLA policies exist before the first message.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from sqlalchemy.exc import IntegrityError

from services.router import queuetopics
from services.router.configs import ConfigStore
from services.router.dispatcher import Dispatcher
from services.router.outbox import Relay
from services.router.settings import RouterSettings
from services.router.store import Directory
from shared.broker import BrokerError
from shared.logging import get_logger
from shared.runner import ConsumerRunner, RunnerFailed

log = get_logger(__name__)


class RouterRuntime:
    def __init__(self, settings: RouterSettings, runners: list[ConsumerRunner], dispatcher: Dispatcher,
                 directory: Directory, configs: ConfigStore, relay: Relay, clock: Callable) -> None:
        self.settings, self.runners, self.dispatcher = settings, runners, dispatcher
        self.directory, self.configs, self.relay, self.clock = directory, configs, relay, clock
        self._stopping = asyncio.Event()
        self._prepare_lock = asyncio.Lock()
        self.started = False

    @property
    def live(self) -> bool:
        return all(r.live for r in self.runners)

    @property
    def ready(self) -> bool:
        return all(r.ready for r in self.runners)

    def stop(self) -> None:
        self._stopping.set()
        for r in self.runners:
            r.stop()

    async def prepare(self, reload: bool = False) -> None:
        """Load the live configuration and sync the directory, once (again with ``reload``).
        The HTTP lifespan and ``run`` both call it; a replica syncing at the same moment can
        make an insert collide, so a collision is retried. At start-up, raises
        ``WebhookFilterError`` when a webhook filter names a queue the live configuration lacks."""
        async with self._prepare_lock:
            if self.started and not reload:
                return
            for attempt in range(3):
                try:
                    await self.configs.load_into(self.dispatcher.state)
                    await self.directory.sync(self.dispatcher.state.config)
                    break
                except IntegrityError:
                    if attempt == 2:
                        raise
                    await asyncio.sleep(0.2)
            if not self.started and self.relay.bridge is not None:
                self.relay.bridge.check_queues(self.dispatcher.state.config, "the live routing configuration")
            self.started = True

    async def ensure_queue_topics(self) -> list[str]:
        """Create the per-queue routed topics of the live configuration (existing ones stay)."""
        return await queuetopics.ensure(self.settings, self.dispatcher.state.config)

    async def run(self) -> None:
        """Run consumers, sweeper and relay until ``stop()``; raises ``RunnerFailed`` if a consumer fails."""
        await self.prepare()
        try:
            await self.ensure_queue_topics()
        except BrokerError as exc:
            raise RunnerFailed(f"cannot create the per-queue routed topics: {exc}") from exc
        sweeper = asyncio.create_task(self._sweep_forever(), name="router-sweeper")
        deliverer = asyncio.create_task(self._deliver_forever(), name="router-webhooks")
        relayer = asyncio.create_task(self._relay_forever(), name="router-outbox")
        tasks = [asyncio.create_task(r.run()) for r in self.runners]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            self.stop()  # one consumer gave up or all stopped: the others follow
            results = await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            self._stopping.set()
            self.relay.notify()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(sweeper, deliverer, relayer)
            await self.relay.close()
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            self.stop()
            raise RunnerFailed(str(failures[0]))

    async def sweep(self) -> int:
        """Re-offer waiting items once (assignments go to the outbox with them), remind the
        notifier of queues that stay unstaffed, and try to publish at once; a broker error
        leaves them for the relay loop. Returns how many items were assigned."""
        made = await self.dispatcher.offer_waiting(self.clock())
        await self.dispatcher.remind_unstaffed(self.clock())
        await self.publish_outbox()
        return len(made)

    async def publish_outbox(self) -> None:
        """Relay now (after an API action): the change is committed either way, so a broker
        error is only logged and the relay loop retries."""
        try:
            await self.relay.drain()
        except Exception as exc:  # noqa: BLE001 - committed; the relay loop publishes it later
            log.warning("router.outbox_deferred", error=f"{type(exc).__name__}: {exc}")

    async def _relay_forever(self) -> None:
        """Publish the outbox: at once (what a crash left), then every second or when woken."""
        while True:
            try:
                await self.relay.drain()
            except Exception as exc:  # noqa: BLE001 - rows stay unsent; the next round retries
                log.warning("router.outbox_failed", error=f"{type(exc).__name__}: {exc}")
            if self._stopping.is_set():
                return
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.relay.wake.wait(), timeout=1.0)
            self.relay.wake.clear()

    async def _sweep_forever(self) -> None:
        await self._every(self.settings.sweep_interval_s, self.sweep, "router.sweep_failed")

    async def _deliver_forever(self) -> None:
        bridge = self.relay.bridge
        if bridge is not None and bridge.enabled:
            await self._every(1.0, lambda: bridge.deliver_due(self.clock()), "router.webhooks_failed")

    async def _every(self, interval_s: float, job: Callable, failure: str) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=interval_s)
            if self._stopping.is_set():
                return
            try:
                await job()
            except Exception as exc:  # noqa: BLE001 - the next round retries; consumers keep going
                log.warning(failure, error=f"{type(exc).__name__}: {exc}")
