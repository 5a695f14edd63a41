"""The Prometheus, alerting and Grafana configuration in deploy/ only names metrics the code exports, and
scrapes every service on its own port: a renamed metric fails here, not silently in a dark dashboard."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from prometheus_client import REGISTRY

import shared.metrics  # noqa: F401 - registers the families
from shared.settings import SERVICE_PORTS

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
METRIC = re.compile(r"\bsbt_[a-z_]+\b")


def exported_names() -> set[str]:
    names = set()
    for family in REGISTRY.collect():
        if family.name.startswith("sbt_"):
            names.add(family.name)
            names.update(sample.name for sample in family.samples)
            if family.type == "counter":
                names.add(f"{family.name}_total")
            if family.type == "histogram":
                names.update(f"{family.name}_{suffix}" for suffix in ("bucket", "count", "sum"))
    return names


def _expressions() -> list[str]:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    expressions = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    for dashboard in (DEPLOY / "grafana" / "dashboards").glob("*.json"):
        for panel in json.loads(dashboard.read_text())["panels"]:
            expressions.extend(target["expr"] for target in panel["targets"])
    return expressions


def test_alerts_and_dashboards_name_only_exported_metrics():
    exported = exported_names()
    used = {name for expression in _expressions() for name in METRIC.findall(expression)}
    assert used, "no metric referenced at all"
    assert used <= exported, f"not exported by shared/metrics.py: {sorted(used - exported)}"
    # Every family the issue asks for is on a dashboard.
    for family in ("sbt_http_requests_total", "sbt_http_request_duration_seconds_bucket", "sbt_events_published_total",
                   "sbt_events_consumed_total", "sbt_events_redelivered_total", "sbt_events_dead_lettered_total",
                   "sbt_outbox_backlog", "sbt_outbox_oldest_age_seconds", "sbt_consumer_lag",
                   "sbt_deadline_sweeps_total"):
        assert family in used, f"{family} is on no dashboard"


def test_prometheus_scrapes_every_service_on_its_port_and_loads_the_alerts():
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    (job,) = config["scrape_configs"]
    targets = {entry["names"][0]: entry["port"] for entry in job["dns_sd_configs"]}
    assert targets == SERVICE_PORTS
    assert job["metrics_path"] == "/metrics"
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]
    compose = yaml.safe_load((DEPLOY.parent / "docker-compose.yml").read_text())
    assert "./deploy/prometheus:/etc/prometheus:ro" in compose["services"]["prometheus"]["volumes"]
    grafana_volumes = compose["services"]["grafana"]["volumes"]
    assert "./deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro" in grafana_volumes
