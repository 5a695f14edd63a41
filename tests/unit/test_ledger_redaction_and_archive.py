"""What a retired case leaves in the ledger (its events as hashes) still verifies, and a changed hash does
not; an election's archive verifies offline and any changed, removed or moved line breaks its seal."""

from __future__ import annotations

import orjson

from shared.ledger import archive, audit, merkle
from shared.ledger import checkpoint as cp
from shared.status_model import CLOSED_STAGES
from tests.unit.ledger_fixtures import case_log
from tests.unit.test_ledger_chain_and_audit import KEY, KEYS, export, signed


def _stub(envelope) -> dict:  # noqa: ANN001
    return {"redacted": True, "id": envelope.id, "type": envelope.type, "producer": envelope.producer,
            "producerseq": envelope.producerseq, "subject": envelope.subject, "time": envelope.time,
            "hash": envelope.hash, "prevhash": envelope.prevhash}


def test_a_retired_case_as_hashes_still_verifies_and_a_changed_hash_does_not():
    events = case_log()
    retired = events[0].subject
    statuses = [s.model_dump(mode="json") for case_id, s in audit.fold_statuses(events).items() if case_id != retired]
    records = export(events, [signed(events)], statuses)
    for record in records:
        if record["kind"] == "event" and record["envelope"]["subject"] == retired:
            record["envelope"] = _stub(next(e for e in events if e.id == record["envelope"]["id"]))
    report = audit.verify_export(records, KEYS)
    assert report.ok, report.lines()
    assert report.counts["redacted"] == sum(1 for e in events if e.subject == retired) > 0

    forged = [dict(r) for r in records]
    stub = next(r for r in forged if r["kind"] == "event" and r["envelope"].get("redacted"))
    stub["envelope"] = {**stub["envelope"], "hash": "ab" * 32}
    refused = audit.verify_export(forged, KEYS)
    assert not refused.ok and {area for area, _ in refused.findings} >= {"tree", "chain"}


def _archive(events) -> list[bytes]:  # noqa: ANN001
    checkpoint = signed(events)
    tree = merkle.MemoryTree(bytes.fromhex(e.hash) for e in events)
    sealer = archive.Sealer(KEY, "log-1")
    lines = [sealer.add({"kind": "header", "format": archive.ARCHIVE_FORMAT, "election_code": "PILKADA-2024",
                         "keys": {"log-1": cp.public_pem(KEY)}, "checkpoint": checkpoint.model_dump(mode="json")})]
    for index, envelope in enumerate(events):
        path = [h.hex() for h in tree.inclusion_proof(index, len(events))]
        lines.append(sealer.add({"kind": "event", "leaf_index": index, "audit_path": path,
                                 "envelope": envelope.model_dump(exclude_none=True)}))
    statuses = audit.fold_statuses(events)
    for status in statuses.values():
        lines.append(sealer.add({"kind": "status", "status": status.model_dump(mode="json")}))
    closed = [case_id for case_id, status in statuses.items() if status.stage in CLOSED_STAGES]
    return [*lines, sealer.seal(election_code="PILKADA-2024", events=len(events), case_ids=statuses,
                                closed_case_ids=closed)]


def test_an_archive_verifies_and_any_change_breaks_it():
    events = case_log()
    lines = _archive(events)
    report, summary = archive.verify_archive(iter(lines), audit.Keys())
    assert report.ok, report.lines()
    assert summary["events"] == len(events) and len(summary["case_ids"]) == 3

    status_line = next(i for i, raw in enumerate(lines) if orjson.loads(raw)["kind"] == "status")
    document = orjson.loads(lines[status_line])
    document["status"]["stage"] = "sanctioned"
    changed = [*lines[:status_line], orjson.dumps(document) + b"\n", *lines[status_line + 1:]]
    swapped = [lines[0], lines[2], lines[1], *lines[3:]]
    for forged in (changed, lines[:1] + lines[2:], swapped, lines[:-1]):
        refused, _ = archive.verify_archive(iter(forged), audit.Keys())
        assert not refused.ok
        assert "seal" in {area for area, _ in refused.findings}

    other = cp.load_private_key(cp.generate_private_pem())
    pinned = audit.Keys(log={"log-1": other.public_key()})
    refused, _ = archive.verify_archive(iter(lines), pinned)
    assert not refused.ok and "signature" in {area for area, _ in refused.findings}

    # A seal whose manifest names other cases than the archive holds is refused, even with the log's key.
    seal = orjson.loads(lines[-1])
    assert archive.verify_seal(seal, {"log-1": KEY.public_key()}) is None
    wrong = archive.Sealer(KEY, "log-1")
    for raw in lines[:-1]:
        wrong.digest.update(raw)
        wrong.lines += 1
    resealed = wrong.seal(election_code="PILKADA-2024", events=len(events), case_ids=["SOMEONE-ELSE"],
                          closed_case_ids=["SOMEONE-ELSE"])
    refused, _ = archive.verify_archive(iter([*lines[:-1], resealed]), audit.Keys())
    assert not refused.ok and any("case_ids" in finding for _, finding in refused.findings)
    assert archive.verify_seal({**seal, "case_ids": ["SOMEONE-ELSE"]}, {"log-1": KEY.public_key()}) is not None
