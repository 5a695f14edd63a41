"""The NATS configuration files SBT ships, all rendered from ``shared/nats_permissions.py`` so that the
embedded server, docker-compose and Kubernetes enforce one table of who may do what on the bus:

- ``deploy/nats/auth.conf``: included by ``deploy/nats/nats-server.conf`` (docker-compose mounts it);
- ``deploy/k8s/nats-auth.yaml``: the same block as a ConfigMap the NATS StatefulSet mounts.

``sbt nats-config`` writes them; a test fails when a checked-in file differs from what the code renders.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from shared.nats_permissions import AUTH_CONF, render_auth_conf

K8S_AUTH = AUTH_CONF.parent.parent / "k8s" / "nats-auth.yaml"


def render_k8s_auth_configmap() -> str:
    body = "\n".join(f"    {line}" if line else "" for line in render_auth_conf().splitlines())
    return (
        "# Generated from shared/nats_permissions.py by `sbt nats-config`; do not edit by hand.\n"
        "# The NATS users and permissions of deploy/nats/auth.conf; passwords come from the sbt-nats Secret.\n"
        "apiVersion: v1\n"
        "kind: ConfigMap\n"
        "metadata:\n"
        "  name: nats-auth\n"
        "  namespace: sbt\n"
        "data:\n"
        "  auth.conf: |\n"
        f"{body}\n"
    )


FILES: dict[Path, Callable[[], str]] = {AUTH_CONF: render_auth_conf, K8S_AUTH: render_k8s_auth_configmap}


def drifted() -> list[Path]:
    """The shipped files that differ from what the code renders."""
    return [path for path, render in FILES.items() if not path.exists() or path.read_text() != render()]


def write_all() -> None:
    for path, render in FILES.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render())
