"""Signed one-click links in a page: ``…/v1/incidents/{id}/{action}?by=…&exp=…&sig=…``.

``sig`` is HMAC-SHA256 (``NOTIFIER_SIGNING_KEY``) over ``action|incident|by|exp``, hex. Pure:
the time is passed in. ``verify`` raises ``LinkRefused`` with the reason the API reports (403).
"""

from __future__ import annotations

import hashlib
import hmac
import sys
from datetime import datetime, timedelta
from urllib.parse import urlencode

ACTIONS = ("ack", "resolve")


class LinkRefused(PermissionError):
    """The link is wrong (bad signature, unknown action) or expired; the message says which."""


def _signature(key: str, action: str, incident_id: str, by: str, exp: int) -> str:
    message = f"{action}|{incident_id}|{by}|{exp}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def link(
    base_url: str, key: str, action: str, incident_id: str, by: str, now: datetime, ttl: timedelta
) -> str:
    """The signed URL for ``action`` on ``incident_id`` by ``by``, valid until ``now + ttl``."""
    exp = int((now + ttl).timestamp())
    query = urlencode({"by": by, "exp": exp, "sig": _signature(key, action, incident_id, by, exp)})
    return f"{base_url.rstrip('/')}/v1/incidents/{incident_id}/{action}?{query}"


def verify(
    key: str, action: str, incident_id: str, by: str, exp: int, sig: str, now: datetime
) -> None:
    """Accept the link or raise ``LinkRefused``: the signature is checked before the expiry."""
    if action not in ACTIONS:
        raise LinkRefused(f"unknown action {action!r}")
    # as bytes: compare_digest refuses str with non-ASCII characters (a 500 from user input)
    if not hmac.compare_digest(
        _signature(key, action, incident_id, by, exp).encode(), sig.encode()
    ):
        raise LinkRefused("bad signature")
    if now.timestamp() >= exp:
        raise LinkRefused("link expired")


def feed_key(key: str, team: str) -> str:
    """The secret key of ``team``'s iCal rota feed (``/v1/rotas/{team}.ics?key=…``), derived
    from ``NOTIFIER_SIGNING_KEY``: rotating that key revokes every feed URL."""
    return hmac.new(key.encode(), f"rota-feed|{team}".encode(), hashlib.sha256).hexdigest()[:32]


def verify_feed(key: str, team: str, given: str | None) -> None:
    """Accept the feed key of ``team`` or raise ``LinkRefused`` saying what is wrong."""
    if not given:
        raise LinkRefused(
            "missing feed key (?key=…; python -m services.notifier.links feed-url TEAM prints the URL)"
        )
    if not hmac.compare_digest(feed_key(key, team).encode(), given.encode()):
        raise LinkRefused("bad feed key")


def main(argv: list[str]) -> int:
    """``python -m services.notifier.links feed-url TEAM``: the team's iCal feed URL."""
    from services.notifier.settings import NotifierSettings

    if len(argv) != 2 or argv[0] != "feed-url":
        print("usage: python -m services.notifier.links feed-url TEAM", file=sys.stderr)
        return 2
    settings = NotifierSettings()
    key = feed_key(settings.signing_key.get_secret_value(), argv[1])
    print(f"{settings.public_url.rstrip('/')}/v1/rotas/{argv[1]}.ics?key={key}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
