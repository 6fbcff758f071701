"""Bearer API tokens with roles, for services whose tokens are configuration rather than rows.

The model the router uses too (``services/router/auth.py`` keeps its tokens as rows): a token is random, shown once and
kept only as its SHA-256 hex digest; roles nest (``admin`` ⊇ ``lead`` ⊇ ``agent``); a principal
with ``team`` ``None`` acts for every team. ``StaticTokens`` takes a bootstrap admin token
(optional) and a table ``sha256(token) -> TokenGrant`` from the settings, so nothing but hashes
sits in the environment.

A grant may carry ``expires_at``: past it the token gets a 401 saying it expired; revoking a
configured token is removing its entry. ``shared.service.guard`` is the FastAPI dependency the
services put in front of their APIs.

``python -m shared.auth new <subject> <role> [team] [--days N]`` prints a fresh token and the JSON
entry to put in the service's token table (e.g. ``NOTIFIER_API_TOKENS``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

ROLES = ("agent", "lead", "admin")


class TokenGrant(BaseModel):
    """Who a token is and what it may do."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    subject: str = Field(min_length=1, max_length=128)
    role: Literal["agent", "lead", "admin"]
    team: str | None = Field(None, description="The team acted for; None = every team")
    expires_at: AwareDatetime | None = Field(None, description="None: until removed")


@dataclass(frozen=True)
class Principal:
    subject: str
    role: str
    team: str | None  # None: every team

    def at_least(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)

    def may_act_for(self, team: str) -> bool:
        return self.team is None or self.team == team


class Unauthenticated(Exception):
    """No valid bearer token (HTTP 401)."""


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def bearer(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header. Raises ``Unauthenticated``."""
    if (
        not authorization
        or not authorization.lower().startswith("bearer ")
        or not authorization[7:].strip()
    ):
        raise Unauthenticated("missing bearer token (Authorization: Bearer <token>)")
    return authorization[7:].strip()


class StaticTokens:
    """Tokens from configuration: an optional admin token and hashed grants."""

    def __init__(self, admin_token: str | None, grants: dict[str, TokenGrant]) -> None:
        self._admin = admin_token or None
        self._grants = {k.lower(): v for k, v in grants.items()}

    @property
    def configured(self) -> bool:
        return self._admin is not None or bool(self._grants)

    def principal(self, authorization: str | None, now: datetime | None = None) -> Principal:
        """The caller of a request with this ``Authorization`` header. Raises ``Unauthenticated``
        (unknown, removed or expired token; the message says which)."""
        token = bearer(authorization)
        if self._admin is not None and hmac.compare_digest(token.encode(), self._admin.encode()):
            return Principal("admin", "admin", None)
        grant = self._grants.get(digest(token))
        if grant is None:
            raise Unauthenticated("unknown or revoked token")
        if grant.expires_at is not None and grant.expires_at <= (now or datetime.now(UTC)):
            raise Unauthenticated(
                f"token expired on {grant.expires_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
            )
        return Principal(grant.subject, grant.role, grant.team)


def api_tokens(environment: str, admin_token: str | None, grants: dict[str, TokenGrant]):
    """The tokens a service's API asks for: none in development (open, for the local stack),
    else the configured admin token and grants (none configured: every call is a 401)."""
    if environment == "development":
        return None
    return StaticTokens(admin_token, grants)


def new_token(prefix: str = "sb") -> str:
    return f"{prefix}_{secrets.token_urlsafe(24)}"


def main(argv: list[str]) -> int:
    days = None
    if "--days" in argv:
        at = argv.index("--days")
        try:
            days = float(argv[at + 1])
        except (IndexError, ValueError):
            days = -1.0
        argv = argv[:at] + argv[at + 2 :]
    if (
        len(argv) < 3
        or argv[0] != "new"
        or argv[2] not in ROLES
        or (days is not None and days <= 0)
    ):
        print(
            "usage: python -m shared.auth new <subject> <agent|lead|admin> [team] [--days N]",
            file=sys.stderr,
        )
        return 2
    expires = datetime.now(UTC) + timedelta(days=days) if days else None
    grant = TokenGrant(
        subject=argv[1],
        role=argv[2],
        team=argv[3] if len(argv) > 3 else None,
        expires_at=expires,
    )
    token = new_token()
    print(f"token (shown once): {token}")
    print(json.dumps({digest(token): grant.model_dump(mode="json", exclude_none=True)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
