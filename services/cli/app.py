"""``sbt``: run, serve, migrate, mint development tokens, generate contracts."""

from __future__ import annotations

from typing import Annotated

import typer

from pydantic import ValidationError

from services.cli.support import friendly
from shared.settings import SERVICE_PORTS
from services.cli.settings import SystemSettings
from services.cli.settings import get_settings as _load_settings

app = typer.Typer(help="SBT: Sistem Berbagi Terintegrasi, ASN neutrality oversight.", no_args_is_help=True)


@app.callback()
def root(
    lang: Annotated[str | None, typer.Option("--lang", help="id (default) | en; else LANGUAGE/LANG")] = None,
) -> None:
    """SBT: Sistem Berbagi Terintegrasi, ASN neutrality oversight."""
    from services.cli.language import choose_language
    from shared.i18n import LANGUAGES

    if lang is not None and lang.lower() not in LANGUAGES:
        raise typer.BadParameter(f"{lang!r} is not one of {' | '.join(LANGUAGES)}", param_hint="--lang")
    choose_language(lang)


def get_settings() -> SystemSettings:
    """The settings, or one clear line and exit 2 when they are invalid or contradict each other."""
    try:
        return _load_settings()
    except ValidationError as error:
        reasons = "; ".join(
            str(problem["msg"]).removeprefix("Value error, ")
            + (f" ({'.'.join(map(str, problem['loc']))})" if problem.get("loc") else "")
            for problem in error.errors()
        )
        typer.echo(f"sbt: refusing to start: {reasons}", err=True)
        raise typer.Exit(2) from None


@app.command()
def run() -> None:
    """Bring the whole system up: a NATS server (unless SBT_NATS_URL names one) and every service."""
    from services.cli.runner import run_system
    from shared.files import keep_private

    settings = get_settings()
    keep_private(settings)
    raise typer.Exit(run_system(settings))


@app.command()
def serve(
    service: Annotated[str, typer.Argument(help="intake | recommendation | sanction | blocking | status | identity")],
    port: Annotated[int | None, typer.Option(help="defaults to the service's own port")] = None,
    host: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Run one service in the foreground."""
    import uvicorn

    from services.registry import create_asgi
    from shared.files import keep_private
    from shared.logs import configure_logging

    settings = get_settings()
    keep_private(settings)
    configure_logging(service)
    uvicorn.run(
        create_asgi(service, settings),
        host=host or settings.host,
        port=port or settings.service_port(service),
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=5,
        # Behind the gateway every request comes from the gateway: the client's own address (per-IP rate
        # limits, the access log) is read from X-Forwarded-For, trusted only from these addresses; with none
        # configured the header is not read at all.
        proxy_headers=bool(settings.forwarded_allow_ips.strip()),
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )


@app.command()
def migrate(services: Annotated[list[str] | None, typer.Argument(help="default: every service")] = None) -> None:
    """Apply every service's migrations to its own database."""
    from services.registry import SERVICES
    from shared.files import keep_private
    from shared.migrations import upgrade

    settings = get_settings()
    keep_private(settings)
    for service in services or SERVICES:
        upgrade(service, settings.database_url_for(service))
        typer.echo(f"{service}: migrated")


@app.command()
@friendly
def token(
    agency: Annotated[str, typer.Option(help="the client's agency code, e.g. BAWASLU, BKN")],
    role: Annotated[list[str], typer.Option(help="one or more roles")],
    ppk_agency: Annotated[str | None, typer.Option(help="for a PPK: the agency code it acts for")] = None,
    bkn_office: Annotated[str | None, typer.Option(help="for bkn_regional: the BKN regional office, I to XIV")] = None,
    client_id: Annotated[str | None, typer.Option()] = None,
    ttl: Annotated[int | None, typer.Option(help="seconds")] = None,
) -> None:
    """Mint a development bearer token signed with the configured (or development) key."""
    from services.cli.support import usage
    from shared.auth import mint_token
    from shared.authz import ROLES

    unknown = sorted(set(role) - set(ROLES))
    if unknown:
        raise usage(f"unknown role {', '.join(unknown)}; known: {', '.join(ROLES)}")
    typer.echo(
        mint_token(get_settings(), agency=agency, roles=role, ppk_agency=ppk_agency, bkn_office=bkn_office,
                   client_id=client_id, ttl_seconds=ttl)
    )


@app.command()
def contracts(check: Annotated[bool, typer.Option(help="fail if the checked-in files differ")] = False) -> None:
    """Generate contracts/: JSON Schema per event, OpenAPI per service, AsyncAPI for the stream."""
    from services.cli.contracts import write_contracts

    drift = write_contracts(check=check)
    if check and drift:
        typer.echo("contracts drifted from the code: " + ", ".join(drift), err=True)
        raise typer.Exit(1)


@app.command()
@friendly
def demo(
    cases: Annotated[int, typer.Option(help="how many cases to report", min=1, max=20000)] = 300,
    seed: Annotated[int, typer.Option(help="the same seed plays the same scenario")] = 2019,
    url: Annotated[list[str] | None, typer.Option(help="NAME=URL to reach a service elsewhere than its default "
                                                       "port, e.g. status=http://10.0.0.5:8005")] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=256)] = 16,
    sweep_days: Annotated[int, typer.Option(help="the late sweep runs as of today + this many days")] = 40,
) -> None:
    """Play a national scenario through the running services' REST APIs (start them with `sbt run`)."""
    import asyncio

    from services.cli.support import fail, progress, service_url, usage
    from services.cli.demo import DemoError, play

    settings = get_settings()
    urls = {name: service_url(name, settings=settings) for name in SERVICE_PORTS}
    for item in url or []:
        name, sep, address = item.partition("=")
        if not sep or name not in urls:
            raise usage(f"--url expects NAME=URL with NAME one of {', '.join(urls)}, got {item!r}")
        urls[name] = address
    try:
        with progress(what="demo", unit="cases") as bar:
            task = bar.add_task("", total=None)

            def step(name: str, done: int, total: int) -> None:
                bar.update(task, description=name, completed=done, total=total)

            _tally, _figures, agreed = asyncio.run(
                play(settings, urls, cases=cases, seed=seed, concurrency=concurrency, sweep_days=sweep_days,
                     say=typer.echo, step=step)
            )
    except DemoError as error:
        raise fail(f"demo stopped: {error}") from None
    if not agreed:
        raise fail("the figures did not settle to what the scenario did")


