"""``sbt ops``: the operator's commands, each a call to a service's own admin endpoints.

The CLI talks HTTP to the running services (they do not call each other), with an admin token: the one in
``SBT_TOKEN`` or ``--token``, else one minted with the configured (development) signing key. A service is
found at its own port plus SBT_PORT_OFFSET on ``SBT_HOST`` (where ``make run`` starts it) unless
``SBT_<SERVICE>_URL`` (e.g. ``SBT_SANCTION_URL``) or ``--url`` says otherwise.

Tables for people; ``--json`` prints the service's own answer, for scripts. Exit codes as every command's
(services/cli/support.py): 1 when a service refused or could not be reached, or a replay failed.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import httpx
import typer

from services.cli.support import CliError, fail, friendly, print_json, print_table, service_url, usage
from services.cli.settings import get_settings

ops_app = typer.Typer(help="Operate SBT: dead letters, replays, backlog and lag, deadline sweeps (admin role).",
                      no_args_is_help=True)

ServiceArg = Annotated[str, typer.Option("--service", "-s", help="intake | recommendation | sanction | blocking | status")]
UrlOpt = Annotated[str | None, typer.Option(help="the service's base URL (default: its own port on SBT_HOST)")]
TokenOpt = Annotated[str | None, typer.Option(envvar="SBT_TOKEN", help="an admin bearer token")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print the service's answer as JSON, for scripts")]


def admin_token(token: str | None) -> str:
    if token:
        return token
    from shared.auth import mint_token

    return mint_token(get_settings(), agency="BKN", roles=["admin"], client_id="sbt-ops-cli", ttl_seconds=300)


def _call(method: str, service: str, path: str, *, url: str | None, token: str | None, body: dict | None = None) -> dict:
    """The service's JSON answer; a refusal (4xx, 5xx) is a CliError naming the service and its reason."""
    base = service_url(service, url)
    response = httpx.request(method, f"{base}{path}", json=body, timeout=60,
                             headers={"Authorization": f"Bearer {admin_token(token)}"})
    if response.status_code >= 400:
        detail = " ".join(response.text.split())[:300]
        raise CliError(f"the {service} service at {base} answered {response.status_code}: {detail}")
    return response.json()


def _age(seconds: float | None) -> str:
    if not seconds:
        return "-"
    return str(dt.timedelta(seconds=round(seconds)))


@ops_app.command("dead-letters")
@friendly
def dead_letters(
    service: ServiceArg = "status",
    state: Annotated[str, typer.Option(help="open | replayed | all")] = "open",
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
    url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List a service's dead letters."""
    if state not in ("open", "replayed", "all"):
        raise usage(f"--state must be open, replayed or all, got {state!r}")
    answer = _call("GET", service, f"/v1/ops/dead-letters?state={state}&limit={limit}", url=url, token=token)
    if as_json:
        print_json(answer)
        return
    print_table(f"{answer['service']}: {answer['open']} open dead letter(s); showing {state}",
                ["id", "stream", "event type", "attempts", "created", "replayed", "error"],
                [(d["id"], d["stream_seq"], d["event_type"], d["attempts"], d["created_at"], d["replayed_at"],
                  d["error"][:80]) for d in answer["items"]])


@ops_app.command()
@friendly
def replay(
    dead_letter_id: Annotated[int | None, typer.Argument(help="the dead letter's id; omit with --all")] = None,
    all_open: Annotated[bool, typer.Option("--all", help="replay every open dead letter")] = False,
    service: ServiceArg = "status",
    url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Replay one dead letter (or all open ones) through the service's own handler; exits 1 if any failed."""
    if (dead_letter_id is None) == (not all_open):
        raise usage("give a dead letter id or --all (not both)")
    path = "/v1/ops/dead-letters/replay" if all_open else f"/v1/ops/dead-letters/{dead_letter_id}/replay"
    result = _call("POST", service, path, url=url, token=token)
    outcomes = result.get("outcomes", [result])
    if as_json:
        print_json(result)
    else:
        print_table(f"{service}: replayed", ["id", "outcome", "error"],
                    [(o["id"], o["outcome"], o.get("error")) for o in outcomes])
    failed = sum(1 for o in outcomes if o.get("outcome") == "failed")
    if failed:
        raise fail(f"{failed} dead letter(s) failed again; their errors are kept for the next attempt")


@ops_app.command()
@friendly
def backlog(
    service: Annotated[list[str] | None, typer.Option("--service", "-s", help="default: every service")] = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Outbox backlog (count, age of the oldest), consumer lag and open dead letters of each service; exits 1
    when a service could not be asked."""
    from services.registry import SERVICES
    from shared.settings import SERVICES_WITHOUT_BUS

    rows = []
    for name in service or [s for s in SERVICES if s not in SERVICES_WITHOUT_BUS]:
        try:
            rows.append(_call("GET", name, "/v1/ops/backlog", url=None, token=token))
        except CliError as error:
            if error.code != 1:
                raise
            rows.append({"service": name, "error": str(error)})
        except httpx.TransportError:
            rows.append({"service": name, "error": f"cannot reach the {name} service at {service_url(name)}"})
    if as_json:
        print_json({"services": rows})
    else:
        table = []
        for row in rows:
            if "error" in row:
                table.append((row["service"], "unreachable", None, None, None, None, None))
                continue
            consumer = row.get("consumer") or {}
            table.append((row["service"], "yes" if row["bus_connected"] else "NO", row["outbox"]["unsent"],
                          _age(row["outbox"]["oldest_age_seconds"]), consumer.get("num_pending"),
                          consumer.get("num_ack_pending"), row["dead_letters_open"]))
        print_table("backlog", ["service", "bus", "outbox unsent", "oldest unsent", "consumer pending",
                                "awaiting ack", "dead letters"], table)
    unreachable = [row for row in rows if "error" in row]
    for row in unreachable:
        typer.echo(row["error"], err=True)
    if unreachable:
        raise typer.Exit(1)


@ops_app.command()
@friendly
def sweep(
    as_of: Annotated[str | None, typer.Option("--date", help="sweep as if it were this day (YYYY-MM-DD); default today")] = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run the sanction service's deadline sweep (early warnings, overdue notices) for a date."""
    body = {}
    if as_of is not None:
        try:
            body["as_of"] = dt.date.fromisoformat(as_of).isoformat()
        except ValueError:
            raise usage(f"--date must be YYYY-MM-DD, got {as_of!r}") from None
    result = _call("POST", "sanction", "/v1/sweeps", url=url, token=token, body=body)
    if as_json:
        print_json(result)
        return
    counts = {name: len(value) for name, value in result.items() if isinstance(value, list)}
    typer.echo(f"swept as of {result.get('as_of')}: " + ", ".join(f"{n} {name}" for name, n in counts.items()))
