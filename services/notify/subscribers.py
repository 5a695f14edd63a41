"""Agency feed subscribers: NATS logins that read one feed through their own durable consumer.

The notify database is the record (``feed_subscribers``: user, agency, role, feed, consumer, bcrypt hash).
What the NATS server must know follows from it: the user with its permissions (shared/nats_permissions.py,
``feed_subscriber_permissions``) in the server's authorization file, reloaded with SIGHUP (nats-server takes
new users without a restart), and the consumer, made here as ``ops`` with the feed's filter, because a
subscriber allowed to make its own consumer could give it another agency's filter.

Which feed a login reads is the one rule of shared/authz.py: ``scope_of`` a caller of that agency and role
under ``feed:read``: one agency's (a PPK) or every agency's (national roles: the NATIONAL feed).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import secrets
import signal
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import nats
import nats.js.errors
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.notify import domain
from services.notify.feeds import FEED_STREAM, ensure_feed_stream
from services.notify.models import FeedSubscriber
from shared.authz import ROLES, allowed, scope_of
from shared.events import EVENT_MODELS
from shared.nats_login import connect_options, new_password
from shared.nats_permissions import FEED_USER_PREFIX, OPS_USER, FeedLogin, render_auth_conf
from services.notify.settings import NotifySettings

SNAPSHOT = "feed-subscribers.json"
BCRYPT_ROUNDS = 11


class SubscriberError(ValueError):
    """Something the operator can fix: one line."""


@dataclass(frozen=True)
class _Caller:
    roles: frozenset[str]
    ppk_agency: str | None
    bkn_office: str | None = None


def feed_of(agency: str, role: str, office: str | None = None) -> str:
    """The feed a login of ``agency`` reading as ``role`` (for a regional office: of ``office``) may have
    (shared/authz.py decides)."""
    if role not in ROLES or role == "public":
        raise SubscriberError(f"unknown role {role!r}; one of {', '.join(r for r in ROLES if r != 'public')}")
    if not allowed("feed:read", [role]):
        raise SubscriberError(f"the role {role} may not read a feed")
    if office and role != "bkn_regional":
        raise SubscriberError("an office is only for the role bkn_regional")
    scope = scope_of(_Caller(frozenset({role}), agency, office), "feed:read")
    if scope.every_agency:
        # The national feed carries every event type: only for a role that may read each of them.
        missing = sorted({domain.event_permission(t) for t in EVENT_MODELS if not domain.may_receive([role], t)})
        if missing:
            raise SubscriberError(f"the role {role} may not read every event of the national feed (it lacks "
                                  f"{', '.join(missing)}); a webhook subscription takes only what it may read")
        return domain.NATIONAL_FEED
    if role == "bkn_regional":
        if scope.nobody or office is None:
            raise SubscriberError(f"office: {office!r} is not a BKN regional office (see "
                                  "deploy/seed/bkn_regional_offices.csv)")
        return domain.office_feed(office)
    if scope.agency is None:
        raise SubscriberError("an agency-scoped feed needs an agency")
    return scope.agency


def auth_file(settings: NotifySettings) -> Path:
    return settings.nats_auth_file or settings.data_dir / "nats" / "auth.conf"


def pid_file(settings: NotifySettings) -> Path:
    return settings.nats_pid_file or settings.data_dir / "nats" / "nats.pid"


def snapshot_path(settings: NotifySettings) -> Path:
    return auth_file(settings).parent / SNAPSHOT


def read_snapshot(path: Path) -> list[FeedLogin]:
    """The feed logins last written beside an authorization file (the embedded server's, for `sbt run`)."""
    if not path.exists():
        return []
    return [FeedLogin(**entry) for entry in json.loads(path.read_text())]


async def active(session: AsyncSession) -> list[FeedSubscriber]:
    return list((await session.scalars(select(FeedSubscriber).where(FeedSubscriber.revoked_at.is_(None))
                                       .order_by(FeedSubscriber.created_at))).all())


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(BCRYPT_ROUNDS)).decode()


