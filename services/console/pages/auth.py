"""Sign-in and sign-out. The form takes an existing bearer token (the router's, ``POST
/v1/admin/tokens`` or ``ROUTER_ADMIN_TOKEN``), asks the router who it belongs to (``GET /v1/me``)
and answers with a session cookie; the token itself never reaches the browser again. In
development, ``make run`` prints a one-time link (``/signin/once?code=…``) that signs in as the
development user once.

The sign-in form is protected against login CSRF with a double-submit value (a short-lived
HttpOnly cookie and the same value in the form) and the same-origin check."""

from __future__ import annotations

import hmac
import secrets

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse

from services.console import security
from services.console.backends import BackendError
from services.console.sessions import User
from services.console.web import ConsoleDep, SignedIn, changed, form_of, render

router = APIRouter()
PRE = "sb_console_signin"


def _safe_next(value: str | None) -> str:
    """Only a path of this console (no scheme, no host, no ``//``) is followed after sign-in."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/flow"
    return value


@router.get("/")
async def home() -> RedirectResponse:
    return RedirectResponse("/flow", status_code=303)


@router.get("/favicon.ico", include_in_schema=False)
async def favicon() -> RedirectResponse:
    return RedirectResponse("/static/favicon.svg", status_code=308)


@router.get("/signin")
async def signin_form(request: Request, console: ConsoleDep, next: str | None = None):
    pre = secrets.token_urlsafe(24)
    response = render(request, "signin.html", pre=pre, next=_safe_next(next), error=None)
    response.set_cookie(
        PRE,
        pre,
        max_age=900,
        httponly=True,
        secure=console.settings.cookie_secure,
        samesite="strict",
        path="/signin",
    )
    return response


@router.post("/signin")
async def signin(request: Request, console: ConsoleDep):
    form = await form_of(request)
    pre_cookie, pre_form = request.cookies.get(PRE, ""), str(form.get("pre", ""))
    if not security.same_origin(
        request.headers.get("host"), request.headers.get("origin"), request.headers.get("referer")
    ) or not (pre_cookie and hmac.compare_digest(pre_cookie.encode(), pre_form.encode())):
        raise HTTPException(
            403, "refused: the sign-in form expired or did not come from this console; reload it"
        )
    token = str(form.get("token", "")).strip()
    next_path = _safe_next(str(form.get("next", "")))
    if not token or len(token) > 512:
        return render(
            request,
            "signin.html",
            status=422,
            pre=pre_form,
            next=next_path,
            error="Paste your API token (it starts with sbr_ or is your admin token).",
        )
    try:
        me = await console.backends.get("router", "/v1/me", token)
    except BackendError as exc:
        if exc.status in (401, 403):
            return render(
                request,
                "signin.html",
                status=401,
                pre=pre_form,
                next=next_path,
                error="That token is unknown or revoked.",
            )
        raise
    return _start(console, token, me, next_path)


@router.get("/signin/once")
async def signin_once(console: ConsoleDep, code: str | None = None):
    """The development one-time link: valid once, then 403."""
    token = console.settings.signin_token
    if token is None or not console.code.redeem(code):
        raise HTTPException(
            403, "this sign-in link was already used or is wrong; sign in with a token"
        )
    me = await console.backends.get("router", "/v1/me", token.get_secret_value())
    return _start(console, token.get_secret_value(), me, "/flow")


@router.post("/signout")
async def signout(request: Request, session: SignedIn, console: ConsoleDep):
    await changed(request, session)
    console.sessions.end(session.id)
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(security.COOKIE, path="/")
    return response


def _start(console, token: str, me: dict, next_path: str) -> RedirectResponse:
    user = User(subject=str(me["subject"]), role=str(me["role"]), team=me.get("team"))
    session = console.sessions.create(token, user, console.clock())
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(
        **security.cookie_options(console.settings.session_ttl_s, console.settings.cookie_secure),
        value=session.id,
    )
    response.delete_cookie(PRE, path="/signin")
    return response
