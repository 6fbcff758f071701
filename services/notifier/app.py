"""The notifier service: routed items, unstaffed queues, spikes, helpdesk lifecycle (replied /
resolved cancel SLA timers and resolve) and connector status (silent pages, recovered resolves)
in; incidents escalated through the on-call rota by a scheduler loop over durable timers; pages
out to the targets people use, and a record of each sent page on the pages topic through the
notifier's outbox (``notifier_outbox``, published by a ``shared.outbox.Relay``).

``build(settings, clock)`` is the composition root. Its runner (``NotifierService``) runs the
consumers and the scheduler together and is what ``shared.service.serve`` drives.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import groupby

from fastapi import FastAPI
from prometheus_client import Gauge

from services.notifier import oncall
from services.notifier.api import api_router
from services.notifier.delivery import Deliverer
from services.notifier.paging import Paging, PagingConfig
from services.notifier.routed import RoutedStore
from services.notifier.settings import DEV_NOTIFIER_ADMIN_TOKEN, NotifierSettings
from services.notifier.store import IncidentStore
from services.notifier.tables import OutboxRow
from services.notifier.timers import TimerStore
from shared import db, topics
from shared.auth import StaticTokens
from shared.calendar import BusinessCalendar
from shared.calendar_config import calendar_from, read_spec
from shared.events import (
    ConnectorStatusChanged,
    Envelope,
    HelpdeskItemUpdated,
    ItemRouted,
    QueueUnstaffed,
    Urgency,
    WidespreadIssueDetected,
    utcnow,
)
from shared.logging import get_logger
from shared.outbox import Relay
from shared.probes import Probes
from shared.runner import ConsumerRunner, RecordMeta, Result, Stage
from shared.service import answer_outages, ops_router
from shared.supervisor import Periodic, RunnerSlot, Supervisor

Clock = Callable[[], datetime]
log = get_logger(__name__)


@dataclass
class NotifierStage(Stage):
    """Records what an event calls for (incident, digest entry, SLA timers); the scheduler pages."""

    paging: Paging
    clock: Clock = utcnow

    async def process_batch(self, items: Sequence[tuple[Envelope, RecordMeta]]) -> list[Result]:
        """A poll in record order: each run of routed items in one transaction
        (``Paging.on_routed_many``), other events one by one. Any exception leaves the run's
        items unstored and the poll is retried (idempotently)."""
        answers: list[Result] = []
        for routed, group in groupby(items, key=lambda item: isinstance(item[0], ItemRouted)):
            run = list(group)
            if routed:
                await self.paging.on_routed_many([event for event, _ in run], self.clock())
            else:
                for event, _ in run:
                    await self._one(event)
            answers.extend([] for _ in run)
        return answers

    async def _one(self, event: Envelope) -> None:
        if isinstance(event, QueueUnstaffed):
            await self.paging.on_unstaffed(event, self.clock())
        elif isinstance(event, WidespreadIssueDetected):
            await self.paging.on_spike(event, self.clock())
        elif isinstance(event, HelpdeskItemUpdated):
            await self.paging.on_lifecycle(event, self.clock())
        elif isinstance(event, ConnectorStatusChanged):
            await self.paging.on_connector(event, self.clock())


SERVICE = "notifier"
TOPICS = (
    ("", topics.ROUTED),
    ("unstaffed", topics.UNSTAFFED),
    ("spiked", topics.SPIKED),
    ("lifecycle", topics.LIFECYCLE),
    ("connectors", topics.CONNECTORS),
)


PENDING = Gauge(
    "switchboard_notifier_outbox_pending", "Page records committed but not yet published"
)
RELAY_LOCK = 0x5357_4E4F_5449_4659  # pg advisory lock key ("SWNOTIFY"): one relay round at a time


def relay_of(settings: NotifierSettings, sessions, clock: Clock) -> Relay:
    """The relay of the notifier's outbox (page records to the pages topic)."""
    return Relay(
        sessions,
        OutboxRow,
        settings,
        service=SERVICE,
        client_id="notifier-pages",
        lock_key=RELAY_LOCK,
        gauge=PENDING,
        clock=clock,
    )


