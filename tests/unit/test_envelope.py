from shared.events import GENESIS_HASH, Envelope


def _envelope(**data) -> Envelope:
    return Envelope(id="01J0", source="/sbt/intake", type="sbt.case.opened.v1", time="2024-10-15T03:00:00Z",
                    subject="case-1", data=data or {"case_id": "case-1"})


def test_chaining_sets_sequence_previous_hash_and_a_verifiable_hash():
    first = _envelope().chained(1, GENESIS_HASH)
    second = _envelope(case_id="case-2").chained(2, first.hash)
    assert first.producerseq == 1 and first.prevhash == GENESIS_HASH
    assert second.prevhash == first.hash
    assert first.hash_is_valid() and second.hash_is_valid()
    assert first.hash != second.hash


def test_any_change_to_a_chained_event_breaks_its_hash():
    event = _envelope().chained(1, GENESIS_HASH)
    assert not event.model_copy(update={"data": {"case_id": "case-X"}}).hash_is_valid()
    assert not event.model_copy(update={"producerseq": 2}).hash_is_valid()
    assert not event.model_copy(update={"prevhash": "f" * 64}).hash_is_valid()


def test_the_hash_does_not_depend_on_key_order():
    a = _envelope(a=1, b=2).chained(1, GENESIS_HASH)
    b = _envelope(b=2, a=1).chained(1, GENESIS_HASH)
    assert a.hash == b.hash


def test_an_unchained_event_is_not_valid():
    assert not _envelope().hash_is_valid()
