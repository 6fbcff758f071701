"""The two ASGI apps ``bench/ingest.py`` serves under identical uvicorn settings: the ingestor
(configured from the environment, as in production) and a bare FastAPI endpoint that only reads
the body and answers JSON (the HTTP layer's limit on this machine)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.ingestor.app import create_app
from services.ingestor.settings import IngestorSettings
from shared import logging


def ingestor() -> FastAPI:
    settings = IngestorSettings()
    logging.configure(settings.log_level, settings.log_json)
    return create_app(settings)


def bare() -> FastAPI:
    app = FastAPI()

    @app.post("/v1/webhooks/meta")
    async def receive(request: Request) -> JSONResponse:
        body = await request.body()
        return JSONResponse({"status": "accepted", "bytes": len(body)})

    @app.get("/readyz")
    async def ready() -> JSONResponse:
        return JSONResponse({"status": "ready"})

    return app
