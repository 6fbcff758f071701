"""Monitoring contracts: every metric the alerts and the Grafana dashboard query exists in
the code (or is a named, well-known external metric), each alert is explained in
docs/alerts.md, the ServiceMonitor scrapes all four services, and the dashboard has the
panels the ops team asked for.
"""

from __future__ import annotations

import ast
import functools
import json
import re
from pathlib import Path

import pytest
import yaml

from tests.contract.test_deploy import OVERLAYS, ROOT, SERVICES, of_kind, rendered
from tools import deploy_gen

# Metrics queried that Switchboard's code does not define, and where they come from.
EXTERNAL_METRICS = {
    "up": "Prometheus itself, one sample per scrape target",
    "kube_pod_container_status_restarts_total": "kube-state-metrics (part of kube-prometheus-stack)",
}
PROMQL_WORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "offset",
    "bool",
    "inf",
    "nan",
}
SUFFIXES = {
    "Counter": ("_total", "_created"),
    "Gauge": ("",),
    "Histogram": ("_bucket", "_sum", "_count", "_created"),
    "Summary": ("", "_sum", "_count", "_created"),
    "Info": ("_info",),
    "Enum": ("",),
}


@functools.cache
def defined_metrics() -> frozenset[str]:
    """Every series name the code exposes: the first argument of each prometheus_client
    metric constructor in shared/ and services/, with the suffixes the client adds."""
    names = set()
    for path in [*ROOT.glob("shared/**/*.py"), *ROOT.glob("services/**/*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        aliases = {
            a.asname or a.name: a.name
            for node in ast.walk(tree)  # Counter as PromCounter
            if isinstance(node, ast.ImportFrom) and node.module == "prometheus_client"
            for a in node.names
        }
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
            ):
                continue
            called = (
                node.func.attr
                if isinstance(node.func, ast.Attribute)
                else getattr(node.func, "id", "")
            )
            kind = aliases.get(called, called)
            if kind in SUFFIXES and isinstance(node.args[0].value, str):
                base = (
                    node.args[0].value.removesuffix("_total")
                    if kind == "Counter"
                    else node.args[0].value
                )
                names |= {base + suffix for suffix in SUFFIXES[kind]}
    return frozenset(names)


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (a lexer, not a parser: it drops strings,
    label matchers, durations, grouping clauses and function calls, and keeps the rest)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\$\w+", "", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    text = re.sub(r"\boffset\s+\w+", "", text)
    tokens = [
        m.group()
        for m in re.finditer(r"(?<![\w.])[A-Za-z_:][A-Za-z0-9_:]*", text)
        if not text[m.end() :].lstrip().startswith("(") or m.group().lower() in PROMQL_WORDS
    ]
    return {t for t in tokens if t.lower() not in PROMQL_WORDS}


def alert_rules() -> list[dict]:
    (rule,) = of_kind(rendered("production"), "PrometheusRule").values()
    return [r for group in rule["spec"]["groups"] for r in group["rules"]]


def dashboard() -> dict:
    return json.loads(deploy_gen.DASHBOARD_JSON.read_text(encoding="utf-8"))


def dashboard_exprs() -> list[str]:
    return [t["expr"] for p in dashboard()["panels"] for t in p.get("targets", [])]


def test_the_promql_lexer_finds_metric_names() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (service, le) (rate(a_seconds_bucket{x="y z"}[5m]))) '
        "/ on (service) group_left b_total offset 1h unless c > 0.5"
    )
    assert metric_names(expr) == {"a_seconds_bucket", "b_total", "c"}


def test_the_metric_inventory_reads_the_code() -> None:
    assert {
        "switchboard_consumer_lag",
        "switchboard_messages_out_total",
        "switchboard_stage_seconds_bucket",
        "switchboard_ingestor_requests_total",
        "switchboard_router_items_routed_total",
    } <= defined_metrics()


@pytest.mark.parametrize("source", ["alerts", "dashboard"])
def test_every_queried_metric_exists(source: str) -> None:
    exprs = [r["expr"] for r in alert_rules()] if source == "alerts" else dashboard_exprs()
    assert exprs
    used = set().union(*(metric_names(e) for e in exprs))
    unknown = used - defined_metrics() - set(EXTERNAL_METRICS)
    assert not unknown, f"{source} query metrics no code defines: {sorted(unknown)}"


def test_every_alert_is_explained_in_docs() -> None:
    doc = (ROOT / "docs" / "alerts.md").read_text(encoding="utf-8")
    headings = {m.lower() for m in re.findall(r"^## (\w+)", doc, flags=re.M)}
    for rule in alert_rules():
        name = rule["alert"]
        assert name.lower() in headings, f"docs/alerts.md has no section for {name}"
        assert rule["annotations"]["runbook_url"] == f"docs/alerts.md#{name.lower()}"
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
    assert len(headings) == len(alert_rules()), "docs/alerts.md explains alerts that do not exist"


def test_compose_prometheus_loads_the_same_alerts() -> None:
    compose_rules = yaml.safe_load(
        (ROOT / "deploy" / "prometheus" / "alerts.yml").read_text(encoding="utf-8")
    )
    (rule,) = of_kind(rendered("production"), "PrometheusRule").values()
    assert compose_rules == {"groups": rule["spec"]["groups"]}
    config = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text(encoding="utf-8"))
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_service_monitor_scrapes_every_service(overlay: str) -> None:
    objects = rendered(overlay)
    (monitor,) = of_kind(objects, "ServiceMonitor").values()
    selector = monitor["spec"]["selector"]["matchLabels"]
    selected = {
        n
        for n, s in of_kind(objects, "Service").items()
        if selector.items() <= s["metadata"]["labels"].items()
    }
    assert selected == set(SERVICES)
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics"
    for name in SERVICES:
        assert endpoint["port"] in {
            p["name"] for p in of_kind(objects, "Service")[name]["spec"]["ports"]
        }


def test_dashboard_has_the_panels_ops_asked_for() -> None:
    board = dashboard()
    titles = [p["title"] for p in board["panels"]]
    for wanted in ("Volume by decision", "Queue depth", "SLA attainment", "Consumer lag", "Pages"):
        assert any(t.startswith(wanted) for t in titles), f"no {wanted} panel"
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        assert (
            set(panel["gridPos"]) == {"h", "w", "x", "y"}
            and panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        )
        if panel["type"] == "text":
            assert "Pending metric" in panel["options"]["content"], (
                "a text panel stands in for a missing metric"
            )
        else:
            refs = [t["refId"] for t in panel["targets"]]
            assert refs and len(refs) == len(set(refs))


def test_dashboard_configmap_carries_the_dashboard() -> None:
    cm = of_kind(rendered("production"), "ConfigMap")["switchboard-dashboard"]
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(cm["data"]["switchboard.json"]) == dashboard()


def test_generated_files_follow_their_sources(tmp_path: Path) -> None:
    for path, make in deploy_gen.GENERATED.items():
        assert path.read_text(encoding="utf-8") == make(), (
            f"{path} is stale: run `python -m tools.deploy_gen`"
        )
