"""Bearer API tokens and roles. Tokens are random, shown once, and stored only as SHA-256
hashes; the bootstrap admin token comes from the settings. Roles nest: an admin may do what a
lead may, a lead what an agent may. Agents act on their team's queues; leads see their team.
The token model (roles, principal, digest, header parsing) is ``shared.auth``'s; the router keeps
its tokens as rows (``api_tokens``) rather than configuration.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import UTC, datetime

from services.router.tables import Agent, ApiToken
from shared.auth import ROLES, Principal, Unauthenticated, bearer, digest

__all__ = ["ROLES", "Principal", "Tokens", "Unauthenticated", "digest"]


class Tokens:
    def __init__(self, sessions, admin_token: str) -> None:
        self._sessions, self._admin = sessions, admin_token

    async def principal(self, authorization: str | None) -> Principal:
        """The caller of a request with this ``Authorization`` header. Raises ``Unauthenticated``."""
        token = bearer(authorization)
        if hmac.compare_digest(token.encode(), self._admin.encode()):
            return Principal("admin", "admin", None)
        async with self._sessions() as session:
            row = await session.get(ApiToken, digest(token))
            if row is None:
                raise Unauthenticated("unknown or revoked token")
            team = row.team_id
            if (
                row.role == "agent"
                and team is None
                and (agent := await session.get(Agent, row.subject))
            ):
                team = agent.team_id
        return Principal(row.subject, row.role, team)

    async def issue(self, subject: str, role: str, team: str | None, now: datetime) -> str:
        """A new token for ``subject`` (returned once, stored hashed). Raises ``ValueError``."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        token = f"sbr_{secrets.token_urlsafe(24)}"
        async with self._sessions() as session:
            session.add(
                ApiToken(
                    token_hash=digest(token),
                    subject=subject,
                    role=role,
                    team_id=team,
                    created_at=now.astimezone(UTC),
                )
            )
            await session.commit()
        return token
