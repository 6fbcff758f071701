"""Bearer API tokens and roles. Tokens are random, shown once, and stored only as SHA-256
hashes; the bootstrap admin token comes from the settings. Issued tokens expire (the settings'
``token_ttl_days`` unless the issuer gives another lifetime; tokens issued before expiry existed
keep working until revoked) and an admin can revoke one at once by its public id (the first 12
hex digits of its hash, which say nothing about the token). Roles nest: an admin may do what a
lead may, a lead what an agent may. Agents act on their team's queues; leads see their team.
The token model (roles, principal, digest, header parsing) is ``shared.auth``'s; the router keeps
its tokens as rows (``api_tokens``) rather than configuration.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from services.router.tables import Agent, ApiToken
from shared.auth import ROLES, Principal, Unauthenticated, bearer, digest

__all__ = ["ROLES", "Principal", "TokenInfo", "Tokens", "Unauthenticated", "digest"]
ID_LENGTH = 12  # hex digits of the hash that name a token in lists and revocations


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


@dataclass(frozen=True)
class TokenInfo:
    """What an admin may see of a token: never the token, nor its whole hash."""

    id: str
    subject: str
    role: str
    team: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    revoked_by: str | None

    @classmethod
    def of(cls, row: ApiToken) -> TokenInfo:
        return cls(
            id=row.token_hash[:ID_LENGTH],
            subject=row.subject,
            role=row.role,
            team=row.team_id,
            created_at=_utc(row.created_at),
            expires_at=_utc(row.expires_at) if row.expires_at else None,
            revoked_at=_utc(row.revoked_at) if row.revoked_at else None,
            revoked_by=row.revoked_by,
        )


class Tokens:
    def __init__(
        self,
        sessions,
        admin_token: str,
        ttl: timedelta | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._sessions, self._admin = sessions, admin_token
        self._ttl, self._clock = ttl, clock

    async def principal(self, authorization: str | None) -> Principal:
        """The caller of a request with this ``Authorization`` header. Raises ``Unauthenticated``
        for an unknown, revoked or expired token (the message says which)."""
        token = bearer(authorization)
        if hmac.compare_digest(token.encode(), self._admin.encode()):
            return Principal("admin", "admin", None)
        async with self._sessions() as session:
            row = await session.get(ApiToken, digest(token))
            if row is None:
                raise Unauthenticated("unknown token")
            if row.revoked_at is not None:
                raise Unauthenticated(f"token revoked on {_utc(row.revoked_at):%Y-%m-%d %H:%M} UTC")
            if row.expires_at is not None and _utc(row.expires_at) <= _utc(self._clock()):
                raise Unauthenticated(
                    f"token expired on {_utc(row.expires_at):%Y-%m-%d %H:%M} UTC; ask an admin "
                    "for a new one"
                )
            team = row.team_id
            if (
                row.role == "agent"
                and team is None
                and (agent := await session.get(Agent, row.subject))
            ):
                team = agent.team_id
        return Principal(row.subject, row.role, team)

    async def issue(
        self,
        subject: str,
        role: str,
        team: str | None,
        now: datetime,
        lifetime: timedelta | None = None,
    ) -> tuple[str, TokenInfo]:
        """A new token for ``subject`` (returned once, stored hashed) living ``lifetime`` (the
        default lifetime if ``None``). Raises ``ValueError``."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        lifetime = lifetime or self._ttl
        token = f"sbr_{secrets.token_urlsafe(24)}"
        row = ApiToken(
            token_hash=digest(token),
            subject=subject,
            role=role,
            team_id=team,
            created_at=_utc(now),
            expires_at=_utc(now) + lifetime if lifetime else None,
        )
        async with self._sessions() as session:
            session.add(row)
            await session.commit()
            info = TokenInfo.of(row)
        return token, info

    async def list(self) -> list[TokenInfo]:
        async with self._sessions() as session:
            rows = (await session.execute(select(ApiToken).order_by(ApiToken.created_at))).scalars()
            return [TokenInfo.of(r) for r in rows]

    async def revoke(self, token_id: str, by: str, now: datetime) -> TokenInfo | None:
        """Revoke the token named by its public id (at once, for every replica: each request
        reads the row). ``None`` if no token has that id; revoking twice keeps the first time."""
        if len(token_id) != ID_LENGTH or any(c not in "0123456789abcdef" for c in token_id):
            return None
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(ApiToken).where(ApiToken.token_hash.startswith(token_id))
                )
            ).scalar_one_or_none()
            if row is None:
                return None
            if row.revoked_at is None:
                row.revoked_at, row.revoked_by = _utc(now), by
                await session.commit()
            return TokenInfo.of(row)
