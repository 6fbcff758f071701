"""Topic administration: create the registry's topics (and named ones outside it, such as the
router's per-queue routed topics) on the broker ``KAFKA_BOOTSTRAP_SERVERS`` names, idempotently,
with the replication factor and topic configs of the settings (``TopicConfig.of``).

Topics come only from here: no client of the project creates one (``shared.kafka``). A topic
that already exists is checked against the registry, never changed: a partition count (or a
replication factor, where the broker reports one) that differs stops ``ensure_topics`` with a
``TopicMismatch`` naming the topic and both numbers. Nothing would otherwise notice a topic
auto-created with the broker's default shape (per-key order and consumer parallelism depend on
the partition count). The metadata requests sent here never ask for auto-creation.

``python -m shared.broker`` creates every registered topic and exits (docker-compose's
``topics`` job). The embedded development broker is ``tools.devbroker``.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.protocol.metadata import MetadataRequest

from shared import topics
from shared.settings import CommonSettings

TOPIC_EXISTS = 36
UNKNOWN_TOPIC = 3


class BrokerError(RuntimeError):
    """The broker could not be started or reached, or a topic could not be created."""


class TopicMismatch(BrokerError):
    """An existing topic's shape differs from the registry's; it is never changed in place."""


@dataclass(frozen=True)
class TopicConfig:
    """How topics are created: replication factor and topic-level configs (``min.insync.replicas``
    when set; otherwise the broker's default). Existing topics are never changed."""

    replication_factor: int
    min_insync_replicas: int | None = None

    @classmethod
    def of(cls, settings: CommonSettings) -> "TopicConfig":
        """The settings' ``KAFKA_REPLICATION_FACTOR`` / ``KAFKA_MIN_INSYNC_REPLICAS``. Raises
        ``BrokerError`` in production when the replication factor was left at its development default."""
        if (
            settings.environment == "production"
            and "kafka_replication_factor" not in settings.model_fields_set
        ):
            raise BrokerError(
                "KAFKA_REPLICATION_FACTOR is unset: production topics need it (docs/deploy.md)"
            )
        return cls(settings.kafka_replication_factor, settings.kafka_min_insync_replicas)

    def configs(self) -> dict[str, str]:
        return (
            {}
            if self.min_insync_replicas is None
            else {"min.insync.replicas": str(self.min_insync_replicas)}
        )


async def ensure_topics(
    bootstrap_servers: str, namespace: str = "", timeout: float = 30.0, *, config: TopicConfig
) -> list[str]:
    """Create every registered topic under ``namespace``; existing ones are checked, not changed.

    Returns the qualified names. Raises ``BrokerError`` if a topic cannot be created,
    ``TopicMismatch`` if an existing one has another partition count or replication factor.
    """
    wanted = {f"{namespace}{spec.name}": spec.partitions for spec in topics.registry()}
    return await ensure_named_topics(bootstrap_servers, wanted, timeout, config=config)


async def ensure_named_topics(
    bootstrap_servers: str, wanted: dict[str, int], timeout: float = 30.0, *, config: TopicConfig
) -> list[str]:
    """Create the topics of ``wanted`` (qualified name -> partitions) that do not exist yet: the
    registry's (``ensure_topics``) and topics outside it, such as the router's per-queue routed
    topics (``shared.topics.per_queue``); check the ones that exist. Raises ``BrokerError``
    (``TopicMismatch`` for an existing topic of another shape). Returns the names, sorted."""
    if not wanted:
        return []
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, request_timeout_ms=int(timeout * 1000)
    )
    await _start_admin(admin, timeout)
    try:
        existing = await _describe(admin, list(wanted))
        _check_shapes(existing, wanted, config)
        absent = {name: n for name, n in wanted.items() if name not in existing}
        if absent:
            await _create(admin, absent, config)
        found = await _describe(admin, list(wanted))
        missing = set(wanted) - set(found)
        if missing:
            raise BrokerError(f"topics missing after creation: {sorted(missing)}")
        _check_shapes(found, wanted, config)  # a concurrent creator may have raced us
    finally:
        await admin.close()
    return sorted(wanted)


async def _create(admin: AIOKafkaAdminClient, wanted: dict[str, int], config: TopicConfig) -> None:
    response = await admin.create_topics(
        [
            NewTopic(
                name,
                partitions,
                replication_factor=config.replication_factor,
                topic_configs=config.configs(),
            )
            for name, partitions in wanted.items()
        ]
    )
    for name, code, message in (e[:3] for e in response.topic_errors):
        if code not in (0, TOPIC_EXISTS):
            raise BrokerError(f"cannot create topic {name}: error {code} {message}")


async def _describe(admin: AIOKafkaAdminClient, names: list[str]) -> dict[str, tuple[int, int]]:
    """``{name: (partitions, replication factor or 0 when not reported)}`` of the ``names``
    that exist. Asks without auto-creation: ``admin.describe_topics`` would create them."""
    request = MetadataRequest(names, allow_auto_topic_creation=False)
    metadata = (await admin._send_request(request)).to_object()  # noqa: SLF001
    shapes = {}
    for topic in metadata["topics"]:
        if topic["error_code"] == UNKNOWN_TOPIC or not topic["partitions"]:
            continue
        replicas = max(len(p["replicas"]) for p in topic["partitions"])
        shapes[topic["topic"]] = (len(topic["partitions"]), replicas)
    return shapes


def _check_shapes(
    existing: dict[str, tuple[int, int]], wanted: dict[str, int], config: TopicConfig
) -> None:
    """Raises ``TopicMismatch`` for the first existing topic whose shape is not the wanted one."""
    for name in sorted(existing):
        partitions, replicas = existing[name]
        if partitions != wanted[name]:
            raise TopicMismatch(
                f"topic {name} has {_count(partitions, 'partition')}, the registry says "
                f"{wanted[name]}: recreate it or fix topics.yaml"
            )
        if replicas and replicas != config.replication_factor:
            raise TopicMismatch(
                f"topic {name} has replication factor {replicas}, the settings say "
                f"{config.replication_factor} (KAFKA_REPLICATION_FACTOR): recreate it or fix "
                "the setting"
            )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


async def _start_admin(admin: AIOKafkaAdminClient, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            await admin.start()
            return
        except Exception as exc:  # noqa: BLE001 - retried until the deadline
            if time.monotonic() > deadline:
                raise BrokerError(f"cannot reach Kafka: {exc}") from exc
            await asyncio.sleep(0.5)


def main() -> int:
    """Create the registry's topics on ``KAFKA_BOOTSTRAP_SERVERS`` with the settings' topic config."""
    settings = CommonSettings()
    try:
        names = asyncio.run(
            ensure_topics(
                settings.kafka_bootstrap_servers,
                settings.kafka_topic_namespace,
                config=TopicConfig.of(settings),
            )
        )
    except BrokerError as exc:
        sys.stderr.write(f"topics: {exc}\n")
        return 2
    sys.stdout.write(f"broker {settings.kafka_bootstrap_servers}: {len(names)} topics ready\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
