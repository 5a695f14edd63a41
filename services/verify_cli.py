"""The ledger's commands: ``sbt export``, ``sbt verify``, ``sbt witness`` and ``sbt replay`` (registered in
services/cli.py). In development they mint their own token with the development key; elsewhere pass
``--token`` (or SBT_TOKEN)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Annotated

import orjson
import typer

from shared.settings import SERVICE_PORTS, get_settings

DEFAULT_STATUS_URL = f"http://127.0.0.1:{SERVICE_PORTS['status']}"


def _token(token: str | None, *roles: str, agency: str = "SBT") -> str:
    token = token or os.environ.get("SBT_TOKEN")
    if token:
        return token
    from shared.auth import mint_token

    return mint_token(get_settings(), agency=agency, roles=list(roles), client_id="sbt-cli")


def export_command(
    out: Annotated[Path, typer.Argument(help="the JSON-lines file to write")],
    url: Annotated[str, typer.Option(help="the status service")] = DEFAULT_STATUS_URL,
    from_stream: Annotated[bool, typer.Option("--from-stream", help="read the NATS stream instead of the API")] = False,
    token: Annotated[str | None, typer.Option(help="a bearer token with ledger:export (default: SBT_TOKEN)")] = None,
) -> None:
    """Export the ledger: the log's keys, every event in order, every checkpoint, every case's status."""
    from services.verify import export_from_api, export_from_stream

    if from_stream:
        counts = asyncio.run(export_from_stream(get_settings(), out))
    else:
        counts = asyncio.run(export_from_api(url, _token(token, "observer"), out))
    typer.echo(f"exported to {out}: " + ", ".join(f"{n} {kind}" for kind, n in counts.items()))


def verify_command(
    file: Annotated[Path | None, typer.Argument(help="an export, or with --proof a saved answer with ?proofs=true",
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
    shared `apply`. Exits 1 and names each mismatch."""
    import tempfile

    from services.verify import export_from_stream, verify_file

    if (file is None) == (not from_stream):
        typer.echo("give either FILE or --from-stream", err=True)
        raise typer.Exit(2)
    try:
        if from_stream:
            from shared.events.signing import producer_keys_from_settings

            settings = get_settings()
            with tempfile.TemporaryDirectory() as folder:
                file = Path(folder) / "stream.jsonl"
                asyncio.run(export_from_stream(settings, file))
                pinned = Path(folder) / "keys.json"
                from services.status.ledger.signer import signer_from_settings

                signer = signer_from_settings(settings)
                pinned.write_bytes(orjson.dumps({"keys": {signer.key_id: signer.public_pem},
                                                 "producers": producer_keys_from_settings(settings).document()}))
                report = verify_file(file, log_keys=[*(key or []), str(pinned)], witness_keys=witness_key or [])
        else:
            report = verify_file(file, log_keys=key or [], witness_keys=witness_key or [], statuses=statuses,
                                 proof=proof)
    except (ValueError, OSError) as error:
        typer.echo(f"cannot verify: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(", ".join(f"{name} {value}" for name, value in report.counts.items()))
    for note in report.notes:
        typer.echo(f"note: {note}")
    for line in report.lines():
        typer.echo(line)
    if not report.ok:
        typer.echo(f"FAILED: {len(report.findings)} problem(s)", err=True)
        raise typer.Exit(1)
    typer.echo("OK: verified")


def witness_command(
    agency: Annotated[str, typer.Option(help="the witnessing agency, e.g. KASN")],
    key: Annotated[Path, typer.Option(help="the witness's Ed25519 private key (PEM); made if missing",
                                      dir_okay=False)],
    key_id: Annotated[str, typer.Option(help="the id the log knows this key by")],
    state: Annotated[Path, typer.Option(help="where the last co-signed checkpoint is kept", dir_okay=False)],
    url: Annotated[str, typer.Option(help="the status service")] = DEFAULT_STATUS_URL,
    log_key: Annotated[list[str] | None, typer.Option(help="KEY_ID=PEM_FILE of the log (default: pinned on "
                                                          "first use in the state file)")] = None,
    token: Annotated[str | None, typer.Option(help="a bearer token with ledger:witness")] = None,
) -> None:
    """Co-sign the log's checkpoint after checking it extends the last one this witness co-signed."""
    from services.verify import WitnessRefusal, load_keys, witness
    from shared.ledger.checkpoint import private_pem_file

    pem = private_pem_file(key)
    try:
        checkpoint, checked = asyncio.run(witness(
            url, _token(token, "witness", agency=agency), agency=agency, key_pem=pem, key_id=key_id,
            state_file=state, log_keys=load_keys(log_key or []),
        ))
    except WitnessRefusal as refusal:
        typer.echo(f"REFUSED: {refusal}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"co-signed {checkpoint.log_id}@{checkpoint.tree_size} root {checkpoint.root_hash} ({checked}); "
               f"witnesses: {', '.join(c.witness for c in checkpoint.cosignatures)}")


def replay_command(
    into: Annotated[str | None, typer.Option(help="database URL for the fresh tables (default: a new SQLite "
                                                  "file under SBT_DATA_DIR)")] = None,
    batch: Annotated[int, typer.Option(min=1, max=10_000, help="events per transaction")] = 500,
) -> None:
    """Rebuild the status projection from the stream into fresh tables and compare state hashes with the live
    database; exits 1 when they differ."""
    import time

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from services.replay import combined, replay

    settings = get_settings()
    if into is None:
        target = (settings.data_dir / f"replay-status-{int(time.time())}.db").resolve()
        into = f"sqlite+aiosqlite:///{target}"
    started = time.perf_counter()
    with Progress(TextColumn("replay"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
                  TimeRemainingColumn()) as bar:
        task = bar.add_task("replay", total=None, rate="")

        def progress(done: int, total: int) -> None:
            elapsed = time.perf_counter() - started
            bar.update(task, completed=done, total=total, rate=f"{done / elapsed:,.0f} events/s" if elapsed else "")

        result = asyncio.run(replay(settings, live_url=settings.database_url_for("status"), into_url=into,
                                    batch_size=batch, progress=progress))
    typer.echo(f"replayed {result.applied} events up to stream {result.position} in {result.seconds:.2f}s "
               f"({result.rate:,.0f} events/s) into {into}")
    for skipped in result.skipped:
        typer.echo(f"skipped {skipped}")
    typer.echo(f"live state hash     {combined(result.live)}")
    typer.echo(f"replayed state hash {combined(result.replayed)}")
    if result.differing:
        typer.echo("DIFFERENT: " + ", ".join(result.differing), err=True)
        raise typer.Exit(1)
    typer.echo("OK: the replay reproduces the live projection")
