"""The signing keys as integrators see them: the trusted public keys as a JWK set (RFC 7517, OKP keys
of RFC 8037), and the start-up check that the key this service signs with is one the services trust."""

from __future__ import annotations

import base64
import logging

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from shared.auth import public_pem, signing_key, trusted_keys
from shared.settings import AuthSettings

log = logging.getLogger("sbt.identity")


def _raw(pem: str) -> bytes | None:
    key = serialization.load_pem_public_key(pem.encode())
    if not isinstance(key, Ed25519PublicKey):
        return None
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def jwk(kid: str, pem: str) -> dict[str, str] | None:
    """The JWK of an Ed25519 public key; None for a key of another kind (the services verify EdDSA only)."""
    raw = _raw(pem)
    if raw is None:
        log.warning("trusted key %s is not Ed25519; left out of the key set", kid)
        return None
    x = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "use": "sig", "alg": "EdDSA"}


def key_set(settings: AuthSettings) -> dict[str, list[dict[str, str]]]:
    keys = [jwk(kid, pem) for kid, pem in sorted(trusted_keys(settings).items())]
    return {"keys": [key for key in keys if key is not None]}


def check_signing_key_is_trusted(settings: AuthSettings) -> str:
    """The signing key's id; refuses to start when no service would accept the tokens it signs
    (SBT_JWT_KEY_ID missing from SBT_JWT_PUBLIC_KEYS, or its public key there is another)."""
    kid, private_pem = signing_key(settings)
    trusted = trusted_keys(settings)
    if kid not in trusted:
        raise RuntimeError(f"the signing key id {kid!r} (SBT_JWT_KEY_ID) is not among the trusted keys "
                           f"(SBT_JWT_PUBLIC_KEYS: {', '.join(sorted(trusted)) or 'none'})")
    if _raw(trusted[kid]) != _raw(public_pem(private_pem)):
        raise RuntimeError(f"SBT_JWT_PUBLIC_KEYS[{kid!r}] is not the public key of SBT_JWT_PRIVATE_KEY")
    return kid
