"""The topic registry, loaded from ``topics.yaml`` (data, not code).

Every place that needs a topic name — services, the broker launcher, deploy generators and
tests — reads it from here. A *namespace* prefix lets tests and parallel stacks use a fresh
set of topics on one broker without touching anyone else's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml

RAW = "switchboard.messages.raw.v1"
CLASSIFIED = "switchboard.messages.classified.v1"
ROUTED = "switchboard.items.routed.v1"
PAGES = "switchboard.pages.sent.v1"
SPIKED = "switchboard.issues.spiked.v1"
UNSTAFFED = "switchboard.queues.unstaffed.v1"
ASSIGNED = "switchboard.items.assigned.v1"
LIFECYCLE = "switchboard.helpdesk.lifecycle.v1"
RELEASED = "switchboard.replies.released.v1"
CONNECTORS = "switchboard.connectors.status.v1"
CORRECTIONS = "switchboard.classifications.corrected.v1"


@dataclass(frozen=True)
class TopicSpec:
    """One registered topic."""

    name: str
    partitions: int
    key: str
    event_type: str
    dlq: str | None
    producers: tuple[str, ...]
    consumers: tuple[str, ...]
    description: str

    @property
    def is_dlq(self) -> bool:
        return self.name.endswith(".dlq")


class UnknownTopic(KeyError):
    """Raised when a name is not in the registry."""


@lru_cache(maxsize=1)
def registry() -> tuple[TopicSpec, ...]:
    """All registered topics, in file order. Raises ``ValueError`` on an inconsistent file."""
    text = resources.files("shared").joinpath("topics.yaml").read_text(encoding="utf-8")
    specs = tuple(_spec(entry) for entry in yaml.safe_load(text)["topics"])
    _check(specs)
    return specs


def _spec(entry: dict) -> TopicSpec:
    return TopicSpec(
        name=entry["name"],
        partitions=int(entry["partitions"]),
        key=entry["key"],
        event_type=entry["event_type"],
        dlq=entry.get("dlq"),
        producers=tuple(entry.get("producers", ())),
        consumers=tuple(entry.get("consumers", ())),
        description=entry.get("description", ""),
    )


def _check(specs: tuple[TopicSpec, ...]) -> None:
    names = [s.name for s in specs]
    if len(names) != len(set(names)):
        raise ValueError("topic registry has duplicate names")
    for spec in specs:
        if spec.dlq is not None and spec.dlq not in names:
            raise ValueError(f"topic {spec.name}: dlq {spec.dlq} is not registered")
        if spec.partitions < 1:
            raise ValueError(f"topic {spec.name}: partitions must be >= 1")


def spec(name: str) -> TopicSpec:
    """The registered spec for ``name``. Raises ``UnknownTopic``."""
    for s in registry():
        if s.name == name:
            return s
    raise UnknownTopic(name)


ANY_EVENT_TYPE = "any"  # a dead-letter topic carries whatever was refused


def event_type_of(name: str) -> str | None:
    """The one event type registered topic ``name`` (or a per-queue copy of one) carries, or
    ``None`` when it carries any (a dead-letter topic). Raises ``UnknownTopic``."""
    registered = per_queue_parent(name) or spec(name)
    return None if registered.event_type == ANY_EVENT_TYPE else registered.event_type


def qualified(name: str, namespace: str = "") -> str:
    """The broker-side name of a registered topic (or a per-queue copy, see ``per_queue``)
    under ``namespace`` (a plain prefix)."""
    if per_queue_parent(name) is None:
        spec(name)
    return f"{namespace}{name}"


# Per-queue copies: every event on a topic of PER_QUEUE is also published to
# ``<topic>.<queue>`` (e.g. ``switchboard.items.routed.v1.support-de``) so a helpdesk can
# subscribe to its queues only. Queue ids are lowercase DNS labels (they name KafkaTopic
# resources too) and never ``dlq``. The queues come from the router's configuration, not from
# this registry: the router creates them at start-up and ``switchboard topics`` does too.
PER_QUEUE = frozenset({ROUTED})
QUEUE_SUFFIX = re.compile(r"^(?!dlq$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def per_queue(name: str, queue: str) -> str:
    """The per-queue copy of registered topic ``name`` for ``queue`` (unqualified). Raises
    ``UnknownTopic`` when ``name`` has no per-queue copies, ``ValueError`` for a bad queue id."""
    if name not in PER_QUEUE:
        raise UnknownTopic(f"{name} has no per-queue topics")
    if not QUEUE_SUFFIX.match(queue):
        raise ValueError(
            f"queue id {queue!r} cannot name a topic: lowercase letters, digits and '-' "
            "(at most 63, not 'dlq')"
        )
    return f"{name}.{queue}"


def per_queue_parent(name: str) -> TopicSpec | None:
    """The registered topic ``name`` is a per-queue copy of, or ``None``."""
    for parent in PER_QUEUE:
        if name.startswith(parent + ".") and QUEUE_SUFFIX.match(name[len(parent) + 1 :]):
            return spec(parent)
    return None


def dlq_for(name: str, namespace: str = "") -> str:
    """The dead-letter topic of ``name``, qualified. Raises ``UnknownTopic`` if it has none."""
    dlq = spec(name).dlq
    if dlq is None:
        raise UnknownTopic(f"{name} has no dead-letter topic")
    return f"{namespace}{dlq}"