from services.cli.reference import import_command, seed_app  # noqa: E402

app.command(name="import")(import_command)
app.add_typer(seed_app, name="seed")

from services.cli.history import reconcile_command  # noqa: E402 - an agency's books beside the shared log

app.command(name="reconcile")(reconcile_command)


from services.cli.ops import ops_app  # noqa: E402 - the operator's commands live in their own module

app.add_typer(ops_app, name="ops")


from services.cli.accounts import client_app, user_app  # noqa: E402 - on the identity database

app.add_typer(client_app, name="client")
app.add_typer(user_app, name="user")


from services.cli.subscribers import subscriber_app  # noqa: E402 - on the notify database

app.add_typer(subscriber_app, name="subscriber")

from services.cli.producer_keys import producer_keys_app  # noqa: E402

app.add_typer(producer_keys_app, name="producer-keys")


from services.cli.verify_command import (  # noqa: E402
    archive_command,
    export_command,
    replay_command,
    verify_command,
    witness_command,
)

app.command(name="export")(export_command)
app.command(name="archive")(archive_command)
app.command(name="verify")(verify_command)
app.command(name="witness")(witness_command)
app.command(name="replay")(replay_command)

from services.cli.receipts import verify_receipt_command  # noqa: E402

app.command(name="verify-receipt")(verify_receipt_command)


@app.command("nats-config")
def nats_config(check: Annotated[bool, typer.Option(help="fail if a shipped file differs")] = False) -> None:
    """Generate the NATS users and permissions (deploy/nats/auth.conf, deploy/k8s/nats-auth.yaml)."""
    from shared.nats_config import drifted, write_all

    if check:
        stale = drifted()
        if stale:
            typer.echo(f"drifted from shared/nats_permissions.py: {', '.join(p.name for p in stale)}", err=True)
            raise typer.Exit(1)
        return
    write_all()


def main() -> None:
    app()