async def add(session: AsyncSession, *, agency: str, role: str, now: dt.datetime,
              office: str | None = None) -> tuple[FeedSubscriber, str]:
    agency = agency.strip().upper()
    if (not domain.valid_feed_name(agency) or agency == domain.NATIONAL_FEED
            or agency.startswith(domain.OFFICE_FEED_PREFIX)):
        raise SubscriberError(f"agency: {agency!r} is not an agency code (letters, digits, '-' and '_')")
    feed = feed_of(agency, role, office.strip().upper() if office else None)
    user = f"{FEED_USER_PREFIX}{agency.lower().replace('-', '_')}_{secrets.token_hex(3)}"
    password = new_password()
    subscriber = FeedSubscriber(user=user, agency_code=agency, role=role, feed=feed, consumer=user,
                                password_hash=hash_password(password), created_at=now)
    session.add(subscriber)
    return subscriber, password


async def find(session: AsyncSession, user: str) -> FeedSubscriber:
    subscriber = await session.get(FeedSubscriber, user)
    if subscriber is None or subscriber.revoked_at is not None:
        raise SubscriberError(f"no active feed subscriber {user!r} (see `sbt subscriber list`)")
    return subscriber


def write_server_config(settings: NotifySettings, logins: list[FeedLogin]) -> bool:
    """Rewrite the managed server's authorization file with these logins and ask it to reload. False when
    this deployment manages no server (an external NATS without SBT_NATS_AUTH_FILE)."""
    path = auth_file(settings)
    if settings.nats_auth_file is None and settings.nats_url != settings.embedded_nats_url:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    snapshot = snapshot_path(settings)
    _write_private(snapshot, json.dumps([login.__dict__ for login in logins], indent=2))
    _write_private(path, render_auth_conf(settings.stream_name, logins))
    reload_server(settings)
    return True


def reload_server(settings: NotifySettings) -> bool:
    try:
        pid = int(pid_file(settings).read_text().strip())
    except (OSError, ValueError):
        return False  # not running: it reads the file when it starts
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGHUP)
        return True
    return False


def _write_private(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(temporary, path)


def logins_of(subscribers: list[FeedSubscriber]) -> list[FeedLogin]:
    return [FeedLogin(s.user, s.password_hash, s.consumer) for s in subscribers]


async def _ops(settings: NotifySettings):  # noqa: ANN202 - a nats Client
    options = connect_options(settings, OPS_USER)
    try:
        return await nats.connect(**options, connect_timeout=3, max_reconnect_attempts=0, allow_reconnect=False)
    except Exception as error:  # noqa: BLE001
        raise SubscriberError(f"cannot reach NATS at {settings.nats_url} as {OPS_USER}: {error}") from None


async def make_consumer(settings: NotifySettings, subscriber: FeedSubscriber) -> None:
    nc = await _ops(settings)
    try:
        js = nc.jetstream(timeout=5)
        await ensure_feed_stream(js, settings)
        await js.add_consumer(FEED_STREAM, config=ConsumerConfig(
            durable_name=subscriber.consumer, name=subscriber.consumer, ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL, filter_subject=domain.feed_filter(subscriber.feed), ack_wait=30,
        ))
    finally:
        await nc.close()


async def delete_consumer(settings: NotifySettings, subscriber: FeedSubscriber) -> None:
    nc = await _ops(settings)
    try:
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await nc.jetstream(timeout=5).delete_consumer(FEED_STREAM, subscriber.consumer)
    finally:
        await nc.close()


async def wait_until_login_works(settings: NotifySettings, user: str, password: str, timeout: float = 5.0) -> bool:
    """The server takes a reload in the background: try the new login until it is accepted."""
    servers = [s.strip() for s in settings.nats_url.split(",")]
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        try:
            nc = await nats.connect(servers=servers, user=user, password=password, connect_timeout=1,
                                    max_reconnect_attempts=0, allow_reconnect=False)
        except Exception:  # noqa: BLE001 - not yet reloaded
            await asyncio.sleep(0.1)
            continue
        await nc.close()
        return True
    return False


def login_document(settings: NotifySettings, subscriber: FeedSubscriber, password: str) -> dict:
    """What `sbt subscriber add --json` prints: everything an agency system needs to read its feed."""
    return {
        "servers": [s.strip() for s in settings.nats_url.split(",")],
        "user": subscriber.user,
        "password": password,
        "inbox_prefix": f"_INBOX_{subscriber.user}",
        "stream": FEED_STREAM,
        "consumer": subscriber.consumer,
        "subjects": domain.feed_filter(subscriber.feed),
        "agency": subscriber.agency_code,
        "role": subscriber.role,
        "feed": subscriber.feed,
    }
