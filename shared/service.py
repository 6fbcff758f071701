"""Process plumbing shared by the four services: health and metrics routes, and a
``serve`` that runs the HTTP app beside the service's supervisor (``shared.supervisor``) with
one shutdown path.

SIGTERM or SIGINT stops the supervisor (runners finish the batch, commit, leave the group) and
the HTTP server together, within the runner's shutdown deadline. If it fails, the process
exits with status 1 so the orchestrator restarts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Protocol

import psycopg
import uvicorn
from aiokafka.errors import KafkaError
from fastapi import APIRouter, FastAPI, Header, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import DBAPIError

from shared.auth import Principal, StaticTokens, Unauthenticated
from shared.logging import get_logger
from shared.outage import unavailable
from shared.runner import RunnerFailed
from shared.settings import CommonSettings

log = get_logger(__name__)


class Runnable(Protocol):
    """What ``serve`` drives beside the HTTP app: a ``Supervisor`` (or one runner)."""

    async def run(self) -> None: ...

    def stop(self) -> None: ...


RETRY_AFTER_S = 5


def answer_outages(app: FastAPI) -> None:
    """A request that meets a database or broker outage (``shared.outage.unavailable``) is
    answered 503 with ``Retry-After`` and says which dependency is away, instead of a 500; any
    other error stays a 500 (logged), without details in the body."""

    async def handle(request: Request, exc: Exception) -> JSONResponse:
        dependency = unavailable(exc)
        if dependency is not None:
            log.warning("request.outage", path=request.url.path, dependency=dependency)
            return JSONResponse(
                {
                    "error": "unavailable",
                    "detail": f"the {dependency} is unavailable right now; retry shortly",
                },
                503,
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
        log.error("request.failed", path=request.url.path, error=type(exc).__name__, exc_info=exc)
        return JSONResponse(
            {"error": "internal_error", "detail": "unexpected server error (logged)"}, 500
        )

    # the dependencies' own error classes go to Starlette's ExceptionMiddleware, which answers;
    # ``Exception`` (the rest) to the ServerErrorMiddleware, which answers and re-raises
    for kind in (DBAPIError, psycopg.Error, sqlite3.Error, KafkaError, ConnectionError, Exception):
        app.add_exception_handler(kind, handle)


def ops_router(
    live: Callable[[], bool],
    ready: Callable[[], bool],
    detail: Callable[[], Mapping[str, str]] | None = None,
) -> APIRouter:
    """``/healthz`` (liveness), ``/readyz`` (readiness) and ``/metrics`` (Prometheus).

    ``detail`` adds the dependencies' states to the readiness body (``Probes.report``:
    ``{"status": "not ready", "broker": "unreachable", "database": "ok"}``); ``ready`` is
    expected to include them already (``Supervisor.ready`` does)."""
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="Liveness: the process is making progress")
    async def healthz(response: Response) -> dict:
        ok = live()
        response.status_code = 200 if ok else 503
        return {"status": "ok" if ok else "failing"}

    @router.get("/readyz", summary="Readiness: connected and able to do its work")
    async def readyz(response: Response) -> dict:
        ok = ready()
        response.status_code = 200 if ok else 503
        return {"status": "ready" if ok else "not ready", **(detail() if detail else {})}

    @router.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def prometheus() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


def run(main: Coroutine[Any, Any, int]) -> int:
    """Run a service's main coroutine on uvloop (libuv: fewer CPU cycles per socket event than
    the stock asyncio loop) when it is installed, else on asyncio's own loop; its exit code.
    uvicorn picks httptools for HTTP parsing by itself when that is installed."""
    if os.environ.get("SWITCHBOARD_EVENT_LOOP", "uvloop") == "asyncio":
        return asyncio.run(main)
    try:
        import uvloop
    except (
        ImportError
    ):  # pragma: no cover - uvloop is a pinned dependency; this keeps odd platforms running
        return asyncio.run(main)
    return uvloop.run(main)


class QuietServer(uvicorn.Server):
    """uvicorn without its own signal handling: ``serve`` owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self):
        yield


async def serve(app: FastAPI, settings: CommonSettings, runner: Runnable | None = None) -> int:
    """Run ``app`` (and ``runner``) until a signal or a runner failure. Returns an exit code."""
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        lifespan="on",
    )
    server = QuietServer(config)
    loop = asyncio.get_running_loop()

    def shutdown() -> None:
        log.info("service.stopping")
        if runner is not None:
            runner.stop()
        server.should_exit = True

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, shutdown)
    tasks = [asyncio.create_task(server.serve(), name="http")]
    if runner is not None:
        tasks.append(asyncio.create_task(runner.run(), name="runner"))
    code = 0
    for finished in asyncio.as_completed(tasks):
        try:
            await finished
        except RunnerFailed:
            code = 1
        shutdown()
    return code


def guard(
    tokens: StaticTokens | None,
    role: str = "agent",
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Callable[..., Awaitable[Principal | None]]:
    """A FastAPI dependency: 401 without a valid bearer token, 403 below ``role``. ``tokens``
    ``None`` leaves the API open (development only: the services pass ``None`` there)."""

    async def caller(
        authorization: Annotated[str | None, Header()] = None,
    ) -> Principal | None:
        if tokens is None:
            return None
        if not tokens.configured:
            raise HTTPException(
                401,
                "this API needs a bearer token and none is configured: set the service's "
                "API_TOKENS (python -m shared.auth new ...)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        try:
            principal = tokens.principal(authorization, clock())
        except Unauthenticated as exc:
            raise HTTPException(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from exc
        if not principal.at_least(role):
            raise HTTPException(403, f"needs role {role} (you are {principal.role})")
        return principal

    return caller
