"""What each service may do on the bus, as data, rendered into the NATS server's ``authorization`` block.

Every service connects as its own NATS user. It may publish only its own events (``sbt.events.<name>.>``),
use the few JetStream API subjects its outbox relay and its one durable consumer (named after the
service) need, acknowledge that consumer's messages, and receive replies only on its own inbox prefix
(``_INBOX_<name>.>``, see ``shared/bus.py``), so it can neither read another service's deliveries nor
subscribe to the event subjects directly: it reads the stream only through its own consumer. It may not
delete or purge the stream, create consumers under other names, or read messages by sequence.

``deploy/nats/auth.conf`` is generated from this module (``sbt nats-config``); a test fails when the two
drift. Passwords are never in the file: NATS reads them from the environment (``SBT_NATS_PASSWORD_<USER>``).
The ``ops`` user is for operators (stream administration, audits that read the whole stream); no service
runs as it.
"""

from __future__ import annotations

import json
from pathlib import Path

from shared.events.catalog import SUBJECT_PREFIX
from shared.settings import SERVICE_PORTS, SERVICES_WITHOUT_BUS

OPS_USER = "ops"
AUTH_CONF = Path(__file__).resolve().parent.parent / "deploy" / "nats" / "auth.conf"

# Extra consumer names a service may own beside the one named after itself (none yet).
EXTRA_CONSUMERS: dict[str, list[str]] = {}

# Per-process feeds: ephemeral push consumers (any name, no acks, delivered to the service's own inbox)
# restricted by subject to the service's own events, e.g. blocking's in-memory block index on every replica.
OWN_EVENT_FEEDS: dict[str, list[str]] = {"blocking": [f"{SUBJECT_PREFIX}.blocking.personnel.>"]}


def service_users() -> list[str]:
    """One NATS user per service that uses the bus; a service without events (identity) gets none."""
    return [service for service in SERVICE_PORTS if service not in SERVICES_WITHOUT_BUS]


def inbox_prefix(user: str) -> str:
    return f"_INBOX_{user}"


def password_variable(user: str) -> str:
    return f"SBT_NATS_PASSWORD_{user.upper()}"


def service_permissions(service: str, stream: str) -> dict[str, dict[str, list[str]]]:
    api = "$JS.API"
    publish = [f"{SUBJECT_PREFIX}.{service}.>", f"{api}.INFO", f"{api}.STREAM.INFO.{stream}",
               f"{api}.STREAM.CREATE.{stream}"]
    for consumer in [service, *EXTRA_CONSUMERS.get(service, [])]:
        publish += [
            f"{api}.CONSUMER.CREATE.{stream}.{consumer}",
            f"{api}.CONSUMER.CREATE.{stream}.{consumer}.>",
            f"{api}.CONSUMER.DURABLE.CREATE.{stream}.{consumer}",
            f"{api}.CONSUMER.INFO.{stream}.{consumer}",
            f"{api}.CONSUMER.MSG.NEXT.{stream}.{consumer}",
            f"$JS.ACK.{stream}.{consumer}.>",
        ]
    for feed in OWN_EVENT_FEEDS.get(service, []):
        # The server checks that the consumer's filter equals the subject's, so the feed can read no more.
        publish.append(f"{api}.CONSUMER.CREATE.{stream}.*.{feed}")
    return {"publish": {"allow": publish}, "subscribe": {"allow": [f"{inbox_prefix(service)}.>"]}}


def ops_permissions() -> dict[str, dict[str, list[str]]]:
    return {"publish": {"allow": [">"]}, "subscribe": {"allow": [">"]}}


def render_auth_conf(stream: str = "SBT_EVENTS") -> str:
    """The ``authorization`` block, passwords as environment references (``$SBT_NATS_PASSWORD_X``)."""
    lines = [
        "# Generated from shared/nats_permissions.py by `sbt nats-config`; do not edit by hand.",
        "# Each service is its own user: it publishes only sbt.events.<service>.> and reads the stream only",
        "# through its own durable consumer. Passwords come from the environment, never from this file.",
        "authorization {",
        "  users = [",
    ]
    users = [(user, service_permissions(user, stream)) for user in service_users()]
    users.append((OPS_USER, ops_permissions()))
    for user, permissions in users:
        lines += [
            "    {",
            f"      user: {json.dumps(user)}",
            f"      password: ${password_variable(user)}",
            "      permissions: {",
            f"        publish: {{ allow: {json.dumps(permissions['publish']['allow'])} }}",
            f"        subscribe: {{ allow: {json.dumps(permissions['subscribe']['allow'])} }}",
            "      }",
            "    }",
        ]
    lines += ["  ]", "}", ""]
    return "\n".join(lines)
