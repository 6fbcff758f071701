"""The custom resources (KEDA ScaledObject, Prometheus Operator ServiceMonitor and
PrometheusRule, Strimzi KafkaTopic) checked field by field against their documented shapes.

kubernetes-validate knows only built-in kinds, and the CRDs are not available offline, so
each shape below is transcribed from the project's CRD (openAPIV3Schema) and reference docs:
every field we may use, its type, and the required ones. ``additionalProperties: false``
makes a misspelt or misplaced field fail here instead of being silently pruned by the API
server (which is what a structural CRD schema does with unknown fields).
"""

from __future__ import annotations

import jsonschema
import pytest

from tests.contract.test_deploy import OVERLAYS, of_kind, rendered

INT32 = {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}
STR = {"type": "string"}
STR_MAP = {"type": "object", "additionalProperties": STR}
DURATION = {
    "type": "string",
    "pattern": r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$",
}
K8S_NAME = {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$"}


def closed(properties: dict, required: tuple[str, ...] = ()) -> dict:
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }


METADATA = closed(
    {"name": K8S_NAME, "namespace": K8S_NAME, "labels": STR_MAP, "annotations": STR_MAP}, ("name",)
)


def resource(api_version: str, kind: str, spec: dict) -> dict:
    return closed(
        {
            "apiVersion": {"const": api_version},
            "kind": {"const": kind},
            "metadata": METADATA,
            "spec": spec,
        },
        ("apiVersion", "kind", "metadata", "spec"),
    )


# KEDA 2.x, keda.sh/v1alpha1 ScaledObject (config/crd/bases/keda.sh_scaledobjects.yaml) and the
# Apache Kafka scaler's trigger metadata (keda.sh/docs/2.x/scalers/apache-kafka): every value a string.
HPA_RULES = closed(
    {
        "stabilizationWindowSeconds": {"type": "integer", "minimum": 0, "maximum": 3600},
        "selectPolicy": {"enum": ["Max", "Min", "Disabled"]},
        "policies": {
            "type": "array",
            "minItems": 1,
            "items": closed(
                {
                    "type": {"enum": ["Pods", "Percent"]},
                    "value": {"type": "integer", "minimum": 1},
                    "periodSeconds": {"type": "integer", "minimum": 1, "maximum": 1800},
                },
                ("type", "value", "periodSeconds"),
            ),
        },
    }
)
KAFKA_METADATA = closed(
    {
        "bootstrapServers": STR,
        "consumerGroup": STR,
        "topic": STR,
        "lagThreshold": {"type": "string", "pattern": r"^[0-9]+$"},
        "activationLagThreshold": {"type": "string", "pattern": r"^[0-9]+$"},
        "offsetResetPolicy": {"enum": ["latest", "earliest"]},
        **{
            flag: {"enum": ["true", "false"]}
            for flag in (
                "allowIdleConsumers",
                "excludePersistentLag",
                "scaleToZeroOnInvalidOffset",
                "limitToPartitionsWithLag",
                "unsafeSsl",
            )
        },
        "version": STR,
        "partitionLimitation": STR,
        "sasl": STR,
        "tls": {"enum": ["enable", "disable"]},
    },
    ("bootstrapServers", "consumerGroup", "topic"),
)
SCALED_OBJECT = resource(
    "keda.sh/v1alpha1",
    "ScaledObject",
    closed(
        {
            "scaleTargetRef": closed(
                {"apiVersion": STR, "kind": STR, "name": STR, "envSourceContainerName": STR},
                ("name",),
            ),
            "pollingInterval": INT32,
            "initialCooldownPeriod": INT32,
            "cooldownPeriod": INT32,
            "idleReplicaCount": INT32,
            "minReplicaCount": INT32,
            "maxReplicaCount": INT32,
            "fallback": closed(
                {"failureThreshold": INT32, "replicas": INT32}, ("failureThreshold", "replicas")
            ),
            "advanced": closed(
                {
                    "restoreToOriginalReplicaCount": {"type": "boolean"},
                    "horizontalPodAutoscalerConfig": closed(
                        {
                            "name": STR,
                            "behavior": closed({"scaleUp": HPA_RULES, "scaleDown": HPA_RULES}),
                        }
                    ),
                }
            ),
            "triggers": {
                "type": "array",
                "minItems": 1,
                "items": closed(
                    {
                        "type": {"const": "kafka"},
                        "name": STR,
                        "metadata": KAFKA_METADATA,
                        "authenticationRef": closed(
                            {
                                "name": STR,
                                "kind": {
                                    "enum": [
                                        "TriggerAuthentication",
                                        "ClusterTriggerAuthentication",
                                    ]
                                },
                            },
                            ("name",),
                        ),
                        "metricType": {"enum": ["AverageValue", "Value", "Utilization"]},
                        "useCachedMetrics": {"type": "boolean"},
                    },
                    ("type", "metadata"),
                ),
            },
        },
        ("scaleTargetRef", "triggers"),
    ),
)

