"""Generate the deploy files that derive from data kept elsewhere in the repository.

``python -m tools.deploy_gen`` writes, from their single sources:

- ``deploy/k8s/base/topics.yaml``: one Strimzi ``KafkaTopic`` per topic of the registry
  (``shared/topics.yaml``), with its name and partition count, and the replication factor and
  ``min.insync.replicas`` the services use for topics they create (``KAFKA_REPLICATION_FACTOR``,
  ``KAFKA_MIN_INSYNC_REPLICAS`` in ``deploy/k8s/base/configmap.yaml``);
- ``deploy/k8s/base/queue-topics.yaml``: one ``KafkaTopic`` per queue of ``config/routing.yaml``,
  the router's per-queue routed topics ``switchboard.items.routed.v1.<queue>``;
- ``deploy/k8s/base/scaling.yaml``: one KEDA ``ScaledObject`` per consuming service, with a
  Kafka trigger per topic the registry says it consumes, its consumer group from its settings
  (``services/<service>/settings.py``) and ``maxReplicaCount`` = the topic's partitions;
- ``deploy/k8s/base/config-files.yaml``: one ConfigMap per configuration concern holding its
  files (classifier rules and author lists, routing, business calendar, on-call rotas), which
  the Deployments mount and point their ``*_DIR`` / ``*_FILE`` settings at;
- ``deploy/k8s/base/dashboard.yaml``: the Grafana dashboard ConfigMap holding
  ``deploy/grafana/switchboard.json``;
- ``deploy/prometheus/alerts.yml``: the rules of ``deploy/k8s/base/alerts.yaml`` (a
  ``PrometheusRule``) in plain Prometheus form, for docker-compose's Prometheus.

``--check`` writes nothing and exits 1 when a committed file differs (run in CI, so nobody
keeps a second list by hand). ``--output FILE`` restricts both modes to the topics file at
FILE. docker-compose needs no topic file: its ``topics`` job runs ``python -m shared.broker``
(``KAFKA_REPLICATION_FACTOR`` / ``KAFKA_MIN_INSYNC_REPLICAS`` in its environment).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import yaml

from services.classifier.settings import ClassifierSettings
from services.ingestor.settings import IngestorSettings
from services.notifier.settings import NotifierSettings
from services.router.settings import RouterSettings
from shared import topics
from shared.settings import ConsumerSettings

ROOT = Path(__file__).resolve().parent.parent
BASE = ROOT / "deploy" / "k8s" / "base"
TOPICS_FILE = BASE / "topics.yaml"
QUEUE_TOPICS_FILE = BASE / "queue-topics.yaml"
ROUTING_FILE = ROOT / "config" / "routing.yaml"
SCALING_FILE = BASE / "scaling.yaml"
CONFIG_FILES_FILE = BASE / "config-files.yaml"
DASHBOARD_FILE = BASE / "dashboard.yaml"
DASHBOARD_JSON = ROOT / "deploy" / "grafana" / "switchboard.json"
ALERTS_SOURCE = BASE / "alerts.yaml"
COMPOSE_ALERTS_FILE = ROOT / "deploy" / "prometheus" / "alerts.yml"
CLASSIFIER_RULES_DIR = ROOT / "services" / "classifier" / "rules"

# ConfigMap name -> (directory, file pattern, the services that mount it). The files stay the
# single source; the Deployments mount each ConfigMap read-only under /etc/switchboard/.
CONFIG_FILES: dict[str, tuple[Path, str, tuple[str, ...]]] = {
    "switchboard-classifier-rules": (CLASSIFIER_RULES_DIR, "*.yaml", ("classifier",)),
    "switchboard-classifier-authors": (
        ROOT / "services" / "classifier" / "authors",
        "*.txt",
        ("classifier",),
    ),
    "switchboard-routing": (ROOT / "config", "routing.yaml", ("router",)),
    "switchboard-calendar": (ROOT / "config", "calendar.yaml", ("router", "notifier")),
    "switchboard-oncall": (ROOT / "config", "oncall.yaml", ("notifier",)),
}

# The Strimzi Kafka cluster (label ``strimzi.io/cluster``) and where it runs: its bootstrap
# Service must be fully qualified because KEDA's operator, in its own namespace, dials it too.
STRIMZI_CLUSTER = "kafka"
KAFKA_NAMESPACE = "kafka"
KAFKA_BOOTSTRAP = f"{STRIMZI_CLUSTER}-kafka-bootstrap.{KAFKA_NAMESPACE}.svc:9092"
# Production durability: one source for the KafkaTopics and the topics the router creates at
# run time, the services' configuration. Overlays patch both (a one-broker development cluster).
CONFIGMAP_FILE = BASE / "configmap.yaml"


def topic_durability() -> tuple[int, int]:
    """(replication factor, min.insync.replicas) of ``deploy/k8s/base/configmap.yaml``."""
    data = yaml.safe_load(CONFIGMAP_FILE.read_text(encoding="utf-8"))["data"]
    return int(data["KAFKA_REPLICATION_FACTOR"]), int(data["KAFKA_MIN_INSYNC_REPLICAS"])


# Target lag per replica before KEDA adds one: the classifier spends milliseconds of CPU per
# message, router and notifier mostly wait on the database, so they tolerate a longer queue.
LAG_THRESHOLD = {"classifier": 100, "router": 200, "notifier": 200}
DEFAULT_LAG_THRESHOLD = 100
# Consumers that read a topic in a group other than their settings' ``consumer_group``
# (services/notifier/app.py); tests/contract/test_deploy_k8s.py holds this to the runners the
# services really build, so it cannot drift.
GROUP_SUFFIX = {
    ("notifier", topics.UNSTAFFED): "-unstaffed",
    ("notifier", topics.SPIKED): "-spiked",
    ("router", topics.LIFECYCLE): "-lifecycle",
    ("classifier", topics.CORRECTIONS): "-corrections",
    ("notifier", topics.LIFECYCLE): "-lifecycle",
    ("notifier", topics.CONNECTORS): "-connectors",
}
PART_OF = {"app.kubernetes.io/part-of": "switchboard"}
# Each service's own settings class (its consumer group, whether it consumes).
SETTINGS: dict[str, type] = {
    "ingestor": IngestorSettings,
    "classifier": ClassifierSettings,
    "router": RouterSettings,
    "notifier": NotifierSettings,
}

HEADER = """\
# GENERATED by `python -m tools.deploy_gen` from {source}: do not edit by hand.
# Check: `python -m tools.deploy_gen --check` (run by tests/contract/test_deploy.py).
"""


def _dump(docs: list[dict], source: str) -> str:
    body = yaml.safe_dump_all(
        docs, sort_keys=False, explicit_start=True, width=120, allow_unicode=True
    )
    return HEADER.format(source=source) + body


# -- topics ----------------------------------------------------------------------------------


def kafka_topic(spec: topics.TopicSpec) -> dict:
    """The Strimzi ``KafkaTopic`` for one registered topic."""
    replicas, min_insync = topic_durability()
    return {
        "apiVersion": "kafka.strimzi.io/v1beta2",
        "kind": "KafkaTopic",
        "metadata": {
            "name": spec.name,
            "labels": {"strimzi.io/cluster": STRIMZI_CLUSTER, **PART_OF},
            "annotations": {
                "switchboard/key": spec.key,
                "switchboard/event-type": spec.event_type,
                "switchboard/description": spec.description,
            },
        },
        "spec": {
            "topicName": spec.name,
            "partitions": spec.partitions,
            "replicas": replicas,
            "config": {"min.insync.replicas": min_insync},
        },
    }


def render() -> str:
    """The full text of ``deploy/k8s/base/topics.yaml`` for the current registry."""
    return _dump([kafka_topic(spec) for spec in topics.registry()], "shared/topics.yaml")


def queue_topic_specs() -> list[topics.TopicSpec]:
    """The router's per-queue routed topics (``shared.topics.per_queue``), one per queue of
    ``config/routing.yaml``: not in the registry because the queues are routing data."""
    routing = yaml.safe_load(ROUTING_FILE.read_text(encoding="utf-8"))
    parent = topics.spec(topics.ROUTED)
    return [
        topics.TopicSpec(
            name=topics.per_queue(parent.name, q["id"]),
            partitions=parent.partitions,
            key=parent.key,
            event_type=parent.event_type,
            dlq=None,
            producers=parent.producers,
            consumers=("helpdesk",),
            description=f"{parent.description} Queue {q['id']} only (a copy, same event id).",
        )
        for q in routing["queues"]
    ]


def render_queue_topics() -> str:
    """The full text of ``deploy/k8s/base/queue-topics.yaml``."""
    return _dump(
        [kafka_topic(spec) for spec in queue_topic_specs()], "config/routing.yaml (queues)"
    )


# -- lag-based scaling -------------------------------------------------------------------------


def consumer_services() -> dict[str, tuple[topics.TopicSpec, ...]]:
    """Service name -> the registered topics it consumes, for every service whose settings
    class is a ``ConsumerSettings`` (helpdesks, reporting and ops are not ours to scale)."""
    found: dict[str, tuple[topics.TopicSpec, ...]] = {}
    for spec in topics.registry():
        for service in spec.consumers:
            if issubclass(_settings_class(service) or object, ConsumerSettings):
                found[service] = found.get(service, ()) + (spec,)
    return found


def _settings_class(service: str) -> type | None:
    return SETTINGS.get(service)


def scaled_object(service: str, consumed: tuple[topics.TopicSpec, ...]) -> dict:
    """The KEDA ``ScaledObject`` scaling ``service``'s Deployment on its consumer lag."""
    group = _settings_class(service).model_fields["consumer_group"].default
    triggers = [
        {
            "type": "kafka",
            "name": f"lag-{spec.name.replace('.', '-')}",
            "metadata": {
                "bootstrapServers": KAFKA_BOOTSTRAP,
                "consumerGroup": group + GROUP_SUFFIX.get((service, spec.name), ""),
                "topic": spec.name,
                "lagThreshold": str(LAG_THRESHOLD.get(service, DEFAULT_LAG_THRESHOLD)),
                # Our consumers start at the earliest offset when the group has none.
                "offsetResetPolicy": "earliest",
                "allowIdleConsumers": "false",
            },
        }
        for spec in consumed
    ]
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": service, "labels": {"app.kubernetes.io/name": service, **PART_OF}},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": service},
            "pollingInterval": 15,
            "cooldownPeriod": 300,
            "minReplicaCount": 1,
            # More consumers than partitions would sit idle.
            "maxReplicaCount": max(spec.partitions for spec in consumed),
            "advanced": {
                "horizontalPodAutoscalerConfig": {
                    "behavior": {
                        # Each scale step costs a group rebalance: add quickly, remove slowly.
                        "scaleDown": {
                            "stabilizationWindowSeconds": 300,
                            "policies": [{"type": "Pods", "value": 1, "periodSeconds": 120}],
                        },
                    }
                }
            },
            "triggers": triggers,
        },
    }


