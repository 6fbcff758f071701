"""Held messages: Instagram mentions wait here for their text and author.

A ``mentions`` webhook says only where the account was @mentioned (media id, comment id); the
text and the author need a Graph API call, which may take seconds or be retried for minutes.
Meta wants a fast 200 and re-sends otherwise, so the webhook does not wait for it: the mention
is written to the database (``poller_cursors`` under the source ``_instagram_mentions``, one row
per mention, keyed by its event id, with the webhook's raw body) in the request, before the 200,
and the enrichment worker (``pollers/instagram_mentions.py``) fetches, publishes with
``acks=all``, records the ledger row and only then deletes the held row. A crash at any point
leaves either the held row (fetched and published again, same event id) or the ledger row: an
accepted mention is never lost.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

from services.ingestor.ledger import Ledger, insert_ignore
from services.ingestor.normalized import Item
from services.ingestor.tables import PollerCursor, RawPayload
from shared.events import derived_id

SOURCE = "_instagram_mentions"  # not a valid source name, so it never clashes with a configured one


def event_id(item: Item) -> str:
    """The id the published event will carry (as ``Acceptor`` derives it)."""
    return derived_id(item.dedup_key, "ingestor")


class HeldMessages:
    """Writes deferred messages for the worker and wakes it (on this replica)."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self._listeners: list[Callable[[], None]] = []

    def listen(self, wake: Callable[[], None]) -> None:
        self._listeners.append(wake)

    async def hold(
        self, source: str, items: list[Item], raw: RawPayload, correlation_id: str, now: datetime
    ) -> list[str]:
        """Store ``items`` (new to the ledger) and ``raw`` in one transaction; the event ids of the
        items not held already (a re-sent webhook finds them waiting). Raises ``LedgerUnavailable``."""
        held = []
        async with self._ledger.connection(write=True) as conn:
            await insert_ignore(
                conn,
                RawPayload,
                [{column.key: getattr(raw, column.key) for column in RawPayload.__table__.columns}],
            )
            for item in items:
                position = {
                    "source": source,
                    "key": item.dedup_key,
                    "correlation_id": correlation_id,
                    "message": item.message.model_dump(mode="json"),
                }
                row = {
                    "source": SOURCE,
                    "target": event_id(item),
                    "position": json.dumps(position, sort_keys=True),
                    "next_poll_at": now,
                    "last_polled_at": None,
                    "updated_at": now,
                }
                if await insert_ignore(conn, PollerCursor, [row]):
                    held.append(row["target"])
        if held:
            for wake in self._listeners:
                wake()
        return held
