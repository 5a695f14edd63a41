"""Intake's check of an election archive before recording it: the archive's seal (shared/ledger/archive.py)
must be signed by the status service's ledger key, pinned here, and name exactly the election, the cases and
the event count the request declares. Whoever records an archive holds an ops credential, not the log's key,
so they cannot declare a case archived that no sealed archive holds: retention retires only what was sealed.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from services.intake.schemas import ArchiveIn
from services.intake.settings import IntakeSettings
from shared.ledger import archive
from shared.ledger import checkpoint as cp
from shared.problems import Problem

# Where the status service makes its development ledger key (services/status/ledger/signer.py); intake
# reads only its public half, and only outside production.
DEV_LEDGER_KEY_FILE = "dev-ledger-ed25519.pem"


@cache
def _dev_key(path: Path) -> dict[str, Ed25519PublicKey]:
    return {"status-dev": cp.load_private_key(path.read_text()).public_key()}


@cache
def _pinned(pems: frozenset[tuple[str, str]]) -> dict[str, Ed25519PublicKey]:
    return {key_id: cp.load_public_key(pem) for key_id, pem in pems}


def ledger_keys(settings: IntakeSettings) -> dict[str, Ed25519PublicKey]:
    """The keys an archive's seal may be signed with (loaded once per process)."""
    if settings.ledger_public_keys:
        return _pinned(frozenset(settings.ledger_public_keys.items()))
    if settings.env == "production":
        return {}
    path = settings.data_dir / DEV_LEDGER_KEY_FILE
    return _dev_key(path) if path.exists() else {}  # not yet made by the status service: nothing is pinned


def check(body: ArchiveIn, settings: IntakeSettings) -> list[str]:
    """Raise a 422 naming the field unless the seal proves the body; returns the cases the archive holds
    closed (only those may count as archived: an open one may still gain events the archive lacks)."""
    seal = body.seal
    if (refusal := archive.verify_seal(seal.model_dump(), ledger_keys(settings))) is not None:
        raise Problem.field("seal.signature" if "signature is not" in refusal else "seal.key_id", refusal)
    if seal.election_code != body.election_code:
        raise Problem.field("election_code", f"the seal is of election {seal.election_code}, not {body.election_code}")
    if seal.events != body.events:
        raise Problem.field("events", f"the seal names {seal.events} events, not {body.events}")
    if sorted(body.case_ids) != seal.case_ids:
        raise Problem.field("case_ids", "not the cases the sealed archive holds")
    return seal.closed_case_ids