def render_scaling() -> str:
    docs = [scaled_object(name, consumed) for name, consumed in consumer_services().items()]
    return _dump(docs, "shared/topics.yaml and services/*/settings.py")


# -- ConfigMaps wrapping files ---------------------------------------------------------------


def _configmap(name: str, data: dict[str, str], labels: dict[str, str] | None = None) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": {**PART_OF, **(labels or {})}},
        "data": data,
    }


def config_files(name: str) -> dict[str, str]:
    """File name -> text of the files the ConfigMap ``name`` carries."""
    directory, pattern, _ = CONFIG_FILES[name]
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(directory.glob(pattern))}


def render_config_files() -> str:
    docs = [
        _configmap(name, config_files(name), {"switchboard/mounted-by": "-".join(users)})
        for name, (_, _, users) in CONFIG_FILES.items()
    ]
    sources = ", ".join(f"{d.relative_to(ROOT)}/{p}" for d, p, _ in CONFIG_FILES.values())
    return _dump(docs, sources)


def render_dashboard() -> str:
    """The Grafana dashboard as a ConfigMap the Grafana sidecar picks up (label grafana_dashboard)."""
    text = json.dumps(json.loads(DASHBOARD_JSON.read_text(encoding="utf-8")), indent=1) + "\n"
    cm = _configmap("switchboard-dashboard", {"switchboard.json": text}, {"grafana_dashboard": "1"})
    return _dump([cm], "deploy/grafana/switchboard.json")


