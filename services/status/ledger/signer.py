"""The key the status service signs its checkpoints with: from settings, or in development a key made once
under SBT_DATA_DIR (as shared/auth.py does for tokens), so that every process of a dev system agrees."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.events.envelope import utc_now_text
from shared.ledger import checkpoint as cp
from services.status.settings import StatusSettings

DEV_KEY_FILE = "dev-ledger-ed25519.pem"


@dataclass(frozen=True)
class Signer:
    log_id: str
    key_id: str
    key: Ed25519PrivateKey

    def sign(self, tree_size: int, root: bytes, now: dt.datetime) -> cp.Checkpoint:
        body = cp.Checkpoint(log_id=self.log_id, tree_size=tree_size, root_hash=root.hex(), time=utc_now_text(now))
        return cp.sign(body, self.key, self.key_id)

    @property
    def public_pem(self) -> str:
        return cp.public_pem(self.key)


@lru_cache(maxsize=8)
def _signer(log_id: str, key_id: str, pem: str) -> Signer:
    return Signer(log_id, key_id, cp.load_private_key(pem))


def signer_from_settings(settings: StatusSettings) -> Signer:
    if settings.ledger_private_key:
        pem = settings.ledger_private_key
    elif settings.env == "production":
        raise RuntimeError("SBT_LEDGER_PRIVATE_KEY is not set")
    else:
        pem = cp.private_pem_file(settings.data_dir / DEV_KEY_FILE)
    return _signer(settings.ledger_log_id, settings.ledger_key_id, pem)


def witness_keys(settings: StatusSettings) -> dict:
    return {key_id: cp.load_public_key(pem) for key_id, pem in settings.ledger_witness_keys.items()}
