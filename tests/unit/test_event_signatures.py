"""Producer signatures: an event is accepted only when a key pinned for its producer signed exactly what its
hash covers; the relay's fast chaining signs the same bytes the model does; keys rotate by key id."""

from __future__ import annotations

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.events import GENESIS_HASH, Envelope, compute_hash
from shared.events.signing import (
    KeyConfigError,
    PinnedKey,
    ProducerKeys,
    SigningKey,
    key_id_for,
    producer_keys_from_settings,
    signing_key_from_settings,
)
from shared.ledger.chain import authenticate, check_chains
from shared.messaging.outbox import chain_document
from services.cli.settings import SystemSettings


def _key(producer: str = "intake") -> SigningKey:
    private = Ed25519PrivateKey.generate()
    return SigningKey(producer, key_id_for(producer, private.public_key()), private)


def _pinned(*keys: SigningKey, last: int | None = None) -> ProducerKeys:
    pinned = ProducerKeys()
    for key in keys:
        pinned.add(key.producer, PinnedKey(key.key_id, key.public, last))
    return pinned


def _event(seq: int = 1, prev: str = GENESIS_HASH, key: SigningKey | None = None, source: str = "/sbt/intake",
           case_id: str = "case-1") -> Envelope:
    return Envelope(id=f"01J{seq}", source=source, type="sbt.case.opened.v1", time="2024-10-15T03:00:00Z",
                    subject=case_id, data={"case_id": case_id}).chained(seq, prev, key)


def test_a_signed_event_verifies_and_anything_else_is_refused_with_its_reason():
    key = _key()
    keys = _pinned(key)
    event = _event(key=key)
    assert event.keyid == key.key_id and event.signature and authenticate(event, keys) is None
    assert "is not signed" in authenticate(_event(), keys)
    stranger = SigningKey("intake", key.key_id, Ed25519PrivateKey.generate())  # claims the real key id
    assert "does not carry a valid signature" in authenticate(_event(key=stranger), keys)
    assert "not a registered key" in authenticate(_event(key=_key()), keys)
    # intake's key does not sign for another producer.
    assert "not a registered key of blocking" in authenticate(_event(key=key, source="/sbt/blocking"), keys)
    # Changing a signed event (re-hashed by the forger) breaks the signature, not just the hash.
    altered = event.model_copy(update={"subject": "case-2"})
    assert "does not match its hash" in authenticate(altered, keys)
    rehashed = altered.model_copy(update={"hash": compute_hash(altered)})
    assert rehashed.hash_is_valid()
    assert "does not carry a valid signature" in authenticate(rehashed, keys)


def test_the_relay_signs_what_the_model_signs():
    key = _key()
    stored = orjson.loads(_event().model_copy(update={"producerseq": None, "prevhash": None, "hash": None,
                                                      "signature": None}).model_dump_json(exclude_none=True))
    fast = Envelope.model_validate(chain_document(stored, 4, "a" * 64, key))
    assert fast == Envelope.model_validate(stored).chained(4, "a" * 64, key)
    assert authenticate(fast, _pinned(key)) is None
    # Chaining again (a retry after a crash) replaces the old signature instead of keeping it.
    again = Envelope.model_validate(chain_document(fast.model_dump(exclude_none=True), 5, "b" * 64, key))
    assert authenticate(again, _pinned(key)) is None and again.signature != fast.signature


def test_a_retired_key_stays_valid_for_what_it_signed_and_no_later():
    old, new = _key(), _key()
    keys = _pinned(new)
    keys.add("intake", PinnedKey(old.key_id, old.public, last_producerseq=2))
    assert authenticate(_event(2, key=old), keys) is None
    assert "retired key" in authenticate(_event(3, key=old), keys)
    assert authenticate(_event(3, key=new), keys) is None


def test_the_pinned_set_round_trips_through_its_published_document_and_refuses_bad_entries():
    key = _key()
    keys = _pinned(key, last=7)
    again = ProducerKeys.from_document(orjson.loads(orjson.dumps(keys.document())))
    assert authenticate(_event(7, key=key), again) is None and authenticate(_event(8, key=key), again) is not None
    with pytest.raises(KeyConfigError):
        ProducerKeys.from_document({"intake": {"k": {"public_key": "not a key"}}})
    with pytest.raises(KeyConfigError):
        ProducerKeys.from_document({"intake": {"k": {"public_key": keys.document()["intake"][key.key_id]["public_key"],
                                                     "last_producerseq": "7"}}})


def test_an_audit_names_unsigned_events_and_keeps_them_out_of_the_chain():
    key = _key()
    first = _event(1, key=key)
    forged = _event(2, first.hash, key=None, case_id="case-9")
    real = _event(2, first.hash, key=key, case_id="case-2")
    findings = check_chains(enumerate([first, forged, real]), keys=_pinned(key))
    assert [(f.kind, f.event_id) for f in findings] == [("unsigned", forged.id)]


def test_development_keys_are_made_once_per_producer_and_production_demands_configured_keys(tmp_path):
    settings = SystemSettings(env="development", data_dir=tmp_path)
    intake = signing_key_from_settings(settings, "intake")
    assert signing_key_from_settings(settings, "intake").key_id == intake.key_id
    assert (tmp_path / "keys" / "events" / "intake.pem").stat().st_mode & 0o077 == 0
    pinned = producer_keys_from_settings(settings)
    assert authenticate(_event(key=intake), pinned) is None
    production = SystemSettings(env="production", data_dir=tmp_path, jwt_public_keys={"k": "x"}, master_key="x" * 43,
                          ledger_private_key="x", ledger_public_keys={"ledger": "x"})
    with pytest.raises(KeyConfigError, match="SBT_SIGNING_KEY"):
        signing_key_from_settings(production, "intake")
    with pytest.raises(KeyConfigError, match="SBT_PRODUCER_KEYS"):
        producer_keys_from_settings(production)
