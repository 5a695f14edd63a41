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

from services.cli.settings import get_settings

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
    bkn_office: Annotated[str | None, typer.Option(help="for a bkn_regional client: its regional office, I to XIV")] = None,
) -> None:
    """Register a client and print its id and secret. The secret is shown this once: only a hash is kept."""
    from pydantic import ValidationError

    from services.identity import clients
    from services.identity.schemas import ClientCreated, ClientIn, ClientOut

    try:
        data = ClientIn(name=name, agency_code=agency, roles=role, ppk_agency=ppk_agency, bkn_office=bkn_office)
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
    from services.cli.support import print_table

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


# -- people's accounts ------------------------------------------------------------------------------------

user_app = typer.Typer(help="People's accounts (sign-in to the dashboard): add, list, disable, reset a password.",
                       no_args_is_help=True)


def _piped_password() -> str | None:
    """The first line of standard input when it is piped (``echo ... | sbt user add``); None when it is a
    terminal or empty, and a password is then made."""
    import sys

    if sys.stdin is None or sys.stdin.isatty():
        return None
    line = sys.stdin.readline().rstrip("\r\n")
    return line or None


def _usage_errors(error) -> None:  # noqa: ANN001 - a pydantic ValidationError
    for problem in error.errors():
        field = ".".join(str(part) for part in problem["loc"]) or "user"
        typer.echo(f"{field}: {problem['msg'].removeprefix('Value error, ')}", err=True)
    raise typer.Exit(2)


def _show_secrets(password: str | None, totp_uri: str | None) -> None:
    if password:
        typer.echo(f"password: {password}")
    if totp_uri:
        typer.echo(f"totp: {totp_uri}")
        typer.echo("Enrol the TOTP URI in an authenticator app (e.g. as a QR code) before signing in.", err=True)
    if password or totp_uri:
        typer.echo("Hand these over now: they cannot be shown again.", err=True)


@user_app.command("add")
def add_user(
    username: Annotated[str, typer.Option(help="3 to 64 of a-z 0-9 . _ @ - (any case; unique whatever the case)")],
    role: Annotated[list[str], typer.Option(help="one or more roles (repeat the option)")],
    agency: Annotated[str | None, typer.Option(help="the person's agency code, e.g. BKN; for a ppk, by default "
                                                    "the agency they act for")] = None,
    ppk_agency: Annotated[str | None, typer.Option(help="for a ppk: the agency they act for")] = None,
    bkn_office: Annotated[str | None, typer.Option(help="for bkn_regional: their regional office, I to XIV")] = None,
    name: Annotated[str | None, typer.Option(help="the person's name as shown")] = None,
) -> None:
    """Make an account. The password is read from standard input when piped, else made and printed once;
    for the roles that need a second factor the TOTP enrolment URI is printed once too."""
    from pydantic import ValidationError

    from services.identity import users
    from services.identity.schemas import UserIn

    agency = agency or ppk_agency
    if not agency:
        typer.echo("agency: required, the person's agency code (--agency)", err=True)
        raise typer.Exit(2)
    try:
        data = UserIn(username=username, display_name=name, agency_code=agency, roles=role, ppk_agency=ppk_agency,
                      bkn_office=bkn_office, password=_piped_password())
    except ValidationError as error:
        _usage_errors(error)

    async def work(session, now):  # noqa: ANN001, ANN202
        return await users.add(session, data=data, created_by=_operator(), now=now)

    try:
        created = _in_transaction(work)
    except users.UserExists:
        typer.echo(f"user {data.username} exists", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"user {created.username} added: {', '.join(created.roles)} of {created.agency_code}")
    _show_secrets(created.password, created.totp_uri)


@user_app.command("list")
def list_users(as_json: Annotated[bool, typer.Option("--json", help="JSON, for scripts")] = False) -> None:
    """Every account (never a password or TOTP secret)."""
    from services.identity import users

    async def work(session, _now):  # noqa: ANN001, ANN202
        return [users.out(user) for user in await users.list_all(session)]

    found = _in_transaction(work)
    if as_json:
        _show({"users": [user.model_dump(mode="json") for user in found]})
        return
    rows = [("USERNAME", "NAME", "AGENCY", "ROLES", "PPK AGENCY", "TOTP", "STATE")]
    for user in found:
        state = "disabled" if user.disabled_at else ("locked" if user.locked_until else "active")
        rows.append((user.username, user.display_name, user.agency_code, ",".join(user.roles),
                     user.ppk_agency or "-", "yes" if user.totp_enrolled else "no", state))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


@user_app.command("disable")
def disable_user(username: Annotated[str, typer.Argument(help="the username")]) -> None:
    """Disable an account: no new sign-in; an open session ends on its own (SBT_USER_SESSION_TTL_SECONDS)."""
    from services.identity import users

    async def work(session, now):  # noqa: ANN001, ANN202
        return await users.disable(session, username=username, disabled_by=_operator(), now=now)

    user = _refusing_unknown_user(username, lambda: _in_transaction(work))
    typer.echo(f"user {user.username} disabled")


@user_app.command("reset-password")
def reset_password(
    username: Annotated[str, typer.Argument(help="the username")],
    reset_totp: Annotated[bool, typer.Option("--reset-totp", help="also a new TOTP secret (a lost phone)")] = False,
) -> None:
    """A new password (from standard input when piped, else made and printed once); lifts a lock."""
    from services.identity import domain, users

    password = _piped_password()
    if password is not None:
        try:
            domain.check_password(password)
        except ValueError as error:
            typer.echo(f"password: {error}", err=True)
            raise typer.Exit(2) from None

    async def work(session, now):  # noqa: ANN001, ANN202
        return await users.reset_password(session, username=username, password=password, reset_totp=reset_totp,
                                          reset_by=_operator(), now=now)

    user, made, uri = _refusing_unknown_user(username, lambda: _in_transaction(work))
    typer.echo(f"user {user.username}: password reset")
    _show_secrets(made, uri)


def _refusing_unknown_user(username: str, action: Callable[[], T]) -> T:
    from services.identity import users

    try:
        return action()
    except users.UserNotFound:
        typer.echo(f"no user {username}", err=True)
    except users.UserDisabled:
        typer.echo(f"user {username} is disabled", err=True)
    raise typer.Exit(1)
