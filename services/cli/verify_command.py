"""The ledger's commands: ``sbt export``, ``sbt verify``, ``sbt witness`` and ``sbt replay`` (registered in
services/cli/app.py). In development they mint their own token with the development key; elsewhere pass
``--token`` (or SBT_TOKEN). They find the status service and the bus where ``make run`` puts them: the
status port plus SBT_PORT_OFFSET (or SBT_STATUS_URL, or ``--url``), and the embedded NATS with its ``ops``
login (services/cli/support.py)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import orjson
import typer

from services.cli.language import _
from services.cli.support import CliError, USAGE, fail, friendly, progress, service_url, usage
from services.cli.settings import get_settings

if TYPE_CHECKING:  # the audit module is heavy; `sbt --help` stays quick
    from shared.ledger import audit

StatusUrl = Annotated[str | None, typer.Option(
    help="the status service (default: SBT_STATUS_URL, else its port plus SBT_PORT_OFFSET on SBT_HOST)")]


class _Bar:
    """A rich progress bar fed by (what, done, total) callbacks."""

    def __init__(self, bar) -> None:  # noqa: ANN001 - a rich Progress
        self.bar = bar
        self.task = bar.add_task("", total=None)

    def __call__(self, what: str, done: int, total: int | None) -> None:
        self.bar.update(self.task, description=what, completed=done, total=total)


def _token(token: str | None, *roles: str, agency: str = "SBT") -> str:
    token = token or os.environ.get("SBT_TOKEN")
    if token:
        return token
    from shared.auth import mint_token

    return mint_token(get_settings(), agency=agency, roles=list(roles), client_id="sbt-cli")


@friendly
def export_command(
    out: Annotated[Path, typer.Argument(help="the JSON-lines file to write", dir_okay=False)],
    url: StatusUrl = None,
    from_stream: Annotated[bool, typer.Option("--from-stream", help="read the NATS stream instead of the API")] = False,
    token: Annotated[str | None, typer.Option(help="a bearer token with ledger:export (default: SBT_TOKEN)")] = None,
) -> None:
    """Export the ledger: the log's keys, every event in order, every checkpoint, every case's status."""
    from services.cli.verify import export_from_api, export_from_stream

    if from_stream and url:
        raise usage("--url and --from-stream exclude each other")
    with progress(what="export") as bar:
        if from_stream:
            counts = asyncio.run(export_from_stream(get_settings(), out, progress=_Bar(bar)))
        else:
            counts = asyncio.run(export_from_api(service_url("status", url), _token(token, "observer"), out,
                                                 progress=_Bar(bar)))
    typer.echo(f"exported to {out}: " + ", ".join(f"{n} {kind}" for kind, n in counts.items()))


@friendly
def verify_command(
    file: Annotated[Path | None, typer.Argument(help="an export, an election's archive (sbt archive), or with --proof a "
                                                "saved answer with ?proofs=true",
                                                exists=True, dir_okay=False)] = None,
    from_stream: Annotated[bool, typer.Option("--from-stream", help="verify the NATS stream itself (read as the "
                                              "operator), with the producer keys this deployment pins")] = False,
    proof: Annotated[bool, typer.Option("--proof", help="FILE is a saved status or timeline answer")] = False,
    key: Annotated[list[str] | None, typer.Option(
        help="pin a key: KEY_ID=PEM_FILE (the log's checkpoint key), PRODUCER:KEY_ID=PEM_FILE (a producer's "
             "event key), or KEYS.json (every key, as GET /v1/ledger/keys publishes them)")] = None,
    witness_key: Annotated[list[str] | None, typer.Option(help="KEY_ID=PEM_FILE of a witness")] = None,
    statuses: Annotated[Path | None, typer.Option(help="statuses to check (a saved ASN status or a JSON list)",
                                                 exists=True, dir_okay=False)] = None,
) -> None:
    """Verify offline: every chain, the tree, every signature, and every case's status recomputed with the
    shared `apply`; for an archive also its seal and every event's inclusion proof. Exits 1 and names each
    mismatch."""
    import tempfile

    from services.cli.verify import export_from_stream, verify_file

    if (file is None) == (not from_stream):
        raise usage("give either FILE or --from-stream")
    from services.cli.archive import file_is_archive

    if file is not None and not proof and file_is_archive(file):
        _verify_archive(file, key or [])
        return
    try:
        with progress(what="verify") as bar:
            shown = _Bar(bar)

            def reading(done: int, size: int) -> None:
                shown("reading", done, size)

            if from_stream:
                from services.status.ledger.signer import signer_from_settings
                from shared.events.signing import producer_keys_from_settings

                settings = get_settings()
                with tempfile.TemporaryDirectory() as folder:
                    file = Path(folder) / "stream.jsonl"
                    asyncio.run(export_from_stream(settings, file, progress=shown))
                    pinned = Path(folder) / "keys.json"
                    signer = signer_from_settings(settings)
                    pinned.write_bytes(orjson.dumps({"keys": {signer.key_id: signer.public_pem},
                                                     "producers": producer_keys_from_settings(settings).document()}))
                    report = verify_file(file, log_keys=[*(key or []), str(pinned)], witness_keys=witness_key or [],
                                         progress=reading)
            else:
                report = verify_file(file, log_keys=key or [], witness_keys=witness_key or [], statuses=statuses,
                                     proof=proof, progress=reading)
    except CliError:
        raise
    except (ValueError, OSError) as error:  # a file or key that is not what it should be: the user's to fix
        raise CliError(_("cannot verify: {reason}").format(reason=error), USAGE) from None
    _say(", ".join(f"{name} {value}" for name, value in report.counts.items()), report)


def _verify_archive(file: Path, keys: list[str]) -> None:
    """An election's archive (`sbt archive`): its seal, every event and every final status."""
    from services.cli.archive import verify_archive_file

    try:
        report, summary = verify_archive_file(file, keys)
    except (ValueError, OSError) as error:
        raise CliError(_("cannot verify: {reason}").format(reason=error), USAGE) from None
    _say(_("archive of {election}: ").format(election=summary["election_code"]) + ", ".join(f"{n} {k}" for k, n in report.counts.items()),
         report)


