"""``sbt producer-keys``: the event signing keys (shared/events/signing.py) for operators.

``new`` makes a producer's key pair: the private key goes to a file (0600) for that service's secret only,
the public entry is printed to add to the pinned set everywhere. ``show`` prints the set this deployment
pins, the document to distribute (``SBT_PRODUCER_KEYS``) and to give ``sbt verify --key``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import orjson
import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.events.signing import KeyConfigError, key_id_for, private_pem, producer_keys_from_settings, producers, public_pem
from services.cli.settings import get_settings

producer_keys_app = typer.Typer(help="Event signing keys: make one for a producer, show the pinned set.",
                                no_args_is_help=True)


@producer_keys_app.command("new")
def new_key(
    producer: Annotated[str, typer.Option(help="the producing service: " + ", ".join(producers()))],
    out: Annotated[Path, typer.Option(help="where to write the private key (PEM, 0600); must not exist",
                                      dir_okay=False)],
) -> None:
    """Make a signing key pair for a producer (a first key, or the next one when rotating)."""
    if producer not in producers():
        typer.echo(f"unknown producer {producer!r}: one of {', '.join(producers())}", err=True)
        raise typer.Exit(2)
    key = Ed25519PrivateKey.generate()
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        typer.echo(f"{out} exists: refusing to overwrite a key", err=True)
        raise typer.Exit(1) from None
    with os.fdopen(fd, "w") as handle:
        handle.write(private_pem(key))
    key_id = key_id_for(producer, key.public_key())
    entry = {producer: {key_id: {"public_key": public_pem(key.public_key()), "last_producerseq": None}}}
    typer.echo(f"private key of {producer} written to {out}: give it to {producer} only, as SBT_SIGNING_KEY "
               f"with SBT_SIGNING_KEY_ID={key_id}", err=True)
    typer.echo("add this entry to SBT_PRODUCER_KEYS of every service before switching the producer to it:", err=True)
    typer.echo(orjson.dumps(entry, option=orjson.OPT_INDENT_2).decode())


@producer_keys_app.command("show")
def show() -> None:
    """Print the producer keys this deployment pins (JSON, as GET /v1/ledger/keys publishes them)."""
    try:
        keys = producer_keys_from_settings(get_settings())
    except KeyConfigError as error:
        typer.echo(f"cannot read the producer keys: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(orjson.dumps({"producers": keys.document()}, option=orjson.OPT_INDENT_2).decode())
