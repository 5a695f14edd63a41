"""docker-compose.yml and deploy/k8s/ are checked without a container engine: against the Compose
specification's JSON Schema and Kubernetes' own schemas, and for what SBT needs of them."""

from __future__ import annotations

import json
import os
import subprocess
from importlib import resources
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from services.registry import SERVICES
from services.runner import nats_server_binary
from shared.nats_permissions import OPS_USER, password_variable, service_users
from shared.settings import SERVICES_WITHOUT_BUS

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
        if service in SERVICES_WITHOUT_BUS:  # no address, no user: it could not reach the bus if it tried
            assert not any(name.startswith("SBT_NATS") for name in environment), service
            assert not any(name.startswith("nats-") for name in services[service]["depends_on"]), service
            continue
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


# --- the bus's own rules in every deployment ---------------------------------------------------------------

def _nats_config_test(config: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """nats-server's own configuration check (-t): parses the file and its includes, resolves variables."""
    return subprocess.run([nats_server_binary(), "-c", str(config), "-t"], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=30)


def _passwords() -> dict[str, str]:
    return {password_variable(user): f"pw-{user}" for user in [*service_users(), OPS_USER]}


def test_compose_runs_nats_with_the_per_service_users_and_each_service_logs_in_as_itself(compose):
    services = compose["services"]
    for node in [name for name in services if name.startswith("nats-")]:
        command = services[node]["command"]
        assert command[:2] == ["-c", "/etc/nats/nats-server.conf"]
        assert "./deploy/nats:/etc/nats:ro" in services[node]["volumes"]
        assert set(services[node]["environment"]) == set(_passwords())
    for service in service_users():
        environment = services[service]["environment"]
        assert environment["SBT_NATS_USER"] == service
        assert password_variable(service) in environment["SBT_NATS_PASSWORD"]
    # The file the nodes load is one nats-server accepts, users and all.
    checked = _nats_config_test(ROOT / "deploy" / "nats" / "nats-server.conf", _passwords())
    assert checked.returncode == 0, checked.stderr
    # Without the passwords in its environment the server refuses to start rather than run open.
    assert _nats_config_test(ROOT / "deploy" / "nats" / "nats-server.conf", {}).returncode != 0


def test_kubernetes_nats_loads_the_generated_users_and_each_service_gets_only_its_own_password(tmp_path):
    documents = [doc for _, doc in _manifests()]
    (config,) = [d for d in documents if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "nats-config"]
    (auth,) = [d for d in documents if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "nats-auth"]
    (secret,) = [d for d in documents if d["kind"] == "Secret" and d["metadata"]["name"] == "sbt-nats"]
    assert set(secret["stringData"]) == set(_passwords())
    (nats,) = [d for d in documents if d["kind"] == "StatefulSet" and d["metadata"]["name"] == "nats"]
    mounts = {m["name"]: m["mountPath"] for m in nats["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]}
    assert mounts["auth"] == "/etc/nats/auth"
    deployments = {d["metadata"]["name"]: d for d in documents if d["kind"] == "Deployment"}
    for service in service_users():
        env = {e["name"]: e for e in deployments[service]["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert env["SBT_NATS_USER"]["value"] == service
        assert env["SBT_NATS_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
            "name": "sbt-nats", "key": password_variable(service)}
    # nats-server accepts the ConfigMaps as mounted (store path aside, which is the pod's volume).
    (tmp_path / "auth").mkdir()
    (tmp_path / "auth" / "auth.conf").write_text(auth["data"]["auth.conf"])
    (tmp_path / "nats.conf").write_text(config["data"]["nats.conf"].replace("/data", str(tmp_path / "data")))
    checked = _nats_config_test(tmp_path / "nats.conf", {**_passwords(), "POD_NAME": "nats-0"})
    assert checked.returncode == 0, checked.stderr
