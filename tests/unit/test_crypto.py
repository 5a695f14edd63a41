"""Envelope encryption: one data key per secret, wrapped under a rotating master key; erasure by key loss."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.crypto import CryptoError, Keyring, decode_master_key, new_master_key, open_sealed, seal
from services.cli.settings import SystemSettings


def _keyring(**keys: str) -> Keyring:
    current = next(iter(keys))
    return Keyring(current, {kid: decode_master_key(k) for kid, k in keys.items()})


@given(st.binary(max_size=2000), st.text(max_size=40))
def test_a_sealed_value_opens_only_with_its_data_key_and_context(plaintext, context):
    keyring = _keyring(k1=new_master_key())
    data_key, wrapped = keyring.new_data_key(context)
    sealed = seal(data_key, plaintext, context)
    assert open_sealed(keyring.unwrap(wrapped, context), sealed, context) == plaintext
    with pytest.raises(CryptoError):
        open_sealed(data_key, sealed, context + "x")
    with pytest.raises(CryptoError):
        keyring.unwrap(wrapped, context + "x")


def test_each_secret_gets_its_own_data_key_and_nonce():
    keyring = _keyring(k1=new_master_key())
    key_a, wrapped_a = keyring.new_data_key("r1")
    key_b, wrapped_b = keyring.new_data_key("r1")
    assert key_a != key_b and wrapped_a != wrapped_b
    assert seal(key_a, b"same", "r1") != seal(key_a, b"same", "r1")


def test_tampering_with_the_ciphertext_or_the_wrapped_key_is_detected():
    keyring = _keyring(k1=new_master_key())
    data_key, wrapped = keyring.new_data_key("r1")
    sealed = seal(data_key, b"Siti Rahmawati", "r1")
    version, nonce, body = sealed.split(".")
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    with pytest.raises(CryptoError):
        open_sealed(data_key, ".".join([version, nonce, flipped]), "r1")
    for broken in ("", "v1.k1", "v2.k1.AAAA.AAAA", "not-a-key", "v1.k1.!!.??"):
        with pytest.raises(CryptoError):
            keyring.unwrap(broken, "r1")


def test_the_master_key_rotates_without_a_flag_day():
    old, new = new_master_key(), new_master_key()
    before = Keyring.from_settings(SystemSettings(master_key=old, master_key_id="k1"))
    data_key, wrapped = before.new_data_key("r1")
    sealed = seal(data_key, b"secret", "r1")

    after = Keyring.from_settings(SystemSettings(master_key=new, master_key_id="k2", master_keys_retired={"k1": old}))
    assert open_sealed(after.unwrap(wrapped, "r1"), sealed, "r1") == b"secret"
    rewrapped = after.rewrap(wrapped, "r1")
    assert after.key_id_of(rewrapped) == "k2"

    # Once every data key is re-wrapped, the old master key can go.
    retired = Keyring.from_settings(SystemSettings(master_key=new, master_key_id="k2"))
    assert open_sealed(retired.unwrap(rewrapped, "r1"), sealed, "r1") == b"secret"
    with pytest.raises(CryptoError, match="not configured"):
        retired.unwrap(wrapped, "r1")


def test_development_makes_one_master_key_and_production_demands_one(tmp_path):
    first = Keyring.from_settings(SystemSettings(data_dir=tmp_path))
    second = Keyring.from_settings(SystemSettings(data_dir=tmp_path))
    assert first == second and first.current_id == "dev"
    with pytest.raises(ValueError, match="SBT_MASTER_KEY"):
        SystemSettings(env="production", jwt_public_keys={"k": "pem"})
    with pytest.raises(ValueError, match="32 bytes"):
        Keyring.from_settings(SystemSettings(master_key="c2hvcnQ"))


def test_services_starting_together_agree_on_one_complete_development_key(tmp_path):
    # make run starts every service at once; each must read the same whole key, never an empty file.
    import multiprocessing
    import os
    import stat

    context = multiprocessing.get_context("spawn")
    with context.Pool(6) as pool:
        keys = pool.map(_development_key_id_and_bytes, [str(tmp_path)] * 12)
    assert len(set(keys)) == 1 and keys[0] != b""
    (key_file,) = [p for p in tmp_path.iterdir()]  # no temporary file left beside it
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600


def _development_key_id_and_bytes(data_dir: str) -> bytes:
    ring = Keyring.from_settings(SystemSettings(data_dir=data_dir))
    return ring.keys[ring.current_id]
