"""The router's moving parts in one object with the runner's interface (``run``, ``stop``,
``live``, ``ready``): the classified-topic consumer, the helpdesk-lifecycle consumer, and the
sweeper that periodically re-offers waiting items (relaxing skills as they wait), publishing
what it assigns through its own producer.

Start-up first loads admin-edited configuration from the database (falling back to the
files) and syncs the directory, so agents and SLA policies exist before the first message.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence

from aiokafka import AIOKafkaProducer
from sqlalchemy.exc import IntegrityError

from services.router.configs import ConfigStore
from services.router.directory import Directory
from services.router.dispatcher import Dispatcher
from services.router.webhooks import WebhookBridge
from shared import kafka, topics
from shared.codec import encode
from shared.logging import get_logger
from shared.runner import ConsumerRunner, RunnerFailed
from shared.settings import RouterSettings

log = get_logger(__name__)


class Publisher:
    """Publishes events outside a consumer batch (sweeper, API); waits for broker acks."""

    def __init__(self, settings: RouterSettings, client_id: str, bridge: WebhookBridge | None = None,
                 clock: Callable | None = None) -> None:
        self._settings, self._client_id, self.bridge, self._clock = settings, client_id, bridge, clock
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def publish(self, events: Sequence[tuple[str, object]]) -> None:
        """Send each (registered topic, event) and wait until all are acknowledged."""
        if not events:
            return
        producer = await self._started()
        futures = []
        for topic, event in events:
            enc = encode(event)
            qualified = topics.qualified(topic, self._settings.kafka_topic_namespace)
            futures.append(await producer.send(qualified, value=enc.value, key=enc.key, headers=enc.headers))
        await asyncio.gather(*futures)
        if self.bridge is not None and self._clock is not None:
            await self.bridge.enqueue([event for _, event in events], self._clock())

    async def _started(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                producer = kafka.producer(self._settings, self._client_id)
                await producer.start()
                self._producer = producer
        return self._producer

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None


class RouterRuntime:
    def __init__(self, settings: RouterSettings, runners: list[ConsumerRunner], dispatcher: Dispatcher,
                 directory: Directory, configs: ConfigStore, publisher: Publisher, clock: Callable) -> None:
        self.settings, self.runners, self.dispatcher = settings, runners, dispatcher
        self.directory, self.configs, self.publisher, self.clock = directory, configs, publisher, clock
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
        make an insert collide, so a collision is retried."""
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
            self.started = True

    async def run(self) -> None:
        """Run consumers and sweeper until ``stop()``; raises ``RunnerFailed`` if a consumer fails."""
        await self.prepare()
        sweeper = asyncio.create_task(self._sweep_forever(), name="router-sweeper")
        deliverer = asyncio.create_task(self._deliver_forever(), name="router-webhooks")
        tasks = [asyncio.create_task(r.run()) for r in self.runners]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            self.stop()  # one consumer gave up or all stopped: the others follow
            results = await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            self._stopping.set()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(sweeper, deliverer)
            await self.publisher.close()
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            self.stop()
            raise RunnerFailed(str(failures[0]))

    async def sweep(self) -> int:
        """Re-offer waiting items once and publish the assignments. Returns how many."""
        from services.router.stage import assigned_event

        made = await self.dispatcher.offer_waiting(self.clock())
        await self.publisher.publish([(topics.ASSIGNED, assigned_event(a, a.item_id)) for a in made])
        return len(made)

    async def _sweep_forever(self) -> None:
        await self._every(self.settings.sweep_interval_s, self.sweep, "router.sweep_failed")

    async def _deliver_forever(self) -> None:
        bridge = self.publisher.bridge
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
