"""The per-queue routed topics: every routed item is published to ``switchboard.items.routed.v1``
(the notifier and helpdesks reading all queues) and to ``switchboard.items.routed.v1.<queue>``
(``shared.topics.per_queue``), so a helpdesk can subscribe to just its queues. Same event
(same ``ce_id``), key and headers on both; the partition count is the main topic's.

The queues come from the routing configuration, so these topics are not in the registry:
the router creates them at start-up and after an admin saves a routing document,
``switchboard topics`` creates them beside the registry's, and ``tools/deploy_gen`` writes
them as Strimzi ``KafkaTopic`` resources (``deploy/k8s/base/queue-topics.yaml``).
"""

from __future__ import annotations

from pathlib import Path

from services.router.rules import RoutingConfig, load_routing_file
from shared import topics
from shared.broker import TopicConfig, ensure_named_topics
from shared.settings import CommonSettings


def names(config: RoutingConfig) -> dict[str, int]:
    """Per-queue topic (unqualified) -> partitions, for every queue of ``config``."""
    partitions = topics.spec(topics.ROUTED).partitions
    return {topics.per_queue(topics.ROUTED, q.id): partitions for q in config.queues}


async def ensure(
    settings: CommonSettings, config: RoutingConfig, timeout: float = 30.0
) -> list[str]:
    """Create the per-queue topics of ``config`` under the settings' namespace. Raises ``BrokerError``."""
    ns = settings.kafka_topic_namespace
    wanted = {topics.qualified(name, ns): n for name, n in names(config).items()}
    return await ensure_named_topics(
        settings.kafka_bootstrap_servers, wanted, timeout, config=TopicConfig.of(settings)
    )


async def ensure_from_file(settings: CommonSettings, routing_file: Path) -> list[str]:
    """``ensure`` for the routing file (``switchboard topics``)."""
    return await ensure(settings, load_routing_file(routing_file))
