"""The relay chains events on their stored JSON documents, with a fast canonical form; whatever it writes must
be exactly what every consumer recomputes through the Envelope model and the RFC 8785 reference."""

import orjson
import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.events import EVENT_MODELS, GENESIS_HASH, Envelope
from shared.messaging.outbox import canonical_json, chain_document

# JSON values as they come out of a stored document, floats and huge integers included, so both the fast
# form and the fall-back to the reference implementation are exercised.
_json = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(document=st.dictionaries(st.text(max_size=8), _json, max_size=6))
def test_the_canonical_form_is_the_rfc_8785_one_for_any_json_document(document):
    try:
        expected = rfc8785.dumps(document)
    except rfc8785.CanonicalizationError:  # e.g. an integer beyond 2^53: refused the same way
        return
    assert canonical_json(document) == expected


def test_keys_outside_the_basic_plane_sort_as_rfc_8785_says():
    # UTF-16 order puts U+1F600 (a surrogate pair, 0xD83D 0xDE00) before U+FFFD; code point order would not.
    document = {"\U0001f600": 1, "\ufffd": 2}
    assert orjson.dumps(document, option=orjson.OPT_SORT_KEYS) != rfc8785.dumps(document)
    assert canonical_json(document) == rfc8785.dumps(document)


def test_what_rfc_8785_refuses_is_refused_too():
    with pytest.raises(rfc8785.IntegerDomainError):
        canonical_json({"a": 2**53 + 1})


def _stored(event_type: str, data: dict, **extra) -> dict:
    envelope = Envelope(id="01JD0000000000000000000009", source=f"/sbt/{EVENT_MODELS[event_type].producer}",
                        type=event_type, time="2024-10-15T03:00:00.000000Z", subject="case-1", data=data, **extra)
    return orjson.loads(envelope.model_dump_json(exclude_none=True))


def test_chaining_a_stored_document_gives_what_the_envelope_model_gives():
    previous = GENESIS_HASH
    for seq, (event_type, model) in enumerate(sorted(EVENT_MODELS.items()), start=1):
        for example in model.examples:
            stored = _stored(event_type, example, traceparent="00-" + "a" * 32 + "-" + "b" * 16 + "-01")
            chained = chain_document(stored, seq, previous)
            expected = Envelope.model_validate(stored).chained(seq, previous)
            assert chained == expected.model_dump(exclude_none=True)
            published = Envelope.model_validate_json(orjson.dumps(chained))
            assert published.hash_is_valid()  # what a consumer checks
            previous = chained["hash"]


def test_chaining_again_replaces_the_old_link_and_keeps_nulls_inside_the_data():
    stored = _stored("sbt.case.opened.v1", {"case_id": "case-1", "agency_code": None, "note": [None]})
    once = chain_document(stored, 1, GENESIS_HASH)
    again = chain_document(once, 7, "f" * 64)
    assert again["producerseq"] == 7 and again["prevhash"] == "f" * 64
    assert again["data"] == {"case_id": "case-1", "agency_code": None, "note": [None]}
    assert Envelope.model_validate(again).hash_is_valid()
    assert again["hash"] != once["hash"]
