"""The topic settings the services use when they create topics at run time (the router's
per-queue routed topics) agree with the KafkaTopic resources of each deploy target, and the
development defaults never reach production unset."""

from __future__ import annotations

import pytest
import yaml

from shared.broker import BrokerError, TopicConfig
from shared.settings import CommonSettings
from tests.contract.test_deploy import OVERLAYS, ROOT, of_kind, rendered


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_runtime_topic_settings_match_the_kafka_topics(overlay: str) -> None:
    objects = rendered(overlay)
    config = of_kind(objects, "ConfigMap")["switchboard-config"]["data"]
    settings = CommonSettings.model_validate(config)
    for topic in of_kind(objects, "KafkaTopic").values():
        assert topic["spec"]["replicas"] == settings.kafka_replication_factor, topic["metadata"][
            "name"
        ]
        assert topic["spec"]["config"]["min.insync.replicas"] == settings.kafka_min_insync_replicas
    assert TopicConfig.of(settings) == TopicConfig(
        settings.kafka_replication_factor, settings.kafka_min_insync_replicas
    )


def test_production_keeps_three_replicas_and_two_in_sync() -> None:
    config = of_kind(rendered("production"), "ConfigMap")["switchboard-config"]["data"]
    assert (config["KAFKA_REPLICATION_FACTOR"], config["KAFKA_MIN_INSYNC_REPLICAS"]) == ("3", "2")


def test_compose_sets_the_topic_settings_of_its_one_broker() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    for name in ("topics", "ingestor", "classifier", "router", "notifier"):
        env = compose["services"][name]["environment"]
        assert (env["KAFKA_REPLICATION_FACTOR"], env["KAFKA_MIN_INSYNC_REPLICAS"]) == (1, 1), name


def test_production_refuses_the_development_replication_default() -> None:
    with pytest.raises(BrokerError):
        TopicConfig.of(CommonSettings(environment="production"))
    assert (
        TopicConfig.of(
            CommonSettings(environment="production", kafka_replication_factor=3)
        ).replication_factor
        == 3
    )
    assert TopicConfig.of(CommonSettings()) == TopicConfig(1, None)
    assert (
        TopicConfig(3, 2).configs() == {"min.insync.replicas": "2"}
        and TopicConfig(1).configs() == {}
    )


def test_min_insync_cannot_exceed_the_replication_factor() -> None:
    with pytest.raises(ValueError):
        CommonSettings(kafka_replication_factor=1, kafka_min_insync_replicas=2)
