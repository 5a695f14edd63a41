"""docker-compose.yml and deploy/k8s/ are checked without a container engine: against the Compose
specification's JSON Schema and Kubernetes' own schemas, and for what SBT needs of them."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from services.registry import SERVICES

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_file_follows_the_compose_specification(compose):
    schema_text = (
        resources.files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json").read_text()
    )
    jsonschema.validate(compose, json.loads(schema_text))


def test_compose_runs_a_three_node_jetstream_cluster_and_replicated_services(compose):
    services = compose["services"]
    nodes = [name for name in services if name.startswith("nats-")]
    assert len(nodes) == 3
    for node in nodes:
        command = services[node]["command"]
        assert "-js" in command and "--cluster_name" in command
        routes = command[command.index("--routes") + 1]
        assert sorted(routes.split(",")) == sorted(f"nats://{other}:6222" for other in nodes if other != node)
    for service in SERVICES:
        assert service in services, f"{service} is missing from docker-compose.yml"
        assert services[service]["deploy"]["replicas"] >= 2
        environment = services[service]["environment"]
        assert environment["SBT_STREAM_REPLICAS"] == "3"
        assert environment["SBT_NATS_URL"].count("nats://") == 3
    for name in ("postgres", "gateway", "prometheus", "grafana"):
        assert name in services


def test_every_file_the_compose_file_mounts_exists(compose):
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name} mounts {source}, which does not exist"


def _manifests():
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                yield path.name, document


def test_kubernetes_manifests_validate_against_the_kubernetes_schemas():
    version = kubernetes_validate.latest_version()
    checked = 0
    for name, document in _manifests():
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{name} {document['kind']}/{document['metadata']['name']}: {error.message}")
        checked += 1
    assert checked >= 15


def test_kubernetes_covers_every_service_with_replicas_and_the_nats_cluster():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    for resource in kustomization["resources"]:
        assert (K8S / resource).exists()
    deployments = {doc["metadata"]["name"]: doc for _, doc in _manifests() if doc["kind"] == "Deployment"}
    for service in SERVICES:
        assert deployments[service]["spec"]["replicas"] >= 2
    (nats,) = [doc for _, doc in _manifests() if doc["kind"] == "StatefulSet" and doc["metadata"]["name"] == "nats"]
    assert nats["spec"]["replicas"] == 3
