"""``sbt verify-receipt``: check a report's signed receipt offline (shared/receipts.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from services.cli.language import _
from services.cli.support import CliError, fail, friendly, usage


def _keys(key: Path | None):  # noqa: ANN202 - a ProducerKeys
    """The intake keys to check against: ``--key`` (a PEM public key, the JSON ``GET /v1/ledger/keys`` answers,
    or a producer key set as ``sbt producer-keys`` prints it), else the keys this deployment pins."""
    import orjson

    from shared.events.signing import KeyConfigError, PinnedKey, ProducerKeys, key_id_for, load_public
    from services.cli.settings import get_settings

    try:
        if key is None:
            from shared.events.signing import producer_keys_from_settings

            return producer_keys_from_settings(get_settings(), with_dev_keys=["intake"])
        text = key.read_text()
        if text.lstrip().startswith("-----BEGIN"):
            public = load_public(text)
            return ProducerKeys({"intake": {key_id_for("intake", public): PinnedKey(key_id_for("intake", public),
                                                                                   public)}})
        document = orjson.loads(text)
        if isinstance(document, dict) and "producers" in document:
            document = document["producers"]
        return ProducerKeys.from_document(document)
    except (KeyConfigError, orjson.JSONDecodeError, OSError) as error:
        raise usage(f"--key {key}: {error}") from None


@friendly
def verify_receipt_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False,
                                         help="the receipt, or the whole 201 answer that carries it (JSON)")],
    key: Annotated[Path | None, typer.Option(
        exists=True, dir_okay=False, help="intake's public key: a PEM file, a saved GET /v1/ledger/keys answer, or "
        "a producer key set (sbt producer-keys); default: the keys this deployment pins (SBT_PRODUCER_KEYS)")] = None,
    body: Annotated[Path | None, typer.Option(exists=True, dir_okay=False,
                                              help="the report as filed (JSON): also check the receipt's hash")] = None,
    token: Annotated[bool, typer.Option("--token", help="print the receipt as the token the complaint check "
                                        "takes (?receipt=)")] = False,
) -> None:
    """Check that intake issued this receipt (its Ed25519 signature against intake's pinned key), and with
    --body that it names what was filed. Exits 1 when it does not hold, naming why."""
    import orjson
    from pydantic import ValidationError

    from shared import receipts

    try:
        document = orjson.loads(file.read_bytes())
    except orjson.JSONDecodeError as error:
        raise usage(_("{file}: not JSON ({error})").format(file=file, error=error)) from None
    if isinstance(document, dict) and isinstance(document.get("receipt"), dict):
        document = document["receipt"]
    try:
        receipt = receipts.Receipt.model_validate(document)
    except ValidationError as error:
        raise fail(_("{file}: not a receipt ({field}: {reason})").format(
            file=file, field=error.errors()[0]["loc"][0], reason=error.errors()[0]["msg"])) from None
    try:
        receipts.check(receipt, _keys(key))
    except receipts.InvalidReceipt as error:
        raise fail(_("FAILED: {reason}").format(reason=error)) from None
    if body is not None:
        if receipts.filed_sha256(_as_filed(body)) != receipt.filed_sha256:
            raise fail(_("FAILED: {file} is not what this receipt says was filed (its hash differs)").format(file=body))
    typer.echo(_("OK: {number}, received {received}, signed by {issuer} (key {key}); filed content SHA-256 {sha}")
               .format(number=receipt.complaint_number, received=receipt.received_at, issuer=receipt.issuer,
                       key=receipt.keyid, sha=receipt.filed_sha256)
               + (_("; the given report matches it") if body is not None else ""))
    if token:
        typer.echo(receipts.encode(receipt))


def _as_filed(path: Path) -> dict:
    """The report as intake validated it (and hashed it): an agency's report, or the public form's."""
    import orjson
    from pydantic import ValidationError

    from services.intake.schemas import PublicReportIn, ReportIn

    try:
        raw = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as error:
        raise CliError(_("{file}: not JSON ({error})").format(file=path, error=error), 2) from None
    model = ReportIn if isinstance(raw, dict) and "reporter" in raw and raw["reporter"].get("category") != "public" \
        else PublicReportIn
    try:
        return model.model_validate(raw).model_dump(mode="json")
    except ValidationError as error:
        raise CliError(_("{file}: not a valid report ({reason})").format(file=path, reason=error.errors()[0]["msg"]),
                       2) from None
