"""The router's moving parts as one configured ``Supervisor`` (``run``, ``stop``, ``live``,
``ready``): the classified-topic consumer, the helpdesk-lifecycle consumer (either failing stops
the service), the sweeper that periodically re-offers waiting items (relaxing skills as they
wait), the webhook deliveries, the republication sweep of routed items whose publication never
finished (``pending.py``), and the outbox relay that publishes what the sweepers, the lifecycle
consumer and the API committed (``outbox.py``) — on start (what a crash left unsent), every
second, when woken, and once more on stop.

Start-up first loads admin-edited configuration from the database (falling back to the
files) and syncs the directory, so agents and SLA policies exist before the first message.
When the database or the broker is away then (or later), the router waits in-process for it to
come back (``shared.outage``), never exiting for an outage: the consumers wait inside the
runner, the periodic jobs retry each round, and ``/readyz`` says 503 meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from sqlalchemy.exc import IntegrityError

from services.router import queuetopics
from services.router.configs import ConfigStore
from services.router.dispatcher import Dispatcher
from services.router.outbox import Relay
from services.router.pending import Republisher
from services.router.settings import RouterSettings
from services.router.store import Directory
from services.router.templates import TemplateSet
from shared.broker import BrokerError
from shared.logging import get_logger
from shared.outage import patiently
from shared.runner import RunnerFailed
from shared.supervisor import Periodic, RunnerSlot, Supervisor

log = get_logger(__name__)
SERVICE = "router"


class RouterRuntime(Supervisor):
    templates: TemplateSet = TemplateSet(())  # the loaded response templates (app.runtime_of)

    def __init__(
        self,
        settings: RouterSettings,
        *,
        runners: Sequence[RunnerSlot],
        dispatcher: Dispatcher,
        directory: Directory,
        configs: ConfigStore,
        relay: Relay,
        clock: Callable,
        republisher: Republisher | None = None,
    ) -> None:
        self.settings, self.dispatcher = settings, dispatcher
        self.directory, self.configs, self.relay, self.clock = directory, configs, relay, clock
        self._prepare_lock = asyncio.Lock()
        self.started = False
        jobs = [
            Periodic("sweep", settings.sweep_interval_s, self.sweep),
            Periodic("outbox", 1.0, relay.drain, at_start=True, final=True, wake=relay.wake),
        ]
        if republisher is not None:
            jobs.append(Periodic("republish", settings.republish_interval_s, republisher.sweep))
        bridge = relay.bridge
        if bridge is not None and bridge.enabled:
            jobs.append(Periodic("webhooks", 1.0, lambda: bridge.deliver_due(self.clock())))
        super().__init__(
            SERVICE, runners=runners, jobs=jobs, on_start=self._start, on_stop=relay.close
        )

    async def prepare(self, reload: bool = False) -> None:
        """Load the live configuration and sync the directory, once (again with ``reload``).
        The HTTP lifespan and ``run`` both call it; a replica syncing at the same moment can
        make an insert collide, so a collision is retried. At start-up, raises
        ``WebhookFilterError`` when a webhook filter names a queue the live configuration lacks."""
        async with self._prepare_lock:
            if self.started and not reload:
                return
            await patiently(self._load, "router:configuration", self.stopping)
            if not self.started and self.relay.bridge is not None:
                self.relay.bridge.check_queues(
                    self.dispatcher.state.config, "the live routing configuration"
                )
            self.started = True

    async def _load(self) -> None:
        """The configuration into the dispatcher, the directory synced (a collision retried)."""
        for attempt in range(3):
            try:
                await self.configs.load_into(self.dispatcher.state)
                await self.directory.sync(self.dispatcher.state.config)
                return
            except IntegrityError:
                if attempt == 2:
                    raise
                await asyncio.sleep(0.2)

    async def ensure_queue_topics(self) -> list[str]:
        """Create the per-queue routed topics of the live configuration (existing ones stay)."""
        return await queuetopics.ensure(self.settings, self.dispatcher.state.config)

    async def _start(self) -> None:
        """Before the consumers: the configuration, and the per-queue topics it names."""
        await self.prepare()
        try:
            await patiently(self.ensure_queue_topics, "router:queue-topics", self.stopping)
        except BrokerError as exc:
            raise RunnerFailed(f"cannot create the per-queue routed topics: {exc}") from exc

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
