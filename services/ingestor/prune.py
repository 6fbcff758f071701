"""``python -m services.ingestor.prune``: delete dedup-ledger rows older than
``INGESTOR_DEDUP_RETENTION_DAYS`` (at least 7: the longest platform retry window is WhatsApp's
7 days) and raw bodies older than ``INGESTOR_RAW_RETENTION_DAYS``. Run it daily (a Kubernetes
CronJob); it is idempotent and safe beside running ingestors.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime, timedelta

from services.ingestor.ledger import Ledger
from services.ingestor.settings import IngestorSettings
from shared import logging
from shared.events import utcnow
from shared.logging import get_logger

log = get_logger(__name__)


async def prune(settings: IngestorSettings, now: datetime | None = None) -> tuple[int, int]:
    """Delete expired rows; ``(ledger rows, raw bodies)`` deleted. Raises ``LedgerUnavailable``."""
    now = now or utcnow()
    ledger = Ledger(settings.database_url)
    try:
        counts = await ledger.prune(
            now - timedelta(days=settings.dedup_retention_days),
            now - timedelta(days=settings.raw_retention_days),
        )
    finally:
        await ledger.close()
    log.info(
        "ingestor.pruned",
        ledger_rows=counts[0],
        raw_bodies=counts[1],
        dedup_retention_days=settings.dedup_retention_days,
        raw_retention_days=settings.raw_retention_days,
    )
    return counts


def main() -> None:
    settings = IngestorSettings()
    logging.configure(settings.log_level, settings.log_json)
    asyncio.run(prune(settings))
    sys.exit(0)


if __name__ == "__main__":
    main()
