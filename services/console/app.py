"""The console's composition root: ``create_app(settings)`` wires the backends, the session store,
the templates, the security headers and the pages."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from services.console import security
from services.console.backends import BackendError, Backends
from services.console.pages import PAGES
from services.console.sessions import OneTimeCode, SessionStore
from services.console.settings import ConsoleSettings
from services.console.web import HERE, Console, SignInRequired, render, signin_redirect
from shared.logging import get_logger
from shared.service import ops_router

log = get_logger(__name__)


def create_app(settings: ConsoleSettings, console: Console | None = None) -> FastAPI:
    console = console or Console(
        settings=settings,
        backends=Backends(
            {
                "ingestor": settings.ingestor_url,
                "classifier": settings.classifier_url,
                "router": settings.router_url,
                "notifier": settings.notifier_url,
            },
            settings.backend_timeout_s,
        ),
        sessions=SessionStore(settings.session_ttl_s, settings.session_idle_s),
        code=OneTimeCode(settings.signin_code.get_secret_value() if settings.signin_code else None),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        await console.backends.close()

    app = FastAPI(
        title="Switchboard console",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.console = console

    @app.middleware("http")
    async def secure_headers(request: Request, call_next):
        response = await call_next(request)
        for name, value in security.headers_for(request.url.path).items():
            response.headers.setdefault(name, value)
        return response

    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    for page in PAGES:
        app.include_router(page.router)
    app.include_router(ops_router(live=lambda: True, ready=lambda: True))
    _errors(app, console)
    return app


def _errors(app: FastAPI, console: Console) -> None:
    @app.exception_handler(SignInRequired)
    async def sign_in(request: Request, exc: SignInRequired):
        return RedirectResponse(signin_redirect(exc.next_path), status_code=303)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        return render(request, "error.html", status=exc.status_code, detail=exc.detail)

    @app.exception_handler(RequestValidationError)
    async def bad_input(request: Request, exc: RequestValidationError):
        problems = "; ".join(
            f"{'.'.join(str(x) for x in e['loc'][1:])}: {e['msg']}" for e in exc.errors()
        )
        return render(request, "error.html", status=422, detail=f"invalid input: {problems}")

    @app.exception_handler(BackendError)
    async def backend_error(request: Request, exc: BackendError):
        if exc.status == 401:  # the token was revoked or expired: this session is over
            console.sessions.end(request.cookies.get(security.COOKIE))
            response = RedirectResponse(signin_redirect(request.url.path), status_code=303)
            response.delete_cookie(security.COOKIE, path="/")
            return response
        status = exc.status if 400 <= exc.status < 500 else 503
        log.info("console.backend_error", service=exc.service, status=exc.status)
        return render(
            request, "error.html", status=status, detail=f"{exc.service} said: {exc.detail}"
        )
