"""Every route of the ingestor on one app: the webhooks, ``GET /v1/sources``, the ops probes; the
handler that answers a genuine bug with a JSON 500; the request body models in the OpenAPI
document (the webhook routes read raw bytes)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from services.ingestor.http import platforms, standard, youtube
from services.ingestor.platforms import standard_payload as payload
from shared.auth import StaticTokens
from shared.logging import get_logger
from shared.service import answer_outages, guard, ops_router

log = get_logger(__name__)
sources_router = APIRouter()


def install(
    app: FastAPI,
    *,
    ready: Callable[[], bool],
    detail: Callable[[], Mapping[str, str]] | None = None,
    tokens: StaticTokens | None = None,
) -> None:
    """Add every router, the 500 handler and the OpenAPI body models to ``app``. ``tokens``
    guard ``/v1/sources`` (``None``: open, development); webhooks are verified by signature."""
    app.include_router(standard.router)
    app.include_router(platforms.router)
    app.include_router(youtube.router)
    app.include_router(sources_router, dependencies=[Depends(guard(tokens, "agent"))])
    app.include_router(ops_router(live=lambda: True, ready=ready, detail=detail))
    answer_outages(app)  # outages 503 + Retry-After; genuine bugs a JSON 500
    _document_payload(app)


@sources_router.get("/v1/sources", tags=["health"], summary="Connector health per source")
async def list_sources(request: Request) -> JSONResponse:
    """Per configured source: platform, last event time, messages and errors (this replica)."""
    return JSONResponse({"sources": request.app.state.runtime.health.snapshot()})


def _document_payload(app: FastAPI) -> None:
    """Add the request body models to the OpenAPI components (the route reads raw bytes)."""
    generate = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = generate()
            body = payload.MessageCreated.model_json_schema(
                ref_template="#/components/schemas/{model}"
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(body.pop("$defs", {}))
            components["MessageCreated"] = body
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
