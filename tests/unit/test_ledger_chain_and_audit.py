"""Hash chains, signed checkpoints and the offline audit of an export, on small in-memory logs."""

from __future__ import annotations

import pytest

from shared.events import GENESIS_HASH
from shared.ledger import audit, merkle
from shared.ledger import checkpoint as cp
from shared.ledger.chain import ChainHead, check_chains, check_next
from tests.unit.ledger_fixtures import case_log

KEY = cp.load_private_key(cp.generate_private_pem())
KEYS = audit.Keys(log={"log-1": KEY.public_key()})


def signed(events, size=None, time="2024-10-15T04:00:00Z"):
    tree = merkle.MemoryTree(bytes.fromhex(e.hash) for e in events)
    size = len(events) if size is None else size
    body = cp.Checkpoint(log_id="sbt-status", tree_size=size, root_hash=tree.root(size).hex(), time=time)
    return cp.sign(body, KEY, "log-1")


def export(events, checkpoints=(), statuses=()):
    records = [{"kind": "header", "format": audit.EXPORT_FORMAT}]
    records += [{"kind": "event", "leaf_index": i, "envelope": e.model_dump(exclude_none=True)}
                for i, e in enumerate(events)]
    records += [{"kind": "checkpoint", "checkpoint": c.model_dump()} for c in checkpoints]
    records += [{"kind": "status", "status": s} for s in statuses]
    return records


def kinds(findings):
    return [f.kind for f in findings]


def test_an_intact_log_has_intact_chains():
    events = case_log()
    assert check_chains(enumerate(events)) == []
    head = None
    for envelope in [e for e in events if e.producer == "intake"]:
        assert check_next(head, envelope) is None
        head = ChainHead(envelope.producerseq, envelope.hash)


def test_check_next_names_gaps_forks_broken_links_and_bad_hashes():
    intake = [e for e in case_log() if e.producer == "intake"]
    first, second, third = intake[:3]
    assert check_next(None, second).kind == "gap"
    assert "#1..#1 not received" in check_next(None, second).detail
    assert check_next(ChainHead(2, second.hash), second).kind == "fork"
    assert check_next(ChainHead(1, "f" * 64), second).kind == "broken_link"
    altered = third.model_copy(update={"data": {**third.data, "nip": "199001012015011001"}})
    assert check_next(ChainHead(2, second.hash), altered).kind == "bad_hash"


def test_a_deleted_event_is_one_gap_named_with_its_neighbours():
    events = case_log()
    del events[2]  # intake #3
    (finding,) = check_chains(enumerate(events))
    assert finding.kind == "gap"
    assert "intake #3 missing: between leaf 1 (#2" in finding.detail and "leaf 2: intake #4" in finding.detail


def test_two_swapped_events_are_out_of_order_and_an_altered_one_is_named():
    events = case_log()
    events[1], events[2] = events[2], events[1]
    findings = check_chains(enumerate(events))
    assert kinds(findings) == ["out_of_order"]
    assert "leaf 2: intake #2" in findings[0].detail and "after intake #3 at leaf 1" in findings[0].detail

    events = case_log()
    events[3] = events[3].model_copy(update={"subject": "01OTHERCASE"})
    (finding,) = check_chains(enumerate(events))
    assert finding.kind == "bad_hash" and finding.position == 3 and "leaf 3: intake #4" in finding.detail


def test_a_rehashed_forgery_breaks_the_next_link_and_a_duplicate_is_seen():
    events = case_log()
    events[1] = events[1].model_copy(update={"data": {**events[1].data, "description": "lain"}}).chained(
        2, events[0].hash)
    (finding,) = check_chains(enumerate(events))
    assert finding.kind == "broken_link" and "leaf 2: intake #3" in finding.detail
    (duplicate,) = check_chains(enumerate([*case_log(), case_log()[0]]))
    assert duplicate.kind == "duplicate"


