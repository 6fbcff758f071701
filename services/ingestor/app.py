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

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import SecretStr

from services.ingestor import api, background, payload, platform_api, youtube_api
from services.ingestor.batch import Acceptor
from services.ingestor.delivery import Delivery
from services.ingestor.health import SourceHealth
from services.ingestor.intake import Intake
from services.ingestor.ledger import Ledger
from services.ingestor.settings import IngestorSettings
from services.ingestor.signing import secret_key
from shared.logging import get_logger
from shared.service import ops_router

log = get_logger(__name__)
_SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
sources_router = APIRouter()


@dataclass(frozen=True)
class Keys:
    """Every verification key, decoded once at start-up (lists: all active secrets, current first)."""

    standard: dict[str, list[bytes]]
    meta: list[bytes]
    meta_verify_token: bytes | None
    x: list[bytes]
    x_secrets: list[str]
    telegram: dict[str, list[bytes]]
    youtube: list[bytes]
    youtube_channels: frozenset[str]


@dataclass(frozen=True)
class Runtime:
    settings: IngestorSettings
    keys: Keys
    delivery: Delivery
    ledger: Ledger
    acceptor: Acceptor
    intake: Intake
    health: SourceHealth


def _listed(value: SecretStr | list[SecretStr]) -> list[str]:
    return [s.get_secret_value() for s in (value if isinstance(value, list) else [value])]


def webhook_keys(settings: IngestorSettings) -> dict[str, list[bytes]]:
    """Standard Webhooks HMAC keys per source. Raises ``ValueError`` naming the source (never the secret)."""
    keys = {}
    for source, secrets in settings.webhook_secrets.items():
        _check_name(source, "webhook source name")
        try:
            keys[source] = [secret_key(secret) for secret in _listed(secrets)]
        except ValueError as exc:
            raise ValueError(f"webhook secret for source {source!r}: {exc}") from None
        if not keys[source]:
            raise ValueError(f"webhook source {source!r} has no secret")
    return keys


def platform_keys(settings: IngestorSettings) -> Keys:
    """All keys. Raises ``ValueError`` on an unusable name or secret (naming it, never its value)."""
    def raw(values: list[SecretStr]) -> list[bytes]:
        return [s.get_secret_value().encode() for s in values]

    telegram = {}
    for bot, tokens in settings.telegram_secret_tokens.items():
        _check_name(bot, "telegram bot name")
        telegram[bot] = [t.encode() for t in _listed(tokens)]
    token = settings.meta_verify_token
    return Keys(standard=webhook_keys(settings), meta=raw(settings.meta_app_secrets),
                meta_verify_token=token.get_secret_value().encode() if token else None,
                x=raw(settings.x_consumer_secrets), x_secrets=[s.get_secret_value() for s in settings.x_consumer_secrets],
                telegram=telegram, youtube=raw(settings.youtube_hub_secrets),
                youtube_channels=frozenset(settings.youtube_channels))


def configured_sources(keys: Keys) -> dict[str, str]:
    """Source name -> platform, for the health registry and ``GET /v1/sources``."""
    sources = {name: "standard" for name in keys.standard}
    sources.update({platform_api.telegram_source(bot): "telegram" for bot in keys.telegram})
    for name, platform, enabled in ((platform_api.META_SOURCE, "meta", keys.meta), (platform_api.X_SOURCE, "x", keys.x),
                                    (youtube_api.SOURCE, "youtube", keys.youtube)):
        if enabled:
            sources[name] = platform
    return sources


def _check_name(name: str, what: str) -> None:
    if not _SOURCE_NAME.match(name):
        raise ValueError(f"{what} {name!r} must match {_SOURCE_NAME.pattern}")


def create_app(settings: IngestorSettings) -> FastAPI:
    """The ingestor's ASGI app. Raises ``ValueError`` on an unusable secret or source name."""
    keys = platform_keys(settings)
    sources = background.sources(settings, configured_sources(keys))  # + polled sources

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        delivery, ledger = Delivery(settings), Ledger(settings.database_url)
        acceptor = Acceptor(settings, delivery, ledger)
        app.state.runtime = Runtime(settings, keys, delivery, ledger, acceptor,
                                    Intake(settings, keys.standard, acceptor), SourceHealth(sources))
        tasks = [asyncio.create_task(delivery.connect_forever(), name="kafka-connect"),
                 asyncio.create_task(ledger.watch(), name="db-watch")]
        extra = background.start(settings, delivery, ledger, acceptor, app.state.runtime.health, sources)
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

    app = FastAPI(title="Switchboard ingestor", version="1", lifespan=lifespan,
                  description="Verifies platform webhooks and hands them to Kafka (acks=all).")
    app.include_router(api.router)
    app.include_router(platform_api.router)
    app.include_router(youtube_api.router)
    app.include_router(sources_router)
    app.include_router(ops_router(live=lambda: True, ready=lambda: _ready(app)))
    app.add_exception_handler(Exception, _internal_error)
    _document_payload(app)
    return app


@sources_router.get("/v1/sources", tags=["health"], summary="Connector health per source")
async def list_sources(request: Request) -> JSONResponse:
    """Per configured source: platform, last event time, messages and errors (this replica)."""
    return JSONResponse({"sources": request.app.state.runtime.health.snapshot()})


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