class NotifierService(Supervisor):
    """The consumers (one per topic, each in its own group; any failing stops the service), the
    scheduler job and the outbox relay: a configured ``Supervisor`` (``run`` until ``stop``;
    ``RunnerFailed``). Outages of the database or the broker are waited out in-process."""

    def __init__(
        self, settings: NotifierSettings, paging: Paging, clock: Clock, relay: Relay
    ) -> None:
        self.settings, self.paging, self.clock, self.relay = settings, paging, clock, relay
        stage = NotifierStage(paging, clock)
        paging.recorded = relay.notify
        super().__init__(
            SERVICE,
            runners=[
                RunnerSlot(suffix or "routed", _runner(settings, suffix, topic, stage))
                for suffix, topic in TOPICS
            ],
            jobs=[
                Periodic(
                    "scheduler",
                    settings.scheduler_interval_s,
                    self._tick,
                    at_start=True,
                    failure="scheduler.tick_failed",
                    level="error",
                ),
                Periodic("outbox", 1.0, relay.drain, at_start=True, final=True, wake=relay.wake),
            ],
            on_stop=relay.close,
        )

    @property
    def state(self):
        return self.runners[0].state

    async def _tick(self) -> None:
        """Fire what is due by the injected clock; an error is logged and retried next time (the
        timers are rows: nothing is lost)."""
        await self.paging.tick(self.clock())


def _runner(settings: NotifierSettings, suffix: str, topic: str, stage: NotifierStage):
    """The factory of one consumer; ``suffix`` names its group (``<group>-<suffix>``; none: the
    settings' own group)."""
    if suffix:
        group = f"{settings.consumer_group}-{suffix}"
        settings = settings.model_copy(update={"consumer_group": group})
    return lambda: ConsumerRunner(settings, SERVICE, topic, stage)


def load_calendar(settings: NotifierSettings, now: datetime) -> BusinessCalendar:
    """The shared business calendar; explicitly set NOTIFIER_TIMEZONE / NOTIFIER_OFFICE_HOURS win."""
    spec = read_spec(settings.calendar_file.read_text(encoding="utf-8"))
    if "office_hours" in settings.model_fields_set:
        spec["weekly"] = settings.office_hours
    if "timezone" in settings.model_fields_set:
        spec["timezone"] = settings.timezone
    return calendar_from(spec, now=now)


def tokens_of(settings: NotifierSettings) -> StaticTokens:
    """The API's bearer tokens: NOTIFIER_ADMIN_TOKEN (in development the placeholder when unset) and
    the hashed grants of NOTIFIER_API_TOKENS."""
    admin = settings.admin_token.get_secret_value() if settings.admin_token is not None else None
    if admin is None and settings.environment == "development":
        admin = DEV_NOTIFIER_ADMIN_TOKEN
    tokens = StaticTokens(admin, settings.api_tokens)
    if not tokens.configured:
        log.warning(
            "api.no_tokens",
            hint="POST ack/resolve and /v1/alertmanager answer 401; set NOTIFIER_API_TOKENS",
        )
    return tokens


def build(settings: NotifierSettings, clock: Clock = utcnow) -> tuple[FastAPI, NotifierService]:
    """The notifier's HTTP app and its service runner (not started)."""
    engine = db.engine(settings.database_url)
    sessions = db.sessions(engine)
    rota = oncall.load(settings.oncall_file)
    key = settings.signing_key.get_secret_value()
    deliverer = Deliverer(
        rota.targets,
        {k: v.get_secret_value() for k, v in settings.target_secrets.items()},
        settings.page_url,
        key,
        settings.page_timeout_s,
        settings.delivery_attempts,
        settings.delivery_backoff_s,
    )
    config = PagingConfig(
        Urgency(settings.page_min_urgency),
        Urgency(settings.sla_min_urgency),
        timedelta(minutes=settings.sla_warn_minutes),
        settings.public_url,
        key,
        timedelta(minutes=settings.link_ttl_minutes),
    )
    paging = Paging(
        rota,
        load_calendar(settings, clock()),
        IncidentStore(sessions),
        TimerStore(sessions),
        deliverer,
        config,
        RoutedStore(sessions),
    )
    service = NotifierService(settings, paging, clock, relay_of(settings, sessions, clock))
    service.probes = probes = Probes(settings.kafka_bootstrap_servers, engine)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        await deliverer.close()
        await engine.dispose()

    app = FastAPI(title="Switchboard notifier", version="0.2.0", lifespan=lifespan)
    answer_outages(app)
    app.include_router(ops_router(lambda: service.live, lambda: service.ready, probes.report))
    app.include_router(api_router(paging, clock, key, tokens_of(settings)))
    return app, service
