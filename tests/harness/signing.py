"""Producers' signing keys in tests: one fixed key per producer, known to the test.

A test system (tests/harness/system.py) installs them as its services' development keys before they start,
so events a test injects "as the recommendation service would" are signed exactly as that service signs
its own, and the small logs of tests/unit/ledger_fixtures.py verify against any test system."""

from __future__ import annotations

import hashlib
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.events.signing import DEV_KEY_FOLDER, PinnedKey, ProducerKeys, SigningKey, key_id_for, private_pem, producers


def fixed_key(producer: str) -> SigningKey:
    private = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(f"sbt-test-producer:{producer}".encode()).digest())
    return SigningKey(producer, key_id_for(producer, private.public_key()), private)


def fixed_producer_keys() -> ProducerKeys:
    keys = ProducerKeys()
    for producer in producers():
        key = fixed_key(producer)
        keys.add(producer, PinnedKey(key.key_id, key.public))
    return keys


def install_test_keys(data_dir: Path) -> None:
    """Write the test keys where the services look for their development keys."""
    folder = data_dir / DEV_KEY_FOLDER
    for level in (folder.parent, folder):
        level.mkdir(parents=True, exist_ok=True, mode=0o700)
        level.chmod(0o700)
    for producer in producers():
        path = folder / f"{producer}.pem"
        path.write_text(private_pem(fixed_key(producer).key))
        path.chmod(0o600)


def producer_key(system, producer: str) -> SigningKey:  # noqa: ANN001 - an SbtSystem
    """The key ``producer``'s service in ``system`` signs with."""
    return fixed_key(producer)