def _say(counts: str, report: audit.Report) -> None:
    """What a verification found, the same for a ledger export and an archive; exit 1 on any finding."""
    typer.echo(counts)
    for note in report.notes:
        typer.echo(_("note: {note}").format(note=note))
    for line in report.lines():
        typer.echo(line)
    if not report.ok:
        raise fail(_("FAILED: {count} problem(s)").format(count=len(report.findings)))
    typer.echo(_("OK: verified"))


@friendly
def archive_command(
    election: Annotated[str, typer.Option(help="the election's code, e.g. PILKADA-2024")],
    out: Annotated[Path, typer.Option(help="the archive file to write (JSON lines)", dir_okay=False)],
    url: StatusUrl = None,
    intake_url: Annotated[str | None, typer.Option(help="the intake service (default: SBT_INTAKE_URL, else its "
                                                        "port plus SBT_PORT_OFFSET)")] = None,
    key: Annotated[list[str] | None, typer.Option(
        help="pin the log's key (KEY_ID=PEM_FILE or KEYS.json) to verify the archive with")] = None,
    token: Annotated[str | None, typer.Option(help="a bearer token with ledger:export and ops:write")] = None,
) -> None:
    """Archive an election: every event and final status of its cases, signed by the log; verified here, then
    recorded at intake with its hash, so that retention may retire those cases. Exits 1 if it does not verify."""
    import re

    from services.cli import archive

    if not re.fullmatch(r"[A-Z0-9][A-Z0-9_\-]{0,39}", election):
        raise usage(f"--election {election!r}: an election code is capitals, digits, - and _")
    bearer = _token(token, "admin")
    with progress(what="archive") as bar:
        shown = _Bar(bar)
        shown("fetching", 0, None)
        try:
            asyncio.run(archive.fetch(service_url("status", url), bearer, election, out))
        except (ValueError, OSError) as error:
            raise fail(_("cannot archive: {reason}").format(reason=error)) from None
        shown("verifying", 0, None)
        try:
            report, summary = archive.verify_archive_file(out, key or [])
        except (ValueError, OSError) as error:
            raise CliError(_("cannot verify: {reason}").format(reason=error), USAGE) from None
    if not report.ok:
        for line in report.lines():
            typer.echo(line)
        raise fail(_("FAILED: the archive does not verify ({count} problem(s)); nothing recorded")
                   .format(count=len(report.findings)))
    digest = archive.sha256_of(out)
    try:
        recorded = asyncio.run(archive.record(service_url("intake", intake_url), bearer, election, digest, summary))
    except (ValueError, OSError) as error:
        raise fail(str(error)) from None
    typer.echo(_("archived {election} to {out}: {events} events, {cases} cases; sha256 {digest}; recorded at intake: "
                 "{closed} closed cases may now be retired in time, {open} open ones wait for a later archive")
               .format(election=election, out=out, events=summary["events"], cases=len(summary["case_ids"]),
                       digest=digest, closed=recorded["closed_cases"], open=recorded["open_cases"]))


