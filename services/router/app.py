"""The router service's composition root: classified messages in, items routed to agent
queues and assigned; lifecycle events from helpdesks back in; an authenticated API."""

from __future__ import annotations

from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI

from services.router.api import Api, bound, routes
from services.router.api.planning import REFRESH_S, Planning
from services.router.auth import Tokens
from services.router.configs import CALENDAR, ROUTING, ConfigStore, initial_state
from services.router.dispatcher import Dispatcher
from services.router.helpdesks.inbound import Inbound
from services.router.helpdesks.publisher import Publisher
from services.router.helpdesks.routes import helpdesk_router
from services.router.lifecycle import LifecycleStage
from services.router.outbox import Relay
from services.router.pending import Republisher
from services.router.reviews import Reviews
from services.router.runtime import SERVICE, RouterRuntime
from services.router.settings import RouterSettings
from services.router.stage import Clock, RouterStage
from services.router.store import Directory, RoutedItems
from services.router.templates import load_templates
from services.router.webhooks import WebhookBridge
from shared import db, topics
from shared.events import utcnow
from shared.probes import Probes
from shared.runner import ConsumerRunner
from shared.service import answer_outages, ops_router
from shared.supervisor import Periodic, RunnerSlot


def runtime_of(settings: RouterSettings, sessions, clock: Clock = utcnow) -> RouterRuntime:
    """The router's consumers, dispatcher and sweeper over ``sessions`` (nothing started).
    Raises ``TemplateError`` when the response templates are invalid."""
    state = initial_state(settings.routing_file, settings.calendar_file)
    templates = load_templates(settings.templates_dir)
    dispatcher = Dispatcher(sessions, state)
    items = RoutedItems(sessions)
    bridge = WebhookBridge(
        sessions,
        settings.webhook_endpoints,
        {k: v.get_secret_value() for k, v in settings.webhook_secrets.items()},
        settings.webhook_timeout_s,
        settings.webhook_filters,
    )
    relay = Relay(sessions, settings, "router-outbox", bridge, clock)
    # the lifecycle consumer has its own group (tools/deploy_gen.GROUP_SUFFIX): one group per
    # topic keeps rebalances simple; either consumer failing stops the service (no restart)
    group = settings.consumer_group
    lifecycle = settings.model_copy(update={"consumer_group": f"{group}-lifecycle"})
    routing = RouterStage(sessions, items, dispatcher, clock, bridge, templates)
    changes = LifecycleStage(sessions, dispatcher, bridge, relay)
    runners = [
        RunnerSlot(
            "classified", lambda: ConsumerRunner(settings, SERVICE, topics.CLASSIFIED, routing)
        ),
        RunnerSlot(
            "lifecycle", lambda: ConsumerRunner(lifecycle, SERVICE, topics.LIFECYCLE, changes)
        ),
    ]
    configs = ConfigStore(
        sessions, {ROUTING: settings.routing_file, CALENDAR: settings.calendar_file}
    )
    runtime = RouterRuntime(
        settings,
        runners=runners,
        dispatcher=dispatcher,
        directory=Directory(sessions),
        configs=configs,
        relay=relay,
        clock=clock,
        republisher=Republisher(
            sessions, relay, clock, timedelta(seconds=settings.pending_grace_s)
        ),
    )
    runtime.templates = templates
    return runtime


def build(settings: RouterSettings, clock: Clock = utcnow) -> tuple[FastAPI, RouterRuntime]:
    """The router's HTTP app and its runtime (not started; ``run()`` it beside the app)."""
    engine = db.engine(settings.database_url)
    sessions = db.sessions(engine)
    runtime = runtime_of(settings, sessions, clock)
    runtime.probes = probes = Probes(settings.kafka_bootstrap_servers, engine)
    publisher = Publisher(settings, settings.helpdesk_publish_timeout_s)
    inbound = Inbound(settings.helpdesks, RoutedItems(sessions), publisher, clock)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        await runtime.prepare()
        yield
        await publisher.close()
        await runtime.relay.close()
        await engine.dispose()

    app = FastAPI(title="Switchboard router", version="0.2.0", lifespan=lifespan)
    answer_outages(app)
    app.include_router(ops_router(lambda: runtime.live, lambda: runtime.ready, probes.report))
    api = Api(
        tokens=Tokens(
            sessions,
            settings.admin_token.get_secret_value(),
            timedelta(days=settings.token_ttl_days) if settings.token_ttl_days else None,
            clock,
        ),
        directory=runtime.directory,
        reviews=Reviews(sessions, lambda: runtime.dispatcher.state.config),
        configs=runtime.configs,
        runtime=runtime,
        sessions=sessions,
    )
    app.state.tokens = api.tokens
    app.include_router(routes(api))
    app.include_router(helpdesk_router(inbound, settings.helpdesk_max_body_bytes))
    planning = Planning(api, clock)
    app.include_router(planning.router(), dependencies=[bound(api)])
    runtime.jobs.append(Periodic("planning", REFRESH_S, planning.refresh, at_start=True))
    return app, runtime