def test_checkpoint_signatures_and_cosignatures():
    events = case_log()
    checkpoint = signed(events)
    cp.verify(checkpoint, KEYS.log)
    forged = checkpoint.model_copy(update={"tree_size": 3})
    with pytest.raises(cp.SignatureError, match="does not match"):
        cp.verify(forged, KEYS.log)
    with pytest.raises(cp.SignatureError, match="not trusted"):
        cp.verify(checkpoint.model_copy(update={"key_id": "other"}), KEYS.log)

    witness = cp.load_private_key(cp.generate_private_pem())
    cosignature = cp.cosign(checkpoint, "KASN", witness, "kasn-1")
    cp.verify_cosignature(checkpoint, cosignature, {"kasn-1": witness.public_key()})
    with pytest.raises(cp.SignatureError):
        cp.verify_cosignature(forged, cosignature, {"kasn-1": witness.public_key()})
    # A log signature is not a co-signature: the contexts differ.
    stolen = cp.Cosignature(witness="KASN", key_id="log-1", signature=checkpoint.signature)
    with pytest.raises(cp.SignatureError):
        cp.verify_cosignature(checkpoint, stolen, KEYS.log)


def test_an_intact_export_verifies_and_statuses_are_recomputed():
    events = case_log()
    statuses = audit.fold_statuses(events)
    records = export(events, [signed(events, 3), signed(events)],
                     [s.model_dump(mode="json") for s in statuses.values()])
    report = audit.verify_export(records, KEYS)
    assert report.ok, report.lines()
    assert report.counts["checkpoints_matched"] == 2 and report.counts["cases"] == 3
    assert statuses[events[0].subject].stage == "awaiting_examination"


def test_the_export_audit_names_what_and_where():
    events = case_log()
    checkpoints = [signed(events, 3), signed(events)]

    removed = export(events, checkpoints)
    del removed[5]  # the header is line 1, so leaf 4 (intake #5) was line 6
    lines = audit.verify_export(removed, KEYS).lines()
    assert any("[tree] line 6: event" in line and "leaves before it are missing" in line for line in lines)
    assert any("[chain] intake #5 missing" in line for line in lines)
    assert any("checkpoint sbt-status@7" in line and "holds only 6" in line for line in lines)

    swapped = list(events)
    swapped[5], swapped[6] = swapped[6], swapped[5]  # intake #6 and recommendation #1: chains stay intact
    lines = audit.verify_export(export(swapped, checkpoints), KEYS).lines()
    assert len(lines) == 1 and any("sbt-status@7" in line and "among leaves 3...6" in line for line in lines), lines

    forged = checkpoints[1].model_copy(update={"root_hash": "ab" * 32})
    lines = audit.verify_export(export(events, [forged]), KEYS).lines()
    assert lines == ["[signature] checkpoint sbt-status@7: the signature does not match "
                     "(tree_size, root_hash, time or log_id changed)"]

    wrong = audit.fold_statuses(events)[events[0].subject].model_dump(mode="json") | {"stage": "sanctioned"}
    lines = audit.verify_export(export(events, checkpoints, [wrong]), KEYS).lines()
    assert lines == [f"[status] case {events[0].subject}: stage is 'sanctioned' but the events give "
                     "'awaiting_examination'"]


def test_an_answer_with_inclusion_proofs_verifies_offline_and_a_lie_is_caught():
    events = case_log()
    tree = merkle.MemoryTree(bytes.fromhex(e.hash) for e in events)
    checkpoint = signed(events)
    case = events[0].subject
    proofs = [{"leaf_index": i, "envelope": e.model_dump(exclude_none=True),
               "audit_path": [h.hex() for h in tree.inclusion_proof(i)]}
              for i, e in enumerate(events) if e.subject == case]
    answer = {"nip": events[0].data["nip"], "cases": [{"case_id": case, "stage": "awaiting_examination",
                                                       "report_count": 1}],
              "checkpoint": checkpoint.model_dump(), "proofs": proofs}
    report = audit.verify_answer(answer, KEYS)
    assert report.ok, report.lines()
    assert report.counts["proven"] == 3

    lie = {**answer, "cases": [{"case_id": case, "stage": "rejected", "report_count": 1}]}
    assert audit.verify_answer(lie, KEYS).lines() == [
        f"[status] case {case}: stage is 'rejected' but the proven events give 'awaiting_examination'"]
    bad_path = {**answer, "proofs": [{**proofs[0], "audit_path": proofs[1]["audit_path"]}, *proofs[1:]]}
    assert any("[proof] leaf 0" in line for line in audit.verify_answer(bad_path, KEYS).lines())
    assert GENESIS_HASH == events[0].prevhash