@friendly
def witness_command(
    agency: Annotated[str, typer.Option(help="the witnessing agency, e.g. KASN")],
    key: Annotated[Path, typer.Option(help="the witness's Ed25519 private key (PEM); made if missing",
                                      dir_okay=False)],
    key_id: Annotated[str, typer.Option(help="the id the log knows this key by")],
    state: Annotated[Path, typer.Option(help="where the last co-signed checkpoint is kept", dir_okay=False)],
    url: StatusUrl = None,
    log_key: Annotated[list[str] | None, typer.Option(help="KEY_ID=PEM_FILE of the log (default: pinned on "
                                                          "first use in the state file)")] = None,
    token: Annotated[str | None, typer.Option(help="a bearer token with ledger:witness")] = None,
) -> None:
    """Co-sign the log's checkpoint after checking it extends the last one this witness co-signed."""
    from services.cli.verify import WitnessRefusal, load_keys, witness
    from shared.ledger.checkpoint import private_pem_file

    try:
        pem = private_pem_file(key)
        log_keys = load_keys(log_key or [])
    except ValueError as error:
        raise usage(str(error)) from None
    try:
        checkpoint, checked = asyncio.run(witness(
            service_url("status", url), _token(token, "witness", agency=agency), agency=agency, key_pem=pem,
            key_id=key_id, state_file=state, log_keys=log_keys,
        ))
    except WitnessRefusal as refusal:
        raise fail(f"REFUSED: {refusal}") from None
    typer.echo(f"co-signed {checkpoint.log_id}@{checkpoint.tree_size} root {checkpoint.root_hash} ({checked}); "
               f"witnesses: {', '.join(c.witness for c in checkpoint.cosignatures)}")


@friendly
def replay_command(
    into: Annotated[str | None, typer.Option(help="database URL for the fresh tables (default: a new SQLite "
                                                  "file under SBT_DATA_DIR)")] = None,
    batch: Annotated[int, typer.Option(min=1, max=10_000, help="events per transaction")] = 500,
    processes: Annotated[int | None, typer.Option(min=0, max=16, help="processes checking hashes and signatures "
                                                  "beside the one that folds (default: the other cores, 4 at most; "
                                                  "0: that one checks too)")] = None,
) -> None:
    """Rebuild the status projection from the stream into fresh tables and compare state hashes with the live
    database; exits 1 when they differ."""
    import time

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from services.cli.support import err_console
    from services.cli.replay import CHECK_PROCESSES, combined, replay

    settings = get_settings()
    if into is None:
        target = (settings.data_dir / f"replay-status-{int(time.time())}.db").resolve()
        into = f"sqlite+aiosqlite:///{target}"
    started = time.perf_counter()
    with Progress(TextColumn("replay"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
                  TimeRemainingColumn(), console=err_console) as bar:
        task = bar.add_task("replay", total=None, rate="")

        def progress(done: int, total: int) -> None:
            elapsed = time.perf_counter() - started
            bar.update(task, completed=done, total=total, rate=f"{done / elapsed:,.0f} events/s" if elapsed else "")

        result = asyncio.run(replay(settings, live_url=settings.database_url_for("status"), into_url=into,
                                    batch_size=batch, progress=progress,
                                    check_processes=CHECK_PROCESSES if processes is None else processes))
    per_event = result.cpu_seconds / result.applied * 1e6 if result.applied else 0.0
    in_loop = result.loop_cpu_seconds / result.applied * 1e6 if result.applied else 0.0
    typer.echo(f"replayed {result.applied} events up to stream {result.position} in {result.seconds:.2f}s "
               f"({result.rate:,.0f} events/s) into {into}; {per_event:,.0f} us CPU an event in the folding process "
               f"({in_loop:,.0f} in its event loop)")
    for skipped in result.skipped:
        typer.echo(f"skipped {skipped}")
    typer.echo(f"live state hash     {combined(result.live)}")
    typer.echo(f"replayed state hash {combined(result.replayed)}")
    if result.differing:
        raise fail("DIFFERENT: " + ", ".join(result.differing))
    typer.echo("OK: the replay reproduces the live projection")
