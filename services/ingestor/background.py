"""The ingestor's background work beside the webhooks, started and stopped with the app's
lifespan: the pollers (``INGESTOR_POLL_SOURCES``, unless ``INGESTOR_POLLERS_ENABLED=false``) and
the silent-connector watch (unless ``INGESTOR_SILENCE_ENABLED=false``), the YouTube WebSub
(re-)subscription when ``INGESTOR_YOUTUBE_CALLBACK_URL`` is set, and the Instagram mention
enrichment whenever Meta webhooks are configured (held mentions must be published, so it does not
depend on ``INGESTOR_POLLERS_ENABLED``)."""

from __future__ import annotations

import asyncio
from functools import partial

from services.ingestor import pollers as polling
from services.ingestor.acceptor import Acceptor
from services.ingestor.connectors import SilenceWatch
from services.ingestor.delivery import Delivery
from services.ingestor.health import SourceHealth
from services.ingestor.ledger import Ledger
from services.ingestor.pollers import instagram_mentions, websub
from services.ingestor.settings import IngestorSettings
from shared.logging import get_logger
from shared.supervisor import Supervisor, Task

log = get_logger(__name__)


class Background:
    """The ingestor's background parts under one ``Supervisor`` (no consumers): each poller
    scheduler runs until stop (then releases its leases), the silence watch until cancelled;
    the last-event times are flushed after both."""

    def __init__(self, watch: SilenceWatch | None, schedulers: list[polling.Scheduler]) -> None:
        tasks = [
            Task(f"pollers-{i}", partial(_scheduled, scheduler))
            for i, scheduler in enumerate(schedulers)
        ]
        if watch is not None:
            tasks.append(Task("connector-silence", lambda _stopping: watch.run(), cancel=True))
        self.watch, self.schedulers = watch, schedulers
        self.supervisor = Supervisor("ingestor", tasks=tasks, on_stop=self._flush)
        self._running = asyncio.create_task(self.supervisor.run(), name="ingestor-background")

    async def stop(self) -> None:
        """Stop polling (leases released), then flush the last-event times."""
        self.supervisor.stop()
        await self._running

    async def _flush(self) -> None:
        if self.watch is not None:
            await self.watch.close()


async def _scheduled(scheduler: polling.Scheduler, stopping: asyncio.Event) -> None:
    """``scheduler`` (already started) until ``stopping``; then it stops and releases its leases."""
    try:
        await stopping.wait()
    finally:
        await scheduler.stop()


def start(
    settings: IngestorSettings,
    delivery: Delivery,
    ledger: Ledger,
    acceptor: Acceptor,
    health: SourceHealth,
    sources: dict[str, str],
) -> Background:
    """Start the pollers and the silence watch (each only when configured and enabled)."""
    watch, schedulers = None, []
    if settings.silence_enabled:
        watch = SilenceWatch(settings, ledger, delivery, sources)
        health.listen(watch.observe)
    if settings.pollers_enabled and settings.poll_sources:
        scheduler = polling.Scheduler(
            settings,
            ledger,
            acceptor,
            polling.pollers(settings, polling.Quota(ledger, settings.youtube_daily_quota)),
            on_accepted=lambda source, n: health.observe(source, "accepted", n),
            on_error=lambda source, outcome: health.observe(source, outcome),
        )
        scheduler.start()
        schedulers.append(scheduler)
        log.info("pollers.started", sources=sorted(settings.poll_sources))
    if settings.youtube_callback_url and settings.youtube_channels and settings.pollers_enabled:
        renewal = polling.Scheduler(
            settings,
            ledger,
            acceptor,
            {websub.NAME: websub.WebSubRenewal()},
            configs={websub.NAME: websub.config(settings.youtube_hub_url)},
            on_error=lambda source, outcome: health.observe("youtube", outcome),
        )
        renewal.start()
        schedulers.append(renewal)
    if (mentions := _mention_worker(settings, ledger, acceptor)) is not None:
        schedulers.append(mentions)
    return Background(watch, schedulers)


def _mention_worker(
    settings: IngestorSettings, ledger: Ledger, acceptor: Acceptor
) -> polling.Scheduler | None:
    """Publishes held Instagram mentions (with their fetched text); woken by the webhook that held one."""
    if not settings.meta_app_secrets:
        return None
    name = instagram_mentions.NAME
    worker = polling.Scheduler(
        settings,
        ledger,
        acceptor,
        {name: instagram_mentions.InstagramMentions()},
        configs={name: instagram_mentions.config(settings)},
    )
    acceptor.held.listen(lambda: worker.wake(name))
    worker.start()
    return worker


def sources(settings: IngestorSettings, webhook_sources: dict[str, str]) -> dict[str, str]:
    """Every source of connector health: webhook sources and polled ones. Raises ``ValueError``
    on a poll source whose name is unusable or clashes with a webhook source."""
    from services.ingestor.platforms.keys import check_name as _check_name

    polling.check(settings)
    for name in settings.poll_sources:
        _check_name(name, "poll source name")
        if name in webhook_sources:
            raise ValueError(f"poll source {name!r} has the name of a webhook source")
    return {**webhook_sources, **polling.sources(settings)}
