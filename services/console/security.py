"""Security headers on every answer and the checks on every change. Pure.

The Content-Security-Policy allows scripts, styles, images and connections from the console's own
origin only: no inline script or style, no ``eval``, no framing (``frame-ancestors 'none'``),
forms post only here. Pages are ``no-store`` (they show customer messages)."""

from __future__ import annotations

from urllib.parse import urlsplit

CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    )
)

HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",  # no-referrer would make browsers send Origin: null
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}

COOKIE = "sb_console"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def headers_for(path: str) -> dict[str, str]:
    """The headers every answer gets; pages and fragments also ``Cache-Control: no-store``
    (static assets may be cached)."""
    out = dict(HEADERS)
    out["Cache-Control"] = "public, max-age=3600" if path.startswith("/static/") else "no-store"
    return out


def same_origin(host: str | None, origin: str | None, referer: str | None) -> bool:
    """A changing request must come from a page of this console: its ``Origin`` (or, without
    one, its ``Referer``) names this host. Neither present: allowed (the CSRF token decides)."""
    source = origin or referer
    if not source or source == "null":
        return source != "null"
    return bool(host) and urlsplit(source).netloc.lower() == (host or "").lower()


def cookie_options(ttl_s: int, secure: bool) -> dict:
    """``Set-Cookie`` attributes of the session cookie: HttpOnly, SameSite=Strict, path /."""
    return {
        "key": COOKIE,
        "max_age": ttl_s,
        "httponly": True,
        "secure": secure,
        "samesite": "strict",
        "path": "/",
    }
