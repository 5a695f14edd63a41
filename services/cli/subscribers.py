"""``sbt subscriber``: NATS feed logins for agency systems, managed on the notify database directly
(migrating it first), with the NATS server's users and consumers kept in step (services/notify/subscribers.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer

from services.cli.support import fail
from services.cli.settings import get_settings

subscriber_app = typer.Typer(help="NATS feed logins of agency systems: add, list, revoke, rotate.",
                             no_args_is_help=True)

T = TypeVar("T")


def _run(work: Callable[..., Awaitable[T]]) -> T:
    from services.notify.subscribers import SubscriberError
    from shared.clock import clock_from_settings
    from shared.db import create_engine, sessionmaker
    from shared.migrations import upgrade

    settings = get_settings()
    url = settings.database_url_for("notify")
    upgrade("notify", url)
    now = clock_from_settings(settings.clock_fixed).now()

    async def run() -> T:
        engine = create_engine(url)
        try:
            return await work(settings, sessionmaker(engine), now)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except SubscriberError as error:
        raise fail(str(error)) from None


async def _sync_server(settings, sessions) -> bool:  # noqa: ANN001
    from services.notify import subscribers

    async with sessions() as session:
        logins = subscribers.logins_of(await subscribers.active(session))
    return subscribers.write_server_config(settings, logins)


def _show_login(document: dict, as_json: bool, managed: bool) -> None:
    if as_json:
        typer.echo(json.dumps(document, ensure_ascii=False))
    else:
        for key, value in document.items():
            typer.echo(f"{key:<13}{', '.join(value) if isinstance(value, list) else value}")
    typer.echo("Keep the password now: it cannot be shown again.", err=True)
    if not managed:
        typer.echo("This NATS is not managed here: render its users with `sbt subscriber nats-config` and reload "
                   "it (nats-server --signal reload).", err=True)


@subscriber_app.command("add")
def add(
    agency: Annotated[str, typer.Option(help="the agency code of the subscribing system, e.g. PEMPROV-JABAR")],
    scope: Annotated[str, typer.Option(help="the role it reads as: ppk (its own agency's civil servants), "
                                            "bkn_regional (its office's region's, with --office) or a national "
                                            "role (observer, blocker, ...: every agency's)")] = "ppk",
    office: Annotated[str | None, typer.Option(help="for bkn_regional: the regional office's code, e.g. III")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object, for scripts")] = False,
) -> None:
    """Make a feed login: a NATS user that reads only its feed, through a durable consumer of its own."""
    from services.notify import subscribers

    async def work(settings, sessions, now):  # noqa: ANN001, ANN202
        async with sessions.begin() as session:
            subscriber, password = await subscribers.add(session, agency=agency, role=scope, now=now,
                                                         office=office)
        await subscribers.make_consumer(settings, subscriber)
        managed = await _sync_server(settings, sessions)
        if managed and not await subscribers.wait_until_login_works(settings, subscriber.user, password):
            raise subscribers.SubscriberError(f"NATS did not take the new user {subscriber.user} after a reload")
        return subscribers.login_document(settings, subscriber, password), managed

    document, managed = _run(work)
    _show_login(document, as_json, managed)


@subscriber_app.command("list")
def list_subscribers(as_json: Annotated[bool, typer.Option("--json", help="JSON, for scripts")] = False) -> None:
    """Every feed login (never a password): a table, or JSON with --json."""
    from sqlalchemy import select

    from services.notify.models import FeedSubscriber

    async def work(_settings, sessions, _now):  # noqa: ANN001, ANN202
        async with sessions() as session:
            rows = (await session.scalars(select(FeedSubscriber).order_by(FeedSubscriber.created_at))).all()
        return [{"user": r.user, "agency": r.agency_code, "role": r.role, "feed": r.feed, "consumer": r.consumer,
                 "created_at": r.created_at.isoformat(), "rotated_at": r.rotated_at and r.rotated_at.isoformat(),
                 "revoked_at": r.revoked_at and r.revoked_at.isoformat()} for r in rows]

    listed = _run(work)
    if as_json:
        typer.echo(json.dumps({"subscribers": listed}, indent=2))
        return
    from services.cli.support import print_table

    print_table(f"{len(listed)} feed subscriber(s)", ["user", "agency", "role", "feed", "created", "revoked"],
                [(s["user"], s["agency"], s["role"], s["feed"], s["created_at"][:19], (s["revoked_at"] or "")[:19] or None)
                 for s in listed])


@subscriber_app.command("revoke")
def revoke(user: Annotated[str, typer.Argument(help="the feed login's user")]) -> None:
    """Remove the login from NATS (reload) and delete its consumer."""
    from services.notify import subscribers

    async def work(settings, sessions, now):  # noqa: ANN001, ANN202
        async with sessions.begin() as session:
            subscriber = await subscribers.find(session, user)
            subscriber.revoked_at = now
        await _sync_server(settings, sessions)
        await subscribers.delete_consumer(settings, subscriber)

    _run(work)
    typer.echo(f"revoked {user}")


@subscriber_app.command("rotate")
def rotate(
    user: Annotated[str, typer.Argument(help="the feed login's user")],
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object, for scripts")] = False,
) -> None:
    """A new password for the login (the old one stops working at the reload); its consumer stays."""
    from services.notify import subscribers
    from shared.nats_login import new_password

    async def work(settings, sessions, now):  # noqa: ANN001, ANN202
        password = new_password()
        async with sessions.begin() as session:
            subscriber = await subscribers.find(session, user)
            subscriber.password_hash, subscriber.rotated_at = subscribers.hash_password(password), now
        managed = await _sync_server(settings, sessions)
        if managed and not await subscribers.wait_until_login_works(settings, subscriber.user, password):
            raise subscribers.SubscriberError(f"NATS did not take the new password of {user} after a reload")
        return subscribers.login_document(settings, subscriber, password), managed

    document, managed = _run(work)
    _show_login(document, as_json, managed)


@subscriber_app.command("nats-config")
def nats_config(out: Annotated[str, typer.Option(help="where to write the authorization block")] = "-") -> None:
    """The NATS authorization block with the services' users and every active feed login (bcrypt hashes),
    for a NATS this deployment does not manage (docker-compose, Kubernetes): then reload that server."""
    from services.notify import subscribers
    from shared.nats_permissions import render_auth_conf

    async def work(settings, sessions, _now):  # noqa: ANN001, ANN202
        async with sessions() as session:
            return render_auth_conf(settings.stream_name, subscribers.logins_of(await subscribers.active(session)))

    text = _run(work)
    if out == "-":
        typer.echo(text, nl=False)
    else:
        from pathlib import Path

        Path(out).write_text(text)
