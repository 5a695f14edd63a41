"""``sbt client``: agency clients, managed on the identity database directly (migrating it first), so the
first admin client is made with no token and no running service. The admin API (/v1/clients) does the
same once an admin client exists."""

from __future__ import annotations

import asyncio
import getpass
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer

from shared.settings import get_settings

client_app = typer.Typer(help="Agency clients of the identity service: add, list, revoke, rotate a secret.",
                         no_args_is_help=True)

T = TypeVar("T")


def _operator() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in this environment (e.g. a container's numeric uid)
        return "cli"


def _in_transaction(work: Callable[..., Awaitable[T]]) -> T:
    from shared.clock import clock_from_settings
    from shared.db import create_engine, sessionmaker
    from shared.migrations import upgrade

    settings = get_settings()
    url = settings.database_url_for("identity")
    upgrade("identity", url)
    now = clock_from_settings(settings.clock_fixed).now()

    async def run() -> T:
        engine = create_engine(url)
        try:
            async with sessionmaker(engine).begin() as session:
                return await work(session, now)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _show(document: dict) -> None:
    typer.echo(json.dumps(document, indent=2, ensure_ascii=False, default=str))


@client_app.command("add")
def add(
    name: Annotated[str, typer.Option(help="who the client is, e.g. 'Bawaslu case system'")],
    agency: Annotated[str, typer.Option(help="the client's agency code, e.g. BAWASLU, BKN")],
    role: Annotated[list[str], typer.Option(help="one or more roles (repeat the option)")],
    ppk_agency: Annotated[str | None, typer.Option(help="for a ppk client: the agency it acts for")] = None,
) -> None:
    """Register a client and print its id and secret. The secret is shown this once: only a hash is kept."""
    from pydantic import ValidationError

    from services.identity import clients
    from services.identity.schemas import ClientCreated, ClientIn, ClientOut

    try:
        data = ClientIn(name=name, agency_code=agency, roles=role, ppk_agency=ppk_agency)
    except ValidationError as error:
        for problem in error.errors():
            field = ".".join(str(part) for part in problem["loc"]) or "client"
            typer.echo(f"{field}: {problem['msg'].removeprefix('Value error, ')}", err=True)
        raise typer.Exit(2) from None

    async def work(session, now):  # noqa: ANN001, ANN202
        client, secret = await clients.register(session, data=data, created_by=_operator(), now=now)
        return ClientCreated(**ClientOut.model_validate(client, from_attributes=True).model_dump(),
                             client_secret=secret)

    created = _in_transaction(work)
    _show(created.model_dump(mode="json"))
    typer.echo("Keep the client_secret now: it cannot be shown again.", err=True)


@client_app.command("list")
def list_clients(
    active: Annotated[bool, typer.Option("--active", help="only clients that are not revoked")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON, for scripts")] = False,
) -> None:
    """Every registered client (never a secret): a table, or JSON with --json."""
    from services.identity import clients
    from services.identity.schemas import ClientOut

    async def work(session, _now):  # noqa: ANN001, ANN202
        return [ClientOut.model_validate(c, from_attributes=True).model_dump(mode="json")
                for c in await clients.list_all(session, include_revoked=not active)]

    listed = _in_transaction(work)
    if as_json:
        _show({"clients": listed})
        return
    from services.cli_support import print_table

    print_table(f"{len(listed)} client(s)", ["client id", "name", "agency", "roles", "ppk agency", "created", "revoked"],
                [(c["client_id"], c["name"], c["agency_code"], ", ".join(c["roles"]), c["ppk_agency"],
                  c["created_at"][:19], (c["revoked_at"] or "")[:19] or None) for c in listed])


@client_app.command("revoke")
def revoke(client_id: Annotated[str, typer.Argument(help="the client's id")]) -> None:
    """Revoke a client: it gets no new token; the tokens it holds expire on their own."""
    from services.identity import clients
    from services.identity.schemas import ClientOut

    async def work(session, now):  # noqa: ANN001, ANN202
        client = await clients.revoke(session, client_id=client_id, revoked_by=_operator(), now=now)
        return ClientOut.model_validate(client, from_attributes=True)

    _show(_refusing_unknown(client_id, lambda: _in_transaction(work)).model_dump(mode="json"))


@client_app.command("rotate-secret")
def rotate_secret(client_id: Annotated[str, typer.Argument(help="the client's id")]) -> None:
    """Give a client a new secret (printed once); the old one stops working at once."""
    from services.identity import clients

    async def work(session, now):  # noqa: ANN001, ANN202
        client, secret = await clients.rotate_secret(session, client_id=client_id, now=now)
        return {"client_id": client.client_id, "client_secret": secret, "secret_rotated_at": client.secret_rotated_at}

    _show(_refusing_unknown(client_id, lambda: _in_transaction(work)))
    typer.echo("Keep the client_secret now: it cannot be shown again.", err=True)


def _refusing_unknown(client_id: str, action: Callable[[], T]) -> T:
    from services.identity import clients

    try:
        return action()
    except clients.ClientNotFound:
        typer.echo(f"no client {client_id}", err=True)
    except clients.ClientRevoked:
        typer.echo(f"client {client_id} is revoked", err=True)
    raise typer.Exit(1)
