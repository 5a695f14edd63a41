"""An election's archive: every logged event of its cases with its inclusion proof under a signed checkpoint,
and every case's final status, sealed by the log's key. Made by the status service
(``GET /v1/ledger/archives/{election}``, written to a file by ``sbt archive``) before retention may retire
any case of that election; checked offline by ``sbt verify FILE``.

JSON lines: a header (format, election, the log's and the producers' public keys, the checkpoint), the
events in ledger order, the statuses, and last a seal: the SHA-256 of every byte before it, the manifest (the
election, how many events, which cases and which of them closed) and the log's Ed25519 signature of both. The
seal alone is what intake checks before it records an archive (``verify_seal``): the manifest is signed, so
whoever records an archive cannot name cases it does not hold. Any change to any line, a line removed, added or moved, breaks the seal; the
events are also checked one by one (hash, producer's signature, inclusion proof) and the statuses recomputed
with the shared ``apply``, so a forger would need the log's key and every producer's.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import ValidationError

from shared.events import Envelope
from shared.events.signing import ProducerKeys
from shared.ledger import checkpoint as cp
from shared.ledger import merkle
from shared.ledger.audit import Keys, Report, fold_statuses
from shared.ledger.chain import authenticate
from shared.status_model import CLOSED_STAGES

ARCHIVE_FORMAT = "sbt-archive/1"
_CLOSED = frozenset(stage.value for stage in CLOSED_STAGES)


def line(document: Mapping[str, Any]) -> bytes:
    return orjson.dumps(document) + b"\n"


MANIFEST_FIELDS = ("lines", "sha256", "election_code", "events", "case_ids", "closed_case_ids")


def _seal_message(seal: Mapping[str, Any]) -> bytes:
    """What the log signs: the sealed lines' hash and the manifest, in one canonical form."""
    manifest = {name: seal.get(name) for name in MANIFEST_FIELDS}
    return f"{ARCHIVE_FORMAT}\n".encode() + orjson.dumps(manifest, option=orjson.OPT_SORT_KEYS)


def verify_seal(seal: Mapping[str, Any], keys: Mapping[str, Ed25519PublicKey]) -> str | None:
    """Why the seal's signature does not hold against these pinned keys (None: it is the log's)."""
    key = keys.get(str(seal.get("key_id")))
    if key is None:
        return f"the seal is signed with key {seal.get('key_id')!r}, which is not pinned"
    try:
        key.verify(base64.b64decode(str(seal.get("signature")), validate=True), _seal_message(seal))
    except (InvalidSignature, ValueError):
        return "the seal's signature is not the log's"
    return None


class Sealer:
    """Writes the archive's lines, hashing them as they go, and seals them at the end."""

    def __init__(self, key: Ed25519PrivateKey, key_id: str) -> None:
        self.key, self.key_id = key, key_id
        self.digest = hashlib.sha256()
        self.lines = 0

    def add(self, document: Mapping[str, Any]) -> bytes:
        raw = line(document)
        self.digest.update(raw)
        self.lines += 1
        return raw

    def seal(self, *, election_code: str, events: int, case_ids: Iterable[str],
             closed_case_ids: Iterable[str]) -> bytes:
        seal: dict[str, Any] = {"kind": "seal", "lines": self.lines, "sha256": self.digest.hexdigest(),
                                "election_code": election_code, "events": events, "case_ids": sorted(case_ids),
                                "closed_case_ids": sorted(closed_case_ids), "key_id": self.key_id}
        seal["signature"] = base64.b64encode(self.key.sign(_seal_message(seal))).decode()
        return line(seal)


def is_archive(first: Mapping[str, Any]) -> bool:
    return first.get("kind") == "header" and first.get("format") == ARCHIVE_FORMAT


def file_sha256(raw_lines: Iterable[bytes]) -> str:
    digest = hashlib.sha256()
    for raw in raw_lines:
        digest.update(raw)
    return digest.hexdigest()


