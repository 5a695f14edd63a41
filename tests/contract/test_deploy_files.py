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
from services.cli.runner import nats_server_binary
from shared.nats_permissions import OPS_USER, password_variable, service_users
from shared.settings import SERVICE_PORTS, SERVICES_WITHOUT_BUS

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


# --- what operators can trust -------------------------------------------------------------------------------

def _version() -> str:
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def test_every_compose_container_has_a_healthcheck_and_waits_for_what_it_needs_to_be_healthy(compose):
    services = compose["services"]
    for name, service in services.items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        depends = service.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: depends_on must name a condition for each dependency"
        for dependency, condition in depends.items():
            assert condition == {"condition": "service_healthy"}, f"{name} waits for {dependency} only to start"
        limits = service.get("deploy", {}).get("resources", {}).get("limits", {})
        assert limits.get("memory") and limits.get("cpus"), f"{name} has no resource limits"
    for node in [name for name in services if name.startswith("nats-")]:
        assert "http://127.0.0.1:8222/healthz?js-enabled-only=true" in services[node]["healthcheck"]["test"]
    for service in SERVICES:
        assert f"http://127.0.0.1:{SERVICE_PORTS[service]}/readyz" in " ".join(services[service]["healthcheck"]["test"])
        nats_nodes = {name for name in services[service].get("depends_on", {}) if name.startswith("nats-")}
        assert nats_nodes == (set() if service in SERVICES_WITHOUT_BUS else {"nats-1", "nats-2", "nats-3"})


