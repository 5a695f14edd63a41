"""``sbt ops``: the operator's commands, each a call to a service's own admin endpoints.

The CLI talks HTTP to the running services (they do not call each other), with an admin token: the one in
``SBT_TOKEN`` or ``--token``, else one minted with the configured (development) signing key. A service is
found at its default port on ``SBT_HOST`` unless ``SBT_<SERVICE>_URL`` (e.g. ``SBT_SANCTION_URL``) or
``--url`` says otherwise.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from typing import Annotated

import httpx
import typer

from shared.settings import SERVICE_PORTS, get_settings

ops_app = typer.Typer(help="Operate SBT: dead letters, replays, backlog and lag, deadline sweeps (admin role).",
                      no_args_is_help=True)

ServiceArg = Annotated[str, typer.Option("--service", "-s", help="intake | recommendation | sanction | blocking | status")]
UrlOpt = Annotated[str | None, typer.Option(help="the service's base URL (default: its own port on SBT_HOST)")]
TokenOpt = Annotated[str | None, typer.Option(envvar="SBT_TOKEN", help="an admin bearer token")]


def service_url(service: str, url: str | None = None) -> str:
    if service not in SERVICE_PORTS:
        raise typer.BadParameter(f"unknown service {service!r}; known: {', '.join(SERVICE_PORTS)}")
    return url or os.environ.get(f"SBT_{service.upper()}_URL") or f"http://{get_settings().host}:{get_settings().service_port(service)}"


def admin_token(token: str | None) -> str:
    if token:
        return token
    from shared.auth import mint_token

    return mint_token(get_settings(), agency="BKN", roles=["admin"], client_id="sbt-ops-cli", ttl_seconds=300)


def _call(method: str, service: str, path: str, *, url: str | None, token: str | None, body: dict | None = None) -> dict:
    base = service_url(service, url)
    try:
        response = httpx.request(method, f"{base}{path}", json=body, timeout=60,
                                 headers={"Authorization": f"Bearer {admin_token(token)}"})
    except httpx.HTTPError as error:
        typer.echo(f"{service} unreachable at {base}: {error}", err=True)
        raise typer.Exit(2) from None
    if response.status_code >= 400:
        typer.echo(f"{service} answered {response.status_code}: {response.text}", err=True)
        raise typer.Exit(1)
    return response.json()


def _print(document: dict) -> None:
    typer.echo(json.dumps(document, indent=2, ensure_ascii=False, default=str))


@ops_app.command("dead-letters")
def dead_letters(
    service: ServiceArg = "status",
    state: Annotated[str, typer.Option(help="open | replayed | all")] = "open",
    limit: int = 100,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """List a service's dead letters."""
    _print(_call("GET", service, f"/v1/ops/dead-letters?state={state}&limit={limit}", url=url, token=token))


@ops_app.command()
def replay(
    dead_letter_id: Annotated[int | None, typer.Argument(help="the dead letter's id; omit with --all")] = None,
    all_open: Annotated[bool, typer.Option("--all", help="replay every open dead letter")] = False,
    service: ServiceArg = "status",
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Replay one dead letter (or all open ones) through the service's own handler; exits 1 if any failed."""
    if (dead_letter_id is None) == (not all_open):
        raise typer.BadParameter("give a dead letter id or --all (not both)")
    path = "/v1/ops/dead-letters/replay" if all_open else f"/v1/ops/dead-letters/{dead_letter_id}/replay"
    result = _call("POST", service, path, url=url, token=token)
    _print(result)
    failed = result.get("failed", 1 if result.get("outcome") == "failed" else 0)
    if failed:
        raise typer.Exit(1)


@ops_app.command()
def backlog(
    service: Annotated[list[str] | None, typer.Option("--service", "-s", help="default: every service")] = None,
    token: TokenOpt = None,
) -> None:
    """Outbox backlog (count, age of the oldest), consumer lag and open dead letters of each service."""
    from services.registry import SERVICES
    from shared.settings import SERVICES_WITHOUT_BUS

    rows = []
    for name in service or [s for s in SERVICES if s not in SERVICES_WITHOUT_BUS]:
        try:
            rows.append(_call("GET", name, "/v1/ops/backlog", url=None, token=token))
        except typer.Exit:
            rows.append({"service": name, "error": "unreachable or refused"})
    _print({"services": rows})


@ops_app.command()
def sweep(
    as_of: Annotated[str | None, typer.Option("--date", help="sweep as if it were this day (YYYY-MM-DD); default today")] = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Run the sanction service's deadline sweep (early warnings, overdue notices) for a date."""
    body = {}
    if as_of is not None:
        try:
            body["as_of"] = dt.date.fromisoformat(as_of).isoformat()
        except ValueError:
            raise typer.BadParameter(f"--date must be YYYY-MM-DD, got {as_of!r}") from None
    _print(_call("POST", "sanction", "/v1/sweeps", url=url, token=token, body=body))
