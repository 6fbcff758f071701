"""The app ``bench/helpdesks.py`` serves: the router (configured from the environment, as in
production) with one more route, ``POST /bench/bare``, that only reads the body and answers
JSON: the same process, server and middleware, without verification, item lookup or publish."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.router.app import build
from services.router.settings import RouterSettings
from shared import logging


def router() -> FastAPI:
    settings = RouterSettings()
    logging.configure(settings.log_level, settings.log_json)
    app, _runtime = build(settings)

    @app.post("/bench/bare")
    async def bare(request: Request) -> JSONResponse:
        body = await request.body()
        return JSONResponse({"published": [], "bytes": len(body)})

    return app