# Prometheus Operator monitoring.coreos.com/v1 (Documentation/api-reference/api.md).
LABEL_SELECTOR = closed({"matchLabels": STR_MAP, "matchExpressions": {"type": "array"}})
SERVICE_MONITOR = resource(
    "monitoring.coreos.com/v1",
    "ServiceMonitor",
    closed(
        {
            "selector": LABEL_SELECTOR,
            "jobLabel": STR,
            "targetLabels": {"type": "array", "items": STR},
            "podTargetLabels": {"type": "array", "items": STR},
            "sampleLimit": INT32,
            "namespaceSelector": closed(
                {"any": {"type": "boolean"}, "matchNames": {"type": "array", "items": STR}}
            ),
            "endpoints": {
                "type": "array",
                "minItems": 1,
                "items": closed(
                    {
                        "port": STR,
                        "path": {"type": "string", "pattern": "^/"},
                        "scheme": {"enum": ["http", "https"]},
                        "interval": DURATION,
                        "scrapeTimeout": DURATION,
                        "honorLabels": {"type": "boolean"},
                        "honorTimestamps": {"type": "boolean"},
                        "relabelings": {"type": "array"},
                        "metricRelabelings": {"type": "array"},
                    }
                ),
            },
        },
        ("selector",),
    ),
)
RULE = {
    "oneOf": [
        closed(
            {
                "alert": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
                "expr": STR,
                "for": DURATION,
                "keep_firing_for": DURATION,
                "labels": STR_MAP,
                "annotations": STR_MAP,
            },
            ("alert", "expr"),
        ),
        closed(
            {
                "record": {"type": "string", "pattern": "^[a-zA-Z_:][a-zA-Z0-9_:]*$"},
                "expr": STR,
                "labels": STR_MAP,
            },
            ("record", "expr"),
        ),
    ]
}
PROMETHEUS_RULE = resource(
    "monitoring.coreos.com/v1",
    "PrometheusRule",
    closed(
        {
            "groups": {
                "type": "array",
                "minItems": 1,
                "items": closed(
                    {
                        "name": {"type": "string", "minLength": 1},
                        "interval": DURATION,
                        "query_offset": DURATION,
                        "limit": INT32,
                        "labels": STR_MAP,
                        "partial_response_strategy": STR,
                        "rules": {"type": "array", "minItems": 1, "items": RULE},
                    },
                    ("name", "rules"),
                ),
            },
        }
    ),
)

# Strimzi kafka.strimzi.io/v1beta2 KafkaTopic (040-Crd-kafkatopic.yaml).
KAFKA_TOPIC = resource(
    "kafka.strimzi.io/v1beta2",
    "KafkaTopic",
    closed(
        {
            "topicName": STR,
            "partitions": {"type": "integer", "minimum": 1},
            "replicas": {"type": "integer", "minimum": 1, "maximum": 32767},
            "config": {
                "type": "object",
                "additionalProperties": {"type": ["string", "integer", "number", "boolean"]},
            },
        }
    ),
)

SHAPES = {
    "ScaledObject": SCALED_OBJECT,
    "ServiceMonitor": SERVICE_MONITOR,
    "PrometheusRule": PROMETHEUS_RULE,
    "KafkaTopic": KAFKA_TOPIC,
}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_custom_resources_have_their_documented_shape(overlay: str) -> None:
    custom = [
        o for o in rendered(overlay) if "." in o["apiVersion"].split("/")[0] and o["kind"] in SHAPES
    ]
    assert {o["kind"] for o in custom} == set(SHAPES), (
        "every CRD kind we use is rendered and checked"
    )
    errors = []
    for obj in custom:
        for error in jsonschema.Draft202012Validator(SHAPES[obj["kind"]]).iter_errors(obj):
            errors.append(
                f"{obj['kind']}/{obj['metadata']['name']}: {error.message} at /{'/'.join(map(str, error.path))}"
            )
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize(
    "kind, breakage",
    [
        (
            "ScaledObject",
            lambda o: o["spec"]["triggers"][0]["metadata"].update(lagThreshold=100),
        ),  # must be a string
        ("ScaledObject", lambda o: o["spec"].update(maxReplicas=3)),  # the HPA's name, not KEDA's
        ("ServiceMonitor", lambda o: o["spec"]["endpoints"][0].update(interval="30 seconds")),
        (
            "PrometheusRule",
            lambda o: o["spec"]["groups"][0]["rules"][0].update(record="x"),
        ),  # alert and record
        ("KafkaTopic", lambda o: o["spec"].update(partition=3)),
    ],
)
def test_the_shapes_catch_typical_mistakes(kind: str, breakage) -> None:
    obj = next(iter(of_kind(rendered("production"), kind).values()))
    breakage(obj)
    assert list(jsonschema.Draft202012Validator(SHAPES[kind]).iter_errors(obj)), (
        f"{kind}: mistake not caught"
    )
