"""Signed checkpoints of the ledger and witness co-signatures.

A checkpoint says "the log ``log_id`` had ``tree_size`` events with root ``root_hash`` at ``time``". The log
signs it with Ed25519; a witness (another agency) co-signs it only after checking that it extends the last
checkpoint it co-signed, so the log cannot show one history to one agency and another to another.

What is signed is a context string and the RFC 8785 canonical JSON of the checkpoint body, so a checkpoint
signature can never be replayed as a co-signature or as anything else.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field

CHECKPOINT_CONTEXT = b"sbt-ledger-checkpoint/v1\n"
COSIGNATURE_CONTEXT = b"sbt-ledger-cosignature/v1\n"

HEX64 = r"^[0-9a-f]{64}$"


class Cosignature(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    witness: str = Field(description="the co-signing agency, e.g. KASN", max_length=40)
    key_id: str = Field(max_length=80)
    signature: str = Field(description="base64 Ed25519 signature", max_length=200)


class Checkpoint(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    log_id: str
    tree_size: int = Field(ge=0)
    root_hash: str = Field(pattern=HEX64)
    time: str
    key_id: str | None = None
    signature: str | None = Field(default=None, description="base64 Ed25519 signature by the log")
    cosignatures: tuple[Cosignature, ...] = ()

    def body(self) -> dict[str, Any]:
        return {"log_id": self.log_id, "tree_size": self.tree_size, "root_hash": self.root_hash, "time": self.time}

    def signed_message(self) -> bytes:
        return CHECKPOINT_CONTEXT + rfc8785.dumps(self.body())

    def cosigned_message(self, witness: str) -> bytes:
        return COSIGNATURE_CONTEXT + rfc8785.dumps({"checkpoint": self.body(), "witness": witness})

    def where(self) -> str:
        return f"checkpoint {self.log_id}@{self.tree_size}"


class SignatureError(ValueError):
    """A signature is missing, made with an unknown key, or does not match what it claims to sign."""


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _unb64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        raise SignatureError("the signature is not base64") from None


def sign(checkpoint: Checkpoint, key: Ed25519PrivateKey, key_id: str) -> Checkpoint:
    signature = _b64(key.sign(checkpoint.signed_message()))
    return checkpoint.model_copy(update={"key_id": key_id, "signature": signature})


def verify(checkpoint: Checkpoint, keys: dict[str, Ed25519PublicKey]) -> None:
    """Checks the log's signature against the trusted keys (key id -> public key). Raises SignatureError."""
    if not checkpoint.signature or not checkpoint.key_id:
        raise SignatureError(f"{checkpoint.where()} is not signed")
    key = keys.get(checkpoint.key_id)
    if key is None:
        raise SignatureError(f"{checkpoint.where()} is signed with key '{checkpoint.key_id}', which is not trusted")
    try:
        key.verify(_unb64(checkpoint.signature), checkpoint.signed_message())
    except InvalidSignature:
        raise SignatureError(
            f"{checkpoint.where()}: the signature does not match (tree_size, root_hash, time or log_id changed)"
        ) from None


def cosign(checkpoint: Checkpoint, witness: str, key: Ed25519PrivateKey, key_id: str) -> Cosignature:
    return Cosignature(witness=witness, key_id=key_id, signature=_b64(key.sign(checkpoint.cosigned_message(witness))))


def verify_cosignature(checkpoint: Checkpoint, cosignature: Cosignature, keys: dict[str, Ed25519PublicKey]) -> None:
    key = keys.get(cosignature.key_id)
    if key is None:
        raise SignatureError(
            f"{checkpoint.where()}: co-signature of {cosignature.witness} uses untrusted key '{cosignature.key_id}'"
        )
    try:
        key.verify(_unb64(cosignature.signature), checkpoint.cosigned_message(cosignature.witness))
    except InvalidSignature:
        raise SignatureError(f"{checkpoint.where()}: the co-signature of {cosignature.witness} does not match") from None


def with_cosignature(checkpoint: Checkpoint, cosignature: Cosignature) -> Checkpoint:
    others = tuple(c for c in checkpoint.cosignatures if c.witness != cosignature.witness)
    return checkpoint.model_copy(update={"cosignatures": tuple(sorted((*others, cosignature), key=lambda c: c.witness))})


# --- keys -------------------------------------------------------------------------------------------------

def generate_private_pem() -> str:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def load_private_key(pem: str) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("not an Ed25519 private key")
    return key


def load_public_key(pem: str) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem.encode())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def public_pem(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def private_pem_file(path: Path) -> str:
    """The PEM in ``path``, made on first use (exclusive create: when processes race, the first key wins)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(generate_private_pem())
        except FileExistsError:
            pass
    return path.read_text()
