"""What each service may do on the bus, as data, rendered into the NATS server's ``authorization`` block.

Every service connects as its own NATS user, and everything it may do is allowed by name, never by
pattern over another service's names:

- publish only its own events (``sbt.events.<name>.>``);
- reach the stream only to look at it and to create it when missing (``STREAM.INFO``/``STREAM.CREATE`` of
  ``SBT_EVENTS``; a create of an existing stream with another config fails, it never updates);
- create-or-update, read, pull from and acknowledge only consumers it owns: its durable consumer, named after
  the service, and any fixed name listed in ``EXTRA_CONSUMERS`` (none yet). Each permission names the
  consumer in full (``CONSUMER.CREATE.SBT_EVENTS.<name>``, ``CONSUMER.INFO...``, ``CONSUMER.MSG.NEXT...``,
  ``$JS.ACK.SBT_EVENTS.<name>.>``) and the server refuses a request whose body names another consumer than
  its subject, so no request can touch a consumer of another service;
- receive replies only on its own inbox prefix (``_INBOX_<name>.>``, see ``shared/bus.py``), so it can read
  neither another service's deliveries nor the event subjects of others.

Nothing else: no ``STREAM.UPDATE``/``DELETE``/``PURGE``, no ``STREAM.MSG.GET``/``MSG.DELETE`` or
``DIRECT.GET`` (reading or erasing by sequence), no ``CONSUMER.DELETE``, no stream or consumer lists, no
ephemeral consumers, no account info.

Why no pattern: NATS subject wildcards match whole tokens only, so "consumers whose name begins with
``blocking_``" cannot be expressed, and a ``*`` in the consumer-name token matches every name, another
service's durable included. The ``blocking`` user once had ``CONSUMER.CREATE.SBT_EVENTS.*.<its own
subjects>`` for per-process feeds, and with it could create-or-update the ``status`` durable onto another
filter, silencing the status service.

Per-process feeds therefore use no JetStream consumer at all. The in-memory block index on every blocking
replica needs only to know that some replica placed or lifted a block on a NIP, and those events are the
blocking service's own: its user may subscribe (core NATS) to its own subjects listed in ``OWN_EVENT_FEEDS``,
which are checked to lie under its own prefix. Reading what one may publish anyway reveals nothing new, and
the index takes such a message only as a hint to re-read that NIP from its own database, never as the truth
(``services/blocking/block_index.py``).

``deploy/nats/auth.conf`` and ``deploy/k8s/nats-auth.yaml`` are generated from this module
(``sbt nats-config``); a test fails when they drift. Passwords are never in the files: NATS reads them from
the environment (``SBT_NATS_PASSWORD_<USER>``). The ``ops`` user is for operators (stream administration,
audits that read the whole stream); no service runs as it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from shared.events.catalog import SUBJECT_PREFIX
from shared.settings import SERVICE_PORTS, SERVICES_WITHOUT_BUS

OPS_USER = "ops"
AUTH_CONF = Path(__file__).resolve().parent.parent / "deploy" / "nats" / "auth.conf"

# Extra consumer names a service may own beside the one named after itself (none yet). Fixed names only:
# a wildcard in the name token would match every other service's consumer too.
EXTRA_CONSUMERS: dict[str, list[str]] = {}

# Subjects of a service's own events it may subscribe to directly (core NATS, no consumer): blocking's
# in-memory block index on every replica hears of each block and unblock and re-reads that NIP.
OWN_EVENT_FEEDS: dict[str, list[str]] = {"blocking": [f"{SUBJECT_PREFIX}.blocking.personnel.>"]}

# The agencies' feeds (services/notify/feeds.py): a stream of their own, which only notify writes to. Notify
# republishes each event there unchanged; it may look at and create that stream, publish its subjects, and
# delete a message of a retired case from it.
FEED_STREAM = "SBT_FEEDS"
FEED_SUBJECTS = "sbt.feeds.>"
FEED_WRITER = "notify"
# A feed subscriber's user name: ``feed_`` and a lower-case id (shared by nats_login and sbt subscriber).
FEED_USER_PREFIX = "feed_"


@dataclass(frozen=True)
class FeedLogin:
    """A feed subscriber's NATS user as the server's configuration holds it."""

    user: str
    password_hash: str  # bcrypt
    consumer: str


def service_users() -> list[str]:
    """One NATS user per service that uses the bus; a service without events (identity) gets none."""
    return [service for service in SERVICE_PORTS if service not in SERVICES_WITHOUT_BUS]


def inbox_prefix(user: str) -> str:
    return f"_INBOX_{user}"


def password_variable(user: str) -> str:
    return f"SBT_NATS_PASSWORD_{user.upper()}"


def service_permissions(service: str, stream: str) -> dict[str, dict[str, list[str]]]:
    api = "$JS.API"
    publish = [f"{SUBJECT_PREFIX}.{service}.>", f"{api}.STREAM.INFO.{stream}", f"{api}.STREAM.CREATE.{stream}"]
    for consumer in [service, *EXTRA_CONSUMERS.get(service, [])]:
        # Create-or-update by name, the filters in the body (nats.py's subject for a named consumer with
        # ``filter_subjects``); the server checks the body's name equals the subject's.
        publish += [
            f"{api}.CONSUMER.CREATE.{stream}.{consumer}",
            f"{api}.CONSUMER.INFO.{stream}.{consumer}",
            f"{api}.CONSUMER.MSG.NEXT.{stream}.{consumer}",
            f"$JS.ACK.{stream}.{consumer}.>",
        ]
    if service == FEED_WRITER:
        # MSG.DELETE: a retired case's messages leave the feeds (services/notify/feeds.py erase_retired).
        publish += [FEED_SUBJECTS, f"{api}.STREAM.INFO.{FEED_STREAM}", f"{api}.STREAM.CREATE.{FEED_STREAM}",
                    f"{api}.STREAM.MSG.DELETE.{FEED_STREAM}"]
    subscribe = [f"{inbox_prefix(service)}.>"]
    for feed in OWN_EVENT_FEEDS.get(service, []):
        if not feed.startswith(f"{SUBJECT_PREFIX}.{service}."):
            raise ValueError(f"{service} may only subscribe to its own events, not {feed}")
        subscribe.append(feed)
    return {"publish": {"allow": publish}, "subscribe": {"allow": subscribe}}


def feed_subscriber_permissions(user: str, consumer: str) -> dict[str, dict[str, list[str]]]:
    """An agency system's feed login: it may look at, pull from and acknowledge its own durable consumer on
    the feed stream (made for it, with its feed's filter, by ``sbt subscriber add`` as ``ops``), and receive
    replies on its own inbox prefix. Nothing else: it creates no consumer (a consumer of its own making
    could carry another agency's filter), reads no stream by sequence, publishes no event."""
    api = "$JS.API"
    return {
        "publish": {"allow": [f"{api}.CONSUMER.INFO.{FEED_STREAM}.{consumer}",
                              f"{api}.CONSUMER.MSG.NEXT.{FEED_STREAM}.{consumer}",
                              f"$JS.ACK.{FEED_STREAM}.{consumer}.>"]},
        "subscribe": {"allow": [f"{inbox_prefix(user)}.>"]},
    }


def ops_permissions() -> dict[str, dict[str, list[str]]]:
    return {"publish": {"allow": [">"]}, "subscribe": {"allow": [">"]}}


def render_auth_conf(stream: str = "SBT_EVENTS", subscribers: Sequence[FeedLogin] = ()) -> str:
    """The ``authorization`` block, passwords as environment references (``$SBT_NATS_PASSWORD_X``); the feed
    subscribers' (``sbt subscriber``) after the services', their passwords as bcrypt hashes, so that the
    server takes a new one on a configuration reload, without a restart."""
    lines = [
        "# Generated from shared/nats_permissions.py by `sbt nats-config`; do not edit by hand.",
        "# Each service is its own user: it publishes only sbt.events.<service>.> and reads the stream only",
        "# through consumers it owns by name. Passwords come from the environment, never from this file.",
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
    for login in subscribers:
        permissions = feed_subscriber_permissions(login.user, login.consumer)
        lines += [
            "    {",
            f"      user: {json.dumps(login.user)}",
            f"      password: {json.dumps(login.password_hash)}",
            "      permissions: {",
            f"        publish: {{ allow: {json.dumps(permissions['publish']['allow'])} }}",
            f"        subscribe: {{ allow: {json.dumps(permissions['subscribe']['allow'])} }}",
            "      }",
            "    }",
        ]
    lines += ["  ]", "}", ""]
    return "\n".join(lines)
