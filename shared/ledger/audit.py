"""Offline audits, pure: an exported log (every chain, the tree, every signature, every case's status
recomputed with the shared ``apply``) and a saved API answer with its inclusion proofs.

Nothing in the input is trusted except the keys the caller pins: positions, recorded hashes and statuses in
an export are only compared against what the events themselves give, and each finding says what and where.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError

from shared.events import Envelope
from shared.events.signing import ProducerKeys
from shared.ledger import checkpoint as cp
from shared.ledger import merkle
from shared.ledger.chain import authenticate, check_chains
from shared.status_model import CaseStatus, apply

EXPORT_FORMAT = "sbt-ledger-export/1"

# The parts of a case's status a summary (GET /v1/asn/{nip}/status) shows, compared field by field.
SUMMARY_FIELDS = ("stage", "election_code", "agency_code", "province", "opened_at", "updated_at")


@dataclass
class Report:
    findings: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.findings

    def add(self, area: str, message: str) -> None:
        self.findings.append((area, message))

    def lines(self) -> list[str]:
        return [f"[{area}] {message}" for area, message in self.findings]


@dataclass
class Keys:
    """What the verifier trusts: the log's keys and the witnesses' keys (key id -> public key)."""

    log: dict[str, Ed25519PublicKey] = field(default_factory=dict)
    witnesses: dict[str, Ed25519PublicKey] = field(default_factory=dict)
    # Every producer's event signing keys; None: not given, so event signatures cannot be checked.
    producers: ProducerKeys | None = None
    # Keys read from the export itself: better than nothing, but a forger can bring his own.
    from_file: bool = False
    producers_from_file: bool = False


def _hex(value: str | None) -> bytes | None:
    try:
        raw = bytes.fromhex(value or "")
    except ValueError:
        return None
    return raw if len(raw) == 32 else None


# --- the whole log -----------------------------------------------------------------------------------------

def verify_export(records: Iterable[Mapping[str, Any]], keys: Keys,
                  given_statuses: Iterable[Mapping[str, Any]] = ()) -> Report:
    report = Report()
    events: list[tuple[int, Envelope]] = []
    recorded: dict[int, str] = {}
    checkpoints: list[cp.Checkpoint] = []
    statuses: list[Mapping[str, Any]] = list(given_statuses)
    redacted: set[str] = set()
    shift = 0
    for number, record in enumerate(records, start=1):
        kind = record.get("kind")
        if kind == "event":
            try:
                raw = record["envelope"]
                envelope = _redacted(raw) if raw.get("redacted") is True else Envelope.model_validate(raw)
            except (KeyError, ValidationError) as error:
                report.add("format", f"line {number}: not an event envelope: {error}")
                continue
            position = len(events)
            claimed = record.get("leaf_index")
            if claimed is not None and claimed - position != shift:  # reported once per jump, not per line
                shift = claimed - position
                report.add("tree", f"line {number}: event {envelope.id} is exported as leaf {claimed} but is "
                                   f"leaf {position} of this file: "
                                   + ("leaves before it are missing" if claimed > position else "leaves are repeated"))
            if record.get("event_hash") and record["event_hash"] != envelope.hash:
                report.add("tree", f"leaf {position}: the ledger recorded event hash {record['event_hash'][:12]}… "
                                   f"but event {envelope.id} now carries {str(envelope.hash)[:12]}…")
                recorded[position] = record["event_hash"]
            events.append((position, envelope))
            if raw.get("redacted") is True:
                redacted.add(envelope.id)
        elif kind == "checkpoint":
            try:
                checkpoints.append(cp.Checkpoint.model_validate(record["checkpoint"]))
            except (KeyError, ValidationError) as error:
                report.add("format", f"line {number}: not a checkpoint: {error}")
        elif kind == "status":
            statuses.append(record["status"])
        elif kind != "header":
            report.add("format", f"line {number}: unknown record kind {kind!r}")
    report.counts = {"events": len(events), "checkpoints": len(checkpoints), "statuses": len(statuses),
                     "producers": len({e.producer for _, e in events})}

    refused: set[str] = set()
    forks = 0
    report.counts["redacted"] = len(redacted)
    for finding in check_chains(events, keys=keys.producers, redacted=frozenset(redacted)):
        report.add("signature" if finding.kind == "unsigned" else "chain", str(finding))
        if finding.kind == "unsigned" and finding.event_id:
            refused.add(finding.event_id)
        forks += finding.kind == "fork"
    report.counts.update(forks=forks, unsigned=len(refused))
    tree = _tree(events, report)
    _check_checkpoints(tree, checkpoints, keys, report)
    # What a forger published is no producer's event: statuses are recomputed without it.
    _check_statuses([(p, e) for p, e in events if e.id not in refused and e.id not in redacted], statuses, report)
    if redacted:
        report.notes.append(f"{len(redacted)} events of retired cases are hashes only (their election's archive "
                            "holds them): their place in the tree and in their producer's chain was checked, "
                            "their content and signature cannot be")
    if keys.from_file:
        report.notes.append("signatures were checked against keys found in the export itself; pin the log's "
                            "key with --key to rule out a forged export")
    if keys.producers is None:
        report.notes.append("event signatures were not checked: no producer keys pinned or exported")
    elif keys.producers_from_file:
        report.notes.append("event signatures were checked against producer keys found in the export itself; "
                            "pin them with --key KEYS.json (GET /v1/ledger/keys) to rule out a forged export")
    return report


def _redacted(raw: Mapping[str, Any]) -> Envelope:
    """What the ledger keeps of an event of a retired case (services/status/retirement.py): its chain fields."""
    for name in ("id", "type", "producer", "producerseq", "hash", "prevhash"):
        if name not in raw:
            raise KeyError(name)
    return Envelope.model_construct(id=raw["id"], type=raw["type"], source=f"/sbt/{raw['producer']}",
                                    producerseq=raw["producerseq"], subject=raw.get("subject", ""),
                                    time=raw.get("time", ""), hash=raw["hash"], prevhash=raw["prevhash"], data={})


def _tree(events: list[tuple[int, Envelope]], report: Report) -> merkle.MemoryTree:
    tree = merkle.MemoryTree()
    for position, envelope in events:
        raw = _hex(envelope.hash)
        if raw is None:
            report.add("tree", f"leaf {position}: event {envelope.id} has no valid hash to be a leaf")
            raw = bytes(32)
        tree.append(raw)
    return tree


def _check_checkpoints(tree: merkle.MemoryTree, checkpoints: list[cp.Checkpoint], keys: Keys,
                       report: Report) -> None:
    size = len(tree)
    matched: list[int] = []  # sizes whose signed root the events reproduce
    by_size: dict[int, cp.Checkpoint] = {}
    for checkpoint in sorted(checkpoints, key=lambda c: c.tree_size):
        try:
            cp.verify(checkpoint, keys.log)
        except cp.SignatureError as error:
            report.add("signature", str(error))
            continue
        for cosignature in checkpoint.cosignatures:
            if cosignature.key_id not in keys.witnesses:
                report.notes.append(f"{checkpoint.where()}: co-signature of {cosignature.witness} "
                                    f"(key {cosignature.key_id}) not checked: no witness key pinned")
                continue
            try:
                cp.verify_cosignature(checkpoint, cosignature, keys.witnesses)
            except cp.SignatureError as error:
                report.add("signature", str(error))
        earlier = by_size.get(checkpoint.tree_size)
        if earlier is not None and earlier.root_hash != checkpoint.root_hash:
            report.add("checkpoint", f"two signed checkpoints for size {checkpoint.tree_size} with different roots "
                                     f"({earlier.root_hash[:12]}… at {earlier.time}, {checkpoint.root_hash[:12]}… at "
                                     f"{checkpoint.time}): the log showed two histories")
        by_size[checkpoint.tree_size] = checkpoint
        if checkpoint.tree_size > size:
            report.add("tree", f"{checkpoint.where()} (signed at {checkpoint.time}) covers {checkpoint.tree_size} "
                               f"events but the export holds only {size}: events were removed or the log truncated")
            continue
        actual = tree.root(checkpoint.tree_size).hex()
        if actual == checkpoint.root_hash:
            matched.append(checkpoint.tree_size)
            continue
        good = max((s for s in matched if s < checkpoint.tree_size), default=0)
        report.add("tree", f"{checkpoint.where()} (signed at {checkpoint.time}) has root {checkpoint.root_hash[:12]}… "
                           f"but the exported events give {actual[:12]}…: an event among leaves {good}..."
                           f"{checkpoint.tree_size - 1} was changed, removed, inserted or reordered")
    report.counts["checkpoints_matched"] = len(matched)
    if not checkpoints:
        report.notes.append("the export holds no checkpoint: the tree is not anchored to any signature")


def fold_statuses(envelopes: Iterable[Envelope]) -> dict[str, CaseStatus]:
    """Every case's status, recomputed from the events in log order with the shared pure ``apply``."""
    statuses: dict[str, CaseStatus] = {}
    for envelope in envelopes:
        after = apply(statuses.get(envelope.subject), envelope)
        if after is not None:
            statuses[envelope.subject] = after
    return statuses


