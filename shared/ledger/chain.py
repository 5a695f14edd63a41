"""Per-producer hash chains: every producer numbers its events 1, 2, 3 ... (``producerseq``) and links each
to the previous one's ``hash`` (``prevhash``). A missing, altered, reordered or forged event shows up here,
and every finding says what is wrong and where (producer, sequence, position in the log, event id).

``check_next`` is the single-step rule a consumer applies as events arrive; ``check_chains`` audits a whole
log offline and keeps going after a finding, so one deletion is reported once, not as a cascade.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from shared.events import GENESIS_HASH, Envelope
from shared.events.signing import ProducerKeys
from shared.messaging.outbox import canonical_json


@dataclass(frozen=True)
class Finding:
    kind: str  # bad_hash | unsigned | gap | broken_link | out_of_order | duplicate | fork | unchained
    producer: str
    producerseq: int | None
    position: int | None  # leaf index in the log
    event_id: str | None
    detail: str

    def __str__(self) -> str:
        return self.detail


@dataclass(frozen=True)
class ChainHead:
    producerseq: int
    hash: str


class ChainBreak(Exception):
    """An event does not continue its producer's chain; the consumer retries it and, if the missing event
    never comes, dead-letters it. Never skipped silently."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.detail)
        self.finding = finding


def hash_is_valid(envelope: Envelope) -> bool:
    """``Envelope.hash_is_valid`` through the canonical form the relay hashes with (byte for byte RFC 8785,
    falling back to the reference implementation wherever orjson could write otherwise): every event is
    checked on arrival, and the reference costs more than the rest of applying an event."""
    if envelope.hash is None:
        return False
    return hashlib.sha256(canonical_json(envelope.without_hash())).hexdigest() == envelope.hash


def authenticate(envelope: Envelope, keys: ProducerKeys) -> str | None:
    """Why ``envelope`` is not its producer's own event (None when it is): its content does not match its
    hash, or it is not signed by a key pinned for its producer. One canonical form serves both checks."""
    if envelope.hash is None:
        return "carries no hash"
    message = canonical_json(envelope.without_hash())
    if hashlib.sha256(message).hexdigest() != envelope.hash:
        return "content does not match its hash"
    return keys.refusal(envelope.producer, envelope.producerseq, envelope.keyid, envelope.signature, message)


def _name(envelope: Envelope) -> str:
    return f"{envelope.producer} #{envelope.producerseq} (event {envelope.id})"


def check_next(head: ChainHead | None, envelope: Envelope, *, hash_checked: bool = False) -> Finding | None:
    """Whether ``envelope`` is the next link after ``head`` (None: the producer's first event).

    ``hash_checked``: the caller has already found the content to match the hash (the consumer does so on
    arrival), so it is not computed twice."""
    producer, seq = envelope.producer, envelope.producerseq
    if seq is None or envelope.prevhash is None or envelope.hash is None:
        return Finding("unchained", producer, seq, None, envelope.id, f"{_name(envelope)} carries no chain fields")
    if not hash_checked and not hash_is_valid(envelope):
        return Finding("bad_hash", producer, seq, None, envelope.id, f"{_name(envelope)}: content does not match its hash")
    expected = (head.producerseq if head else 0) + 1
    if seq < expected:
        return Finding("fork", producer, seq, None, envelope.id,
                       f"{_name(envelope)}: {producer} #{seq} is already logged as another event")
    if seq > expected:
        return Finding("gap", producer, seq, None, envelope.id,
                       f"{_name(envelope)}: gap, {producer} #{expected}..#{seq - 1} not received yet")
    previous = head.hash if head else GENESIS_HASH
    if envelope.prevhash != previous:
        return Finding("broken_link", producer, seq, None, envelope.id,
                       f"{_name(envelope)}: prevhash {envelope.prevhash[:12]}… is not the hash {previous[:12]}… "
                       f"of {producer} #{seq - 1}")
    return None


@dataclass
class _Seen:
    position: int
    envelope: Envelope
    seq: int  # the envelope's producerseq and prevhash, known to be set (unchained events never become one)
    prevhash: str


