"""Bearer API tokens with roles, for services whose tokens are configuration rather than rows.

The model the router uses too (``services/router/auth.py`` keeps its tokens as rows): a token is random, shown once and
kept only as its SHA-256 hex digest; roles nest (``admin`` ⊇ ``lead`` ⊇ ``agent``); a principal
with ``team`` ``None`` acts for every team. ``StaticTokens`` takes a bootstrap admin token
(optional) and a table ``sha256(token) -> TokenGrant`` from the settings, so nothing but hashes
sits in the environment.

``python -m shared.auth new <subject> <role> [team]`` prints a fresh token and the JSON entry to
put in the service's token table (e.g. ``NOTIFIER_API_TOKENS``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sys
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ROLES = ("agent", "lead", "admin")


class TokenGrant(BaseModel):
    """Who a token is and what it may do."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    subject: str = Field(min_length=1, max_length=128)
    role: Literal["agent", "lead", "admin"]
    team: str | None = Field(None, description="The team acted for; None = every team")


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

    def principal(self, authorization: str | None) -> Principal:
        """The caller of a request with this ``Authorization`` header. Raises ``Unauthenticated``."""
        token = bearer(authorization)
        if self._admin is not None and hmac.compare_digest(token.encode(), self._admin.encode()):
            return Principal("admin", "admin", None)
        grant = self._grants.get(digest(token))
        if grant is None:
            raise Unauthenticated("unknown or revoked token")
        return Principal(grant.subject, grant.role, grant.team)


def new_token(prefix: str = "sb") -> str:
    return f"{prefix}_{secrets.token_urlsafe(24)}"


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[0] != "new" or argv[2] not in ROLES:
        print(
            "usage: python -m shared.auth new <subject> <agent|lead|admin> [team]", file=sys.stderr
        )
        return 2
    grant = TokenGrant(subject=argv[1], role=argv[2], team=argv[3] if len(argv) > 3 else None)
    token = new_token()
    print(f"token (shown once): {token}")
    print(json.dumps({digest(token): grant.model_dump()}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
