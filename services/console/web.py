"""What every page handler uses: the ``Console`` (settings, backends, sessions, templates), the
signed-in user (``SignedIn``, ``needs(role)``), the checks on a change (``changed``: same origin
and the session's CSRF token) and ``render``.

Failures become pages: no session → the sign-in form (303, ``?next=``); a role too low → 403;
a bad or missing CSRF token → 403; a service's 4xx → that status with the service's reason; a
service that cannot be reached → 503. A service answering 401 for the session's token (revoked
or expired) ends the session."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote

from fastapi import Depends, HTTPException, Request
from fastapi.templating import Jinja2Templates

from services.console import present, security
from services.console.backends import Backends
from services.console.flow import FlowSamples
from services.console.sessions import OneTimeCode, Session, SessionStore, csrf_ok
from services.console.settings import ConsoleSettings

HERE = Path(__file__).resolve().parent
NAV = (  # (path, label, least role)
    ("/flow", "Flow", "agent"),
    ("/queues", "Queues", "agent"),
    ("/triage", "Triage", "agent"),
    ("/tester", "Rule tester", "agent"),
    ("/oncall", "On-call", "agent"),
    ("/kpis", "KPIs", "lead"),
    ("/planning", "Planning", "lead"),
    ("/admin", "Admin", "admin"),
)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Console:
    settings: ConsoleSettings
    backends: Backends
    sessions: SessionStore
    code: OneTimeCode
    clock: Callable[[], datetime] = utcnow
    flow: FlowSamples = field(default_factory=FlowSamples)
    templates: Jinja2Templates = field(
        default_factory=lambda: Jinja2Templates(directory=str(HERE / "templates"))
    )

    def __post_init__(self) -> None:
        env = self.templates.env
        env.globals.update(
            duration=present.duration, clock_time=present.clock_time, sla_clock=present.sla_clock
        )
        env.autoescape = True


def console_of(request: Request) -> Console:
    return request.app.state.console


ConsoleDep = Annotated[Console, Depends(console_of)]


class SignInRequired(Exception):
    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


def current(request: Request, console: ConsoleDep) -> Session:
    """The request's live session; ``SignInRequired`` without one."""
    session = console.sessions.get(request.cookies.get(security.COOKIE), console.clock())
    if session is None:
        raise SignInRequired(request.url.path)
    request.state.session = session
    return session


SignedIn = Annotated[Session, Depends(current)]


def needs(role: str):
    """A dependency: the session, 403 when its user's role is below ``role``."""

    def check(session: SignedIn) -> Session:
        if not session.user.at_least(role):
            raise HTTPException(
                403, f"this page needs the {role} role (you are {session.user.role})"
            )
        return session

    return Depends(check)


MAX_FORM_BYTES = 256 * 1024


async def form_of(request: Request) -> dict[str, str]:
    """The request's URL-encoded form (what the console's forms send): 415 for another body type,
    413 above ``MAX_FORM_BYTES``. The last value of a repeated field wins."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise HTTPException(415, "send the form as application/x-www-form-urlencoded")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise HTTPException(413, f"form larger than {MAX_FORM_BYTES} bytes")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=200)
    except (UnicodeDecodeError, ValueError) as exc:
        raise HTTPException(400, f"unreadable form: {exc}") from exc
    return dict(pairs)


async def changed(request: Request, session: Session) -> dict[str, str]:
    """The form of a changing request after its checks: 403 unless it comes from this console's
    own pages (Origin/Referer) and carries the session's CSRF token (form field or header)."""
    if not security.same_origin(
        request.headers.get("host"), request.headers.get("origin"), request.headers.get("referer")
    ):
        raise HTTPException(403, "refused: the request did not come from a console page")
    form = await form_of(request)
    given = form.get(security.CSRF_FIELD) or request.headers.get(security.CSRF_HEADER)
    if not csrf_ok(session, given):
        raise HTTPException(403, "refused: missing or wrong CSRF token (reload the page and retry)")
    return form


def render(request: Request, template: str, status: int = 200, **context: Any):
    console = console_of(request)
    session: Session | None = getattr(request.state, "session", None)
    nav = [
        (path, label)
        for path, label, role in NAV
        if session is not None and session.user.at_least(role)
    ]
    return console.templates.TemplateResponse(
        request,
        template,
        {
            "user": session.user if session else None,
            "csrf": session.csrf if session else "",
            "nav": nav,
            "path": request.url.path,
            "now": console.clock(),
            "flash": request.query_params.get("done"),
            **context,
        },
        status_code=status,
    )


def signin_redirect(next_path: str) -> str:
    return f"/signin?next={quote(next_path, safe='/')}"
