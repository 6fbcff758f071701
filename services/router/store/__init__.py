"""The router's data access for items and agents, one door: ``Repository`` (one transaction:
the consumer's ledger and facts, assignment and capacity, lifecycle receipts), ``RoutedItems``
(reads outside a transaction), ``Directory`` (teams, queues, agents and SLA policies synced from
the configuration; agent status) and the row conventions (``rows``). Everything else in the
router reaches routed items and agents through here; KPI aggregates (``reports``), triage
review (``triage``), drafts (``reviews``), the outbox and webhook deliveries keep their own
tables."""

from services.router.store.directory import STATUSES, Directory, UnknownAgent
from services.router.store.items import RoutedItems
from services.router.store.repository import Repository, transaction
from services.router.store.rows import (
    ASSIGNED,
    MAX_TAG,
    PENDING,
    QUEUED,
    RESOLVED,
    TRIAGED,
    WAITING,
    audit,
    aware,
    item_row,
    routing_of,
    utc,
    view,
)

__all__ = [
    "ASSIGNED",
    "MAX_TAG",
    "PENDING",
    "QUEUED",
    "RESOLVED",
    "STATUSES",
    "TRIAGED",
    "WAITING",
    "Directory",
    "Repository",
    "RoutedItems",
    "UnknownAgent",
    "audit",
    "aware",
    "item_row",
    "routing_of",
    "transaction",
    "utc",
    "view",
]
