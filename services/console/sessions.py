"""Console sessions: a sign-in exchanges a bearer token for a random session id, which is all the
browser holds (an HttpOnly cookie). The token stays in this process's memory, beside who it
belongs to, the session's CSRF token and its expiry. Pure: the time is passed in.

A session ends at ``ttl_s`` after sign-in (absolute), after ``idle_s`` without a request, or at
sign-out. Sessions live in one process: a restart signs everybody out (they sign in again), and
several console replicas need sticky sessions (docs/console.md).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

ROLES = ("agent", "lead", "admin")


@dataclass(frozen=True)
class User:
    subject: str
    role: str
    team: str | None  # None: every team

    def at_least(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


@dataclass(frozen=True)
class Session:
    id: str
    token: str = field(repr=False)
    user: User
    csrf: str = field(repr=False)
    created_at: datetime
    last_seen: datetime
    expires_at: datetime


class SessionStore:
    """Sessions by id. Ids and CSRF tokens are 256-bit random (``secrets``)."""

    def __init__(self, ttl_s: int, idle_s: int) -> None:
        self.ttl, self.idle = timedelta(seconds=ttl_s), timedelta(seconds=idle_s)
        self._sessions: dict[str, Session] = {}

    def create(self, token: str, user: User, now: datetime) -> Session:
        self._prune(now)
        session = Session(
            id=secrets.token_urlsafe(32),
            token=token,
            user=user,
            csrf=secrets.token_urlsafe(32),
            created_at=now,
            last_seen=now,
            expires_at=now + self.ttl,
        )
        self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None, now: datetime) -> Session | None:
        """The live session ``session_id`` (its idle clock restarted), or ``None``."""
        session = self._sessions.get(session_id or "")
        if session is None:
            return None
        if now >= session.expires_at or now - session.last_seen >= self.idle:
            del self._sessions[session.id]
            return None
        session = replace(session, last_seen=now)
        self._sessions[session.id] = session
        return session

    def end(self, session_id: str | None) -> None:
        self._sessions.pop(session_id or "", None)

    def __len__(self) -> int:
        return len(self._sessions)

    def _prune(self, now: datetime) -> None:
        for sid in [
            s.id
            for s in self._sessions.values()
            if now >= s.expires_at or now - s.last_seen >= self.idle
        ]:
            del self._sessions[sid]


def csrf_ok(session: Session, given: str | None) -> bool:
    """Whether ``given`` is this session's CSRF token (constant time)."""
    return bool(given) and hmac.compare_digest(session.csrf.encode(), (given or "").encode())


class OneTimeCode:
    """The development sign-in link's code: accepted once, then never again."""

    def __init__(self, code: str | None) -> None:
        self._code = code

    def redeem(self, given: str | None) -> bool:
        if self._code is None or not given:
            return False
        if not hmac.compare_digest(self._code.encode(), given.encode()):
            return False
        self._code = None
        return True