def _check_statuses(events: list[tuple[int, Envelope]], claimed: list[Mapping[str, Any]], report: Report) -> None:
    recomputed = fold_statuses(envelope for _, envelope in events)
    report.counts["cases"] = len(recomputed)
    for status in claimed:
        case_id = status.get("case_id")
        mine = recomputed.get(str(case_id))
        if mine is None:
            report.add("status", f"case {case_id}: a status is given but no event in the log opens it")
            continue
        for name, expected in mine.model_dump(mode="json").items():
            if name in status and _normal(status[name]) != _normal(expected):
                report.add("status", f"case {case_id}: {name} is {status[name]!r} but the events give {expected!r}")


def _normal(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


# --- an API answer with proofs -------------------------------------------------------------------------------

def verify_answer(answer: Mapping[str, Any], keys: Keys) -> Report:
    """A saved ``GET /v1/asn/{nip}/status?proofs=true`` or ``GET /v1/cases/{id}/timeline?proofs=true``."""
    report = Report()
    raw = answer.get("checkpoint")
    if raw is None:
        report.add("format", "the answer carries no checkpoint")
        return report
    checkpoint = cp.Checkpoint.model_validate(raw)
    try:
        cp.verify(checkpoint, keys.log)
    except cp.SignatureError as error:
        report.add("signature", str(error))
    root = _hex(checkpoint.root_hash) or bytes(32)
    proven: dict[str, tuple[int, Envelope]] = {}
    for proof in answer.get("proofs") or []:
        envelope = Envelope.model_validate(proof["envelope"])
        index = proof["leaf_index"]
        where = f"leaf {index} (event {envelope.id}, {envelope.type})"
        if not envelope.hash_is_valid():
            report.add("proof", f"{where}: content does not match its hash")
        elif keys.producers is not None and (refusal := authenticate(envelope, keys.producers)) is not None:
            report.add("signature", f"{where} {refusal}")
            continue
        try:
            merkle.verify_inclusion(_hex(envelope.hash) or bytes(32), index, checkpoint.tree_size,
                                    [_hex(h) or bytes(32) for h in proof["audit_path"]], root)
        except merkle.ProofError as error:
            report.add("proof", f"{where}: {error}")
            continue
        proven[envelope.id] = (index, envelope)
    report.counts = {"proofs": len(answer.get("proofs") or []), "proven": len(proven),
                     "tree_size": checkpoint.tree_size}
    ordered = [envelope for _, envelope in sorted(proven.values(), key=lambda pair: pair[0])]
    recomputed = fold_statuses(ordered)
    if "events" in answer:  # a timeline
        for entry in answer["events"]:
            if entry["id"] not in proven:
                report.add("proof", f"timeline event {entry['id']} ({entry['type']}) has no valid inclusion proof")
            elif proven[entry["id"]][1].hash != entry.get("hash"):
                report.add("proof", f"timeline event {entry['id']}: shown hash differs from the proven event")
        cases = [{"case_id": answer.get("case_id"), "stage": answer.get("stage")}]
    else:
        cases = answer.get("cases") or []
    for case in cases:
        mine = recomputed.get(str(case.get("case_id")))
        if mine is None:
            report.add("status", f"case {case.get('case_id')}: no proven event opens it")
            continue
        expected = mine.model_dump(mode="json")
        for name in SUMMARY_FIELDS:
            if name in case and case[name] != expected[name]:
                report.add("status", f"case {mine.case_id}: {name} is {case[name]!r} but the proven events give "
                                     f"{expected[name]!r}")
        if "report_count" in case and case["report_count"] != len(mine.report_ids):
            report.add("status", f"case {mine.case_id}: report_count is {case['report_count']} but the proven "
                                 f"events give {len(mine.report_ids)}")
    return report
