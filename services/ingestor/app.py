"""Composition root of the ingestor: ``create_app(settings)``.

The lifespan owns the Kafka producer (connecting in the background, so an unreachable broker
means "not ready", not a crash) and the database engine. ``/readyz`` is 200 only when the
producer is connected, the database answered its last contact and the readiness probes
(``shared.probes``: broker and database, every second) both answered.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from services.ingestor import background
from services.ingestor.acceptor import Acceptor
from services.ingestor.delivery import Delivery
from services.ingestor.health import SourceHealth
from services.ingestor.http import routes
from services.ingestor.intake import Intake
from services.ingestor.ledger import Ledger
from services.ingestor.platforms import registry
from services.ingestor.platforms.keys import platform_keys
from services.ingestor.runtime import Runtime
from services.ingestor.settings import IngestorSettings
from shared.logging import get_logger
from shared.probes import Probes

log = get_logger(__name__)


def create_app(settings: IngestorSettings) -> FastAPI:
    """The ingestor's ASGI app. Raises ``ValueError`` on an unusable secret or source name."""
    keys = platform_keys(settings)
    sources = background.sources(settings, registry.configured_sources(keys))  # + polled sources
    probes = Probes(settings.kafka_bootstrap_servers)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        delivery, ledger = Delivery(settings), Ledger(settings.database_url)
        acceptor = Acceptor(settings, delivery, ledger)
        platforms = registry.build(settings, keys, ledger)
        app.state.runtime = Runtime(
            settings=settings,
            keys=keys,
            platforms=platforms,
            delivery=delivery,
            ledger=ledger,
            acceptor=acceptor,
            intake=Intake(acceptor),
            health=SourceHealth(sources),
        )
        probes.engine = ledger.engine
        tasks = [
            asyncio.create_task(delivery.connect_forever(), name="kafka-connect"),
            asyncio.create_task(ledger.watch(), name="db-watch"),
            asyncio.create_task(probes.run(), name="readiness"),
        ]
        extra = background.start(
            settings, delivery, ledger, acceptor, app.state.runtime.health, sources
        )
        log.info("ingestor.started", sources=sorted(sources), port=settings.http_port)
        try:
            yield
        finally:
            await extra.stop()  # pollers and silence watch, before the producer goes
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await delivery.close()
            await ledger.close()
            log.info("ingestor.stopped")

    app = FastAPI(
        title="Switchboard ingestor",
        version="1",
        lifespan=lifespan,
        description="Verifies platform webhooks and hands them to Kafka (acks=all).",
    )
    tokens = settings.api_guard_tokens()
    routes.install(app, ready=lambda: _ready(app, probes), detail=probes.report, tokens=tokens)
    return app


def _ready(app: FastAPI, probes: Probes) -> bool:
    runtime: Runtime | None = getattr(app.state, "runtime", None)
    return runtime is not None and runtime.ready and probes.ok
