"""Topic administration: create the registry's topics (and named ones outside it, such as the
router's per-queue routed topics) on the broker ``KAFKA_BOOTSTRAP_SERVERS`` names, idempotently,
with the replication factor and topic configs of the settings (``TopicConfig.of``).

``python -m shared.broker`` creates every registered topic and exits (docker-compose's
``topics`` job). The embedded development broker is ``tools.devbroker``.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from shared import topics
from shared.settings import CommonSettings

TOPIC_EXISTS = 36


class BrokerError(RuntimeError):
    """The broker could not be started or reached, or a topic could not be created."""


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
    """Create every registered topic under ``namespace``; existing ones are left alone.

    Returns the qualified names. Raises ``BrokerError`` if a topic cannot be created.
    """
    wanted = {f"{namespace}{spec.name}": spec.partitions for spec in topics.registry()}
    return await ensure_named_topics(bootstrap_servers, wanted, timeout, config=config)


async def ensure_named_topics(
    bootstrap_servers: str, wanted: dict[str, int], timeout: float = 30.0, *, config: TopicConfig
) -> list[str]:
    """Create the topics of ``wanted`` (qualified name -> partitions) that do not exist yet: the
    registry's (``ensure_topics``) and topics outside it, such as the router's per-queue routed
    topics (``shared.topics.per_queue``). Raises ``BrokerError``. Returns the names, sorted."""
    if not wanted:
        return []
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, request_timeout_ms=int(timeout * 1000)
    )
    await _start_admin(admin, timeout)
    try:
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
        missing = set(wanted) - set(await admin.list_topics())
        if missing:
            raise BrokerError(f"topics missing after creation: {sorted(missing)}")
    finally:
        await admin.close()
    return sorted(wanted)


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
    names = asyncio.run(
        ensure_topics(
            settings.kafka_bootstrap_servers,
            settings.kafka_topic_namespace,
            config=TopicConfig.of(settings),
        )
    )
    sys.stdout.write(f"broker {settings.kafka_bootstrap_servers}: {len(names)} topics ready\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