def check_chains(entries: Iterable[tuple[int, Envelope]], *, expect_genesis: bool = True,
                 keys: ProducerKeys | None = None, redacted: frozenset[str] = frozenset()) -> list[Finding]:
    """Audit every producer's chain over ``(position, envelope)`` pairs in log order; with ``keys``, every
    event's signature too (an event not signed by its producer is named, and kept out of its chain).

    ``redacted``: ids of events of a retired case, of which only the chain fields are left: their content
    cannot be checked against their hash, but their place in the chain and in the tree still is."""
    findings: list[Finding] = []
    chains: dict[str, dict[int, _Seen]] = {}
    highest: dict[str, _Seen] = {}
    for position, envelope in entries:
        producer, seq = envelope.producer, envelope.producerseq
        here = f"leaf {position}: {envelope.producer} #{seq} (event {envelope.id}, {envelope.type})"
        if seq is None or envelope.hash is None or envelope.prevhash is None:
            findings.append(Finding("unchained", producer, seq, position, envelope.id, f"{here} carries no chain fields"))
            continue
        if envelope.id in redacted:
            pass
        elif not hash_is_valid(envelope):
            findings.append(Finding("bad_hash", producer, seq, position, envelope.id,
                                    f"{here}: content does not match its hash {envelope.hash[:12]}… "
                                    "(the event was altered after it was chained)"))
        elif keys is not None and (refusal := authenticate(envelope, keys)) is not None:
            findings.append(Finding("unsigned", producer, seq, position, envelope.id,
                                    f"{here} {refusal}: not {producer}'s event (forged or mis-keyed)"))
            continue
        chain = chains.setdefault(producer, {})
        if seq in chain:
            other = chain[seq]
            kind = "duplicate" if other.envelope.hash == envelope.hash else "fork"
            what = "the same event appears twice" if kind == "duplicate" else "two different events claim this place"
            findings.append(Finding(kind, producer, seq, position, envelope.id,
                                    f"{here}: {what} (also at leaf {other.position}, event {other.envelope.id})"))
            continue
        top = highest.get(producer)
        if top is not None and seq < top.seq:
            findings.append(Finding("out_of_order", producer, seq, position, envelope.id,
                                    f"{here}: out of order, comes after {producer} #{top.seq} "
                                    f"at leaf {top.position}"))
        chain[seq] = _Seen(position, envelope, seq, envelope.prevhash)
        if top is None or seq > top.seq:
            highest[producer] = chain[seq]
    for producer, chain in sorted(chains.items()):
        findings.extend(_links(producer, chain, expect_genesis))
    return findings


def _links(producer: str, chain: dict[int, _Seen], expect_genesis: bool) -> list[Finding]:
    findings: list[Finding] = []
    sequences = sorted(chain)
    previous: _Seen | None = None
    for seq in sequences:
        seen = chain[seq]
        envelope = seen.envelope
        here = f"leaf {seen.position}: {producer} #{seq} (event {envelope.id})"
        if previous is None:
            if seq == 1 and seen.prevhash != GENESIS_HASH:
                findings.append(Finding("broken_link", producer, seq, seen.position, envelope.id,
                                        f"{here}: the first event does not start from the genesis hash"))
            elif seq > 1 and expect_genesis:
                findings.append(Finding("gap", producer, seq, seen.position, envelope.id,
                                        f"{producer} #1..#{seq - 1} missing: the chain starts at {here}"))
        elif seq != previous.seq + 1:
            before = previous.envelope
            missing = f"#{previous.seq + 1}" if seq == previous.seq + 2 else f"#{previous.seq + 1}..#{seq - 1}"
            findings.append(Finding("gap", producer, seq, seen.position, envelope.id,
                                    f"{producer} {missing} missing: between leaf {previous.position} "
                                    f"(#{previous.seq}, event {before.id}) and {here}"))
        elif seen.prevhash != previous.envelope.hash:
            findings.append(Finding("broken_link", producer, seq, seen.position, envelope.id,
                                    f"{here}: prevhash {seen.prevhash[:12]}… is not the hash "
                                    f"{(previous.envelope.hash or '')[:12]}… of #{previous.seq} "
                                    f"at leaf {previous.position} (event {previous.envelope.id})"))
        previous = seen
    return findings