def verify_archive(raw_lines: Iterator[bytes], keys: Keys) -> tuple[Report, dict[str, Any]]:
    """Check an archive read as raw lines; returns the report and a summary (election, case ids, events)."""
    report = Report()
    digest = hashlib.sha256()
    header: dict[str, Any] | None = None
    seal: dict[str, Any] | None = None
    events: list[tuple[int, Envelope]] = []
    statuses: list[Mapping[str, Any]] = []
    proofs: list[tuple[int, int, Envelope, list[str]]] = []
    count = 0
    for number, raw in enumerate(raw_lines, start=1):
        if not raw.strip():
            continue
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError:
            report.add("format", f"line {number} is not JSON")
            continue
        if seal is not None:
            report.add("seal", f"line {number}: lines after the seal")
            continue
        if record.get("kind") == "seal":
            seal = record
            continue
        digest.update(raw)
        count += 1
        kind = record.get("kind")
        if kind == "header":
            header = record
        elif kind == "event":
            try:
                envelope = Envelope.model_validate(record["envelope"])
                proofs.append((number, int(record["leaf_index"]), envelope, list(record["audit_path"])))
            except (KeyError, TypeError, ValueError, ValidationError) as error:
                report.add("format", f"line {number}: not an archived event: {error}")
                continue
            events.append((number, envelope))
        elif kind == "status":
            statuses.append(record.get("status") or {})
        else:
            report.add("format", f"line {number}: unknown record kind {kind!r}")
    summary: dict[str, Any] = {
        "election_code": (header or {}).get("election_code"), "events": len(events),
        "case_ids": sorted(str(s.get("case_id")) for s in statuses),
        "closed_case_ids": sorted(str(s.get("case_id")) for s in statuses if s.get("stage") in _CLOSED),
        "seal": seal}
    if header is None or header.get("format") != ARCHIVE_FORMAT:
        report.add("format", f"no {ARCHIVE_FORMAT} header")
        return report, summary
    if not keys.log:
        keys.log = {k: cp.load_public_key(v) for k, v in (header.get("keys") or {}).items()}
        keys.from_file = True
    if keys.producers is None and header.get("producers"):
        keys.producers, keys.producers_from_file = ProducerKeys.from_document(header["producers"]), True
    _check_seal(seal, digest.hexdigest(), count, keys, report)
    _check_manifest(seal, summary, report)
    _check_events(header, proofs, keys, report)
    election = header.get("election_code")
    if not isinstance(election, str) or not election:
        report.add("format", "the header names no election_code")
        election = ""
    _check_statuses(election, events, statuses, report)
    report.counts = {"events": len(events), "statuses": len(statuses), "lines": count}
    if keys.from_file:
        report.notes.append("the seal and checkpoint were checked against the log key found in the archive "
                            "itself; pin it with --key to rule out a forged archive")
    if keys.producers is None:
        report.notes.append("event signatures were not checked: no producer keys pinned or archived")
    return report, summary


def _check_seal(seal: Mapping[str, Any] | None, digest: str, count: int, keys: Keys, report: Report) -> None:
    if seal is None:
        report.add("seal", "the archive has no seal: it is incomplete or was cut short")
        return
    if seal.get("lines") != count:
        report.add("seal", f"the seal covers {seal.get('lines')} lines but the archive holds {count}")
    if seal.get("sha256") != digest:
        report.add("seal", f"the archive's lines hash to {digest[:12]}… but the seal names "
                           f"{str(seal.get('sha256'))[:12]}…: a line was changed, added, removed or moved")
    if (refusal := verify_seal(seal, keys.log)) is not None:
        report.add("signature", refusal)


def _check_manifest(seal: Mapping[str, Any] | None, summary: Mapping[str, Any], report: Report) -> None:
    """The seal's manifest names exactly what the archive holds."""
    for name in ("election_code", "events", "case_ids", "closed_case_ids"):
        if seal is not None and seal.get(name) != summary[name]:
            report.add("seal", f"the seal's {name} is not what the archive holds")


def _check_events(header: Mapping[str, Any], proofs: list[tuple[int, int, Envelope, list[str]]], keys: Keys,
                  report: Report) -> None:
    try:
        checkpoint = cp.Checkpoint.model_validate(header.get("checkpoint"))
        cp.verify(checkpoint, keys.log)
    except ValidationError as error:
        report.add("format", f"the header's checkpoint is not one: {error.errors()[0]['msg']}")
        return
    except cp.SignatureError as error:
        report.add("signature", str(error))
        return
    root = bytes.fromhex(checkpoint.root_hash)
    for number, index, envelope, path in proofs:
        where = f"line {number}: event {envelope.id} ({envelope.type})"
        if not envelope.hash_is_valid():
            report.add("event", f"{where}: content does not match its hash")
            continue
        if keys.producers is not None and (refusal := authenticate(envelope, keys.producers)) is not None:
            report.add("signature", f"{where} {refusal}")
        try:
            merkle.verify_inclusion(bytes.fromhex(envelope.hash or ""), index, checkpoint.tree_size,
                                    [bytes.fromhex(h) for h in path], root)
        except (merkle.ProofError, ValueError) as error:
            report.add("proof", f"{where}: not leaf {index} of the signed checkpoint: {error}")


def _check_statuses(election: str, events: list[tuple[int, Envelope]], statuses: list[Mapping[str, Any]],
                    report: Report) -> None:
    recomputed = fold_statuses(envelope for _, envelope in events)
    given = {str(status.get("case_id")): status for status in statuses}
    for case_id, mine in recomputed.items():
        if mine.election_code != election:
            report.add("status", f"case {case_id} is of election {mine.election_code}, not {election}")
        status = given.get(case_id)
        if status is None:
            report.add("status", f"case {case_id}: its events are archived but not its final status")
            continue
        for name, expected in mine.model_dump(mode="json").items():
            value = status.get(name)
            if (list(value) if isinstance(value, tuple) else value) != expected:
                report.add("status", f"case {case_id}: {name} is {value!r} but the events give {expected!r}")
    for case_id in sorted(set(given) - set(recomputed)):
        report.add("status", f"case {case_id}: a final status is archived but none of its events")
