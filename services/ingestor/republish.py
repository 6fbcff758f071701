"""``python -m services.ingestor.republish --since <ISO time> [--until <ISO time>]``: publish
again, to the raw topic and with ``acks=all``, every event the ingestor accepted in that window,
oldest first, exactly as it was published the first time (same id, time, key and headers).

For a broker that lost what it held (the embedded development broker keeps everything in
memory: ``switchboard run`` calls this after restarting it, before the services start) or a
topic that was deleted by mistake. Every accepted event is in the dedup ledger
(``ingested_messages.event``, written after the first ack and before the 2xx), so the ledger is
the record of what was promised. Re-publishing what had already reached the end is harmless:
the classifier derives its output ids from the input id and the router and notifier skip items
they already hold. Dead-lettered items are not re-published (their raw bodies stay in
``raw_payloads``). Exits 0 and prints the number published; 1 when the database or the broker
failed (nothing is skipped silently: run it again).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime

from services.ingestor.ledger import Ledger
from services.ingestor.settings import IngestorSettings
from shared import kafka, logging, topics
from shared.codec import encode
from shared.events import MessageReceived
from shared.logging import get_logger

log = get_logger(__name__)
CLIENT_ID = "switchboard-ingestor-republish"


async def republish(
    settings: IngestorSettings, since: datetime, until: datetime | None = None, chunk: int = 500
) -> int:
    """Publish every accepted event received in ``[since, until)`` again and wait for each ack;
    the number published. Raises ``LedgerUnavailable`` or a ``KafkaError`` (some may have been
    published: running it again is harmless)."""
    topic = topics.qualified(topics.RAW, settings.kafka_topic_namespace)
    ledger = Ledger(settings.database_url)
    producer = kafka.producer(settings, CLIENT_ID)
    published = 0
    try:
        await producer.start()
        async for events in ledger.accepted_events(since, until, chunk):
            acks = [
                await kafka.send(producer, topic, encode(MessageReceived.model_validate_json(e)))
                for e in events
            ]
            await asyncio.gather(*acks)
            published += len(acks)
    finally:
        await producer.stop()
        await ledger.close()
    log.info("ingestor.republished", events=published, since=since.isoformat(), topic=topic)
    return published


def _time(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.ingestor.republish", description=__doc__.split("\n\n")[1]
    )
    parser.add_argument("--since", type=_time, required=True, help="ISO time (UTC if no offset)")
    parser.add_argument("--until", type=_time, default=None, help="ISO time; default: now")
    args = parser.parse_args(argv)
    settings = IngestorSettings()
    logging.configure(settings.log_level, settings.log_json)
    try:
        count = asyncio.run(republish(settings, args.since, args.until))
    except Exception as exc:  # noqa: BLE001 - the command's answer: say why, exit 1
        print(f"republish failed: {type(exc).__name__}: {exc}", file=sys.stderr)  # noqa: T201
        return 1
    print(f"republished {count} events since {args.since.isoformat()}")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
