"""Composition root of the ingestor: ``create_app(settings)``.

The lifespan owns the Kafka producer (connecting in the background, so an unreachable broker
means "not ready", not a crash) and the database engine. ``/readyz`` is 200 only when the
producer is connected and the database answered its last contact.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.ingestor import api, payload
from services.ingestor.delivery import Delivery
from services.ingestor.intake import Intake
from services.ingestor.ledger import Ledger
from services.ingestor.signing import secret_key
from shared.logging import get_logger
from shared.service import ops_router
from shared.settings import IngestorSettings

log = get_logger(__name__)
_SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class Runtime:
    settings: IngestorSettings
    keys: dict[str, bytes]
    delivery: Delivery
    ledger: Ledger
    intake: Intake


def webhook_keys(settings: IngestorSettings) -> dict[str, bytes]:
    """HMAC keys per source. Raises ``ValueError`` naming the source (never the secret)."""
    keys = {}
    for source, secret in settings.webhook_secrets.items():
        if not _SOURCE_NAME.match(source):
            raise ValueError(f"webhook source name {source!r} must match {_SOURCE_NAME.pattern}")
        try:
            keys[source] = secret_key(secret.get_secret_value())
        except ValueError as exc:
            raise ValueError(f"webhook secret for source {source!r}: {exc}") from None
    return keys


def create_app(settings: IngestorSettings) -> FastAPI:
    """The ingestor's ASGI app. Raises ``ValueError`` on an unusable secret or source name."""
    keys = webhook_keys(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        delivery, ledger = Delivery(settings), Ledger(settings.database_url)
        app.state.runtime = Runtime(settings, keys, delivery, ledger, Intake(settings, keys, delivery, ledger))
        tasks = [asyncio.create_task(delivery.connect_forever(), name="kafka-connect"),
                 asyncio.create_task(ledger.watch(), name="db-watch")]
        log.info("ingestor.started", sources=sorted(keys), port=settings.http_port)
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await delivery.close()
            await ledger.close()
            log.info("ingestor.stopped")

    app = FastAPI(title="Switchboard ingestor", version="1", lifespan=lifespan,
                  description="Verifies platform webhooks and hands them to Kafka (acks=all).")
    app.include_router(api.router)
    app.include_router(ops_router(live=lambda: True, ready=lambda: _ready(app)))
    app.add_exception_handler(Exception, _internal_error)
    _document_payload(app)
    return app


def _ready(app: FastAPI) -> bool:
    runtime: Runtime | None = getattr(app.state, "runtime", None)
    return runtime is not None and runtime.delivery.ready and runtime.ledger.reachable


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    """Only genuine bugs get here: user input is answered with 4xx/503 before that."""
    log.error("request.failed", path=request.url.path, error=type(exc).__name__, exc_info=exc)
    return JSONResponse({"error": "internal_error", "detail": "unexpected server error (logged)"}, 500)


def _document_payload(app: FastAPI) -> None:
    """Add the request body models to the OpenAPI components (the route reads raw bytes)."""
    generate = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = generate()
            body = payload.MessageCreated.model_json_schema(ref_template="#/components/schemas/{model}")
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(body.pop("$defs", {}))
            components["MessageCreated"] = body
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
