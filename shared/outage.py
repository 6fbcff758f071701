"""Outages of a dependency: which errors mean "the database (or the broker) cannot be reached
right now", and how a service waits one out in-process instead of crash-looping.

An outage is not a failure of the work: the same work succeeds once the dependency answers
again, so whoever meets one waits (``Backoff``: doubling, capped at ``CAP_S`` so recovery is
noticed within about a second) and tries again, for as long as it lasts, saying so in its logs
and readiness. Everything else stays what it was: a transient error with a bounded number of
retries, or a poison message.

``unavailable(exc)`` names the dependency an error (or anything that caused it) says is gone:

* database: the connection was lost or refused (SQLAlchemy's ``connection_invalidated``;
  psycopg's ``OperationalError`` without a SQLSTATE, or of class 08 connection exception,
  53 insufficient resources, 57P01–57P03 shutdown / cannot connect now); SQLite's file that
  cannot be opened any more;
* broker: aiokafka's retriable errors (connection, request timeout, no leader, coordinator
  moving) except an unknown topic (a missing topic is configuration, not an outage), its
  ``KafkaTimeoutError``, and ``Unavailable`` raised by a bounded send that ran out of time.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from dataclasses import dataclass, field

import psycopg
from aiokafka.errors import KafkaError, KafkaTimeoutError, UnknownTopicOrPartitionError
from sqlalchemy.exc import DBAPIError

from shared.logging import get_logger

log = get_logger(__name__)

DATABASE, BROKER = "database", "broker"
CAP_S = 1.0  # longest wait between two tries during an outage: recovery is seen within ~1 s
REPEAT_S = 30.0  # a lasting outage is logged again this often
_PG_OUTAGE_STATES = ("08", "53", "57P01", "57P02", "57P03")
_SQLITE_OUTAGES = ("unable to open database file", "disk i/o error")


class Unavailable(ConnectionError):
    """``dependency`` did not answer in time (a bounded call ran out); an outage."""

    def __init__(self, dependency: str, message: str) -> None:
        super().__init__(message)
        self.dependency = dependency


def unavailable(exc: BaseException | None) -> str | None:
    """``DATABASE`` or ``BROKER`` when ``exc`` or one of its causes says that dependency cannot
    be reached now; ``None`` for any other error."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        found = _outage_of(exc)
        if found is not None:
            return found
        exc = exc.__cause__ or exc.__context__
    return None


def _outage_of(exc: BaseException) -> str | None:
    if isinstance(exc, Unavailable):
        return exc.dependency
    if isinstance(exc, DBAPIError):
        return DATABASE if exc.connection_invalidated or _db_outage(exc.orig) else None
    if isinstance(exc, KafkaTimeoutError):
        return BROKER
    if isinstance(exc, KafkaError):
        retriable = exc.retriable and not isinstance(exc, UnknownTopicOrPartitionError)
        return BROKER if retriable else None
    return DATABASE if _db_outage(exc) else None


def _db_outage(exc: BaseException | None) -> bool:
    """A driver error (psycopg, sqlite3) that says the server or file cannot be reached."""
    if isinstance(exc, psycopg.OperationalError):
        state = exc.sqlstate
        return state is None or state.startswith(_PG_OUTAGE_STATES)
    if isinstance(exc, sqlite3.OperationalError):
        return str(exc).lower().startswith(_SQLITE_OUTAGES)
    return False


@dataclass
class Backoff:
    """Doubling waits from ``first_s`` up to ``most_s``; ``reset`` after a success."""

    first_s: float = 0.1
    most_s: float = CAP_S
    _next: float = field(default=0.0, init=False)

    def next(self) -> float:
        """The wait before the next try (and doubles the one after)."""
        delay = self._next or self.first_s
        self._next = min(delay * 2, self.most_s)
        return delay

    def reset(self) -> None:
        self._next = 0.0


@dataclass
class Waiting:
    """The log of one party waiting out outages: ``saw`` at each failed try (logged when the
    outage starts and every ``REPEAT_S`` while it lasts), ``over`` once the work succeeded again
    (logged with how long it lasted). ``dependency`` is what is being waited for now, or None."""

    who: str
    dependency: str | None = None
    since: float = 0.0
    _said: float = 0.0
    backoff: Backoff = field(default_factory=Backoff)

    def saw(self, dependency: str, exc: BaseException, **context: object) -> float:
        """Note a try that met an outage of ``dependency``; returns how long to wait now."""
        now = time.monotonic()
        if self.dependency is None:
            self.dependency, self.since, self._said = dependency, now, now
            log.warning(
                "outage.waiting",
                who=self.who,
                dependency=dependency,
                error=f"{type(exc).__name__}: {exc}"[:500],
                **context,
            )
        elif now - self._said >= REPEAT_S:
            self._said = now
            log.warning(
                "outage.still_waiting",
                who=self.who,
                dependency=dependency,
                waited_s=round(now - self.since, 1),
                error=f"{type(exc).__name__}: {exc}"[:500],
            )
        self.dependency = dependency
        return self.backoff.next()

    def over(self) -> None:
        """The work went through: an outage being waited out has ended."""
        if self.dependency is not None:
            log.info(
                "outage.over",
                who=self.who,
                dependency=self.dependency,
                waited_s=round(time.monotonic() - self.since, 1),
            )
        self.dependency = None
        self.backoff.reset()


async def bounded(awaitable, timeout_s: float, dependency: str, what: str):
    """Await ``awaitable`` for at most ``timeout_s``; ``Unavailable`` when it takes longer."""
    try:
        return await asyncio.wait_for(awaitable, timeout_s)
    except TimeoutError as exc:
        raise Unavailable(dependency, f"{what}: no answer within {timeout_s:g}s") from exc


async def patiently(call, who: str, stopping: asyncio.Event | None = None):
    """``await call()`` until it succeeds, waiting out outages (``Waiting``'s capped back-off);
    any other error, or an outage once ``stopping`` is set, is raised."""
    waiting = Waiting(who)
    while True:
        try:
            result = await call()
        except Exception as exc:
            gone = unavailable(exc)
            if gone is None or (stopping is not None and stopping.is_set()):
                raise
            delay = waiting.saw(gone, exc)
            if stopping is None:
                await asyncio.sleep(delay)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), delay)
            continue
        waiting.over()
        return result