def render_compose_alerts() -> str:
    """The PrometheusRule's groups as a plain Prometheus rule file."""
    (rule,) = [d for d in yaml.safe_load_all(ALERTS_SOURCE.read_text(encoding="utf-8")) if d]
    return _dump([{"groups": rule["spec"]["groups"]}], "deploy/k8s/base/alerts.yaml").replace(
        "---\n", "", 1
    )


GENERATED: dict[Path, Callable[[], str]] = {
    TOPICS_FILE: render,
    QUEUE_TOPICS_FILE: render_queue_topics,
    SCALING_FILE: render_scaling,
    CONFIG_FILES_FILE: render_config_files,
    DASHBOARD_FILE: render_dashboard,
    COMPOSE_ALERTS_FILE: render_compose_alerts,
}


def _sync(path: Path, wanted: str, check: bool) -> bool:
    """Check or write one file; True when it is (now) up to date."""
    current = path.read_text(encoding="utf-8") if path.exists() else None
    if current == wanted:
        return True
    if check:
        print(f"{path} is out of date: run `python -m tools.deploy_gen`", file=sys.stderr)
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(wanted, encoding="utf-8")
    print(f"wrote {path}")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.deploy_gen", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit 1 if a committed file differs from its source; write nothing",
    )
    parser.add_argument("--output", type=Path, help="only the topics file, at this path")
    args = parser.parse_args(argv)
    jobs = {args.output: render} if args.output else GENERATED
    ok = all([_sync(path, make(), args.check) for path, make in jobs.items()])
    if ok and args.check:
        print("generated deploy files are up to date")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