def test_compose_has_no_default_secrets_and_grafana_asks_for_a_sign_in(compose):
    import re

    text = (ROOT / "docker-compose.yml").read_text()
    # ${VAR:-default} and ${VAR-default} would start with a secret anyone can read here; ${VAR:?...} refuses.
    defaulted = re.findall(r"\$\{(\w+):?-[^}]*\}", text)
    assert not [name for name in defaulted if re.search("PASSWORD|SECRET|KEY|TOKEN", name)], defaulted
    assert "dev-only" not in text
    for variable in [*(password_variable(user) for user in [*service_users(), OPS_USER]),
                     "POSTGRES_PASSWORD", "GRAFANA_ADMIN_PASSWORD"]:
        assert f"${{{variable}:?" in text, f"{variable} is not required"
        assert f"{variable}=" in (ROOT / "deploy" / "compose.env.example").read_text()
    grafana = compose["services"]["grafana"]["environment"]
    assert grafana["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert grafana["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD:?")
    assert compose["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")


def _workloads():
    return [doc for _, doc in _manifests() if doc["kind"] in ("Deployment", "StatefulSet")]


def test_kubernetes_images_are_pinned_to_a_version_never_latest():
    for workload in _workloads():
        for container in workload["spec"]["template"]["spec"]["containers"]:
            image = container["image"]
            assert ":" in image and not image.endswith(":latest"), f"{workload['metadata']['name']}: {image}"
            if image.startswith("sbt:"):
                assert image == f"sbt:{_version()}", "the SBT image's tag is pyproject's version"


def test_every_kubernetes_workload_runs_restricted():
    for workload in _workloads():
        name = workload["metadata"]["name"]
        pod = workload["spec"]["template"]["spec"]
        context = pod.get("securityContext", {})
        assert context.get("runAsNonRoot") is True and context.get("runAsUser", 0) > 0, name
        assert context.get("seccompProfile") == {"type": "RuntimeDefault"}, name
        volumes = {volume["name"]: volume for volume in pod.get("volumes", [])}
        for container in pod["containers"]:
            own = container.get("securityContext", {})
            assert own.get("allowPrivilegeEscalation") is False, name
            assert own.get("readOnlyRootFilesystem") is True, name
            assert own.get("capabilities", {}).get("drop") == ["ALL"], name
            assert container.get("resources", {}).get("limits", {}).get("memory"), name
            if workload["kind"] == "Deployment":  # its writable paths are emptyDirs, thrown away with the pod
                mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
                assert "emptyDir" in volumes[mounts["/var/sbt"]] and "emptyDir" in volumes[mounts["/tmp"]], name


def test_every_kubernetes_workload_has_a_disruption_budget():
    budgets = [doc for _, doc in _manifests() if doc["kind"] == "PodDisruptionBudget"]
    covered = {budget["spec"]["selector"]["matchLabels"]["app"] for budget in budgets}
    for workload in _workloads():
        if workload["metadata"]["name"] == "postgres":
            continue  # one pod, for trials: a budget would only block every node drain
        assert workload["spec"]["template"]["metadata"]["labels"]["app"] in covered, workload["metadata"]["name"]


DASHBOARD_CALLS = ("identity", "recommendation", "sanction", "blocking")


def test_kubernetes_network_policies_deny_by_default_and_let_each_service_reach_only_nats_and_its_database():
    policies = {doc["metadata"]["name"]: doc for _, doc in _manifests() if doc["kind"] == "NetworkPolicy"}
    deny = policies["default-deny"]["spec"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny and "egress" not in deny

    def selected(policy: dict, app: str) -> bool:
        selector = policy["spec"]["podSelector"]
        if not selector:
            return True
        if app == selector.get("matchLabels", {}).get("app"):
            return True
        return any(e["key"] == "app" and e["operator"] == "In" and app in e["values"]
                   for e in selector.get("matchExpressions", []))

    def peer_apps(rule: dict) -> set[str]:
        apps = set()
        for peer in rule.get("to", []):
            if "ipBlock" in peer:  # public addresses only when every private, link-local and loopback range is excepted
                private = {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "127.0.0.0/8"}
                excepted = set(peer["ipBlock"].get("except", []))
                apps.add("public internet" if private <= excepted else "outside the cluster")
                continue
            if "namespaceSelector" in peer:
                apps.add("kube-dns" if peer.get("podSelector", {}).get("matchLabels", {}).get("k8s-app") == "kube-dns"
                         else "another namespace")
                continue
            apps.add(peer["podSelector"]["matchLabels"]["app"])
        return apps

    for service in SERVICES:
        reached = set()
        for policy in policies.values():
            if selected(policy, service) and "Egress" in policy["spec"]["policyTypes"]:
                for rule in policy["spec"].get("egress", []):
                    reached |= peer_apps(rule)
        wanted = {"kube-dns", "postgres"} | (set() if service in SERVICES_WITHOUT_BUS else {"nats"})
        if service == "status":  # the dashboard: people sign in at identity and act through the deciding APIs
            wanted |= set(DASHBOARD_CALLS)
        if service == "identity":  # the agency's OpenID provider (HTTPS only)
            wanted.add("outside the cluster")
        if service == "notify":  # it sends the agencies' webhooks
            wanted.add("public internet")
        assert reached == wanted, f"{service} reaches {sorted(reached)}"
        sources = [peer for policy in policies.values() if selected(policy, service) and policy["spec"]["podSelector"]
                   for rule in policy["spec"].get("ingress", []) for peer in rule.get("from", [])]
        from_dashboard = [{"podSelector": {"matchLabels": {"app": "status"}}}] if service in DASHBOARD_CALLS else []
        assert sources and all(set(peer) == {"namespaceSelector"} or peer in from_dashboard for peer in sources), \
            service
        assert all(peer in sources for peer in from_dashboard), f"{service} is not reachable from the dashboard"
    outside = [rule for rule in policies["identity-egress"]["spec"]["egress"]
               if any("ipBlock" in peer for peer in rule["to"])]
    assert [port["port"] for rule in outside for port in rule["ports"]] == [443]


def test_the_bundled_postgres_says_it_is_for_trials_and_names_an_operator_for_production():
    for path in (K8S / "postgres.yaml", K8S / "README.md"):
        text = path.read_text()
        assert "trials" in text.lower() and "CloudNativePG" in text, path.name
