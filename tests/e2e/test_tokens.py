"""Machine identity against a running service: only well-formed, unexpired tokens signed by a trusted key,
for this audience and issuer, get in; two keys are trusted at once so the signing key rotates without
downtime."""

from __future__ import annotations

import base64
import datetime as dt
import json

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.auth import mint_token, public_pem
from services.cli.settings import SystemSettings
from tests.e2e.reports import report_body

pytestmark = pytest.mark.e2e


def _private_pem() -> str:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _claims(**overrides) -> dict:
    now = dt.datetime.now(dt.UTC)
    claims = {"iss": "sbt", "aud": "sbt", "sub": "bawaslu-case-system", "agency": "BAWASLU",
              "roles": ["reporter"], "iat": now, "exp": now + dt.timedelta(minutes=5)}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _sign(claims: dict, private_pem: str, kid: str) -> str:
    return jwt.encode(claims, private_pem, algorithm="EdDSA", headers={"kid": kid})


def _tamper(token: str, **changes) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"{header}.{forged}.{signature}"


async def test_only_valid_tokens_from_trusted_keys_get_in_and_keys_rotate_without_downtime(make_system):
    old_key, new_key, stranger = _private_pem(), _private_pem(), _private_pem()
    trusted = {"2024-a": public_pem(old_key), "2024-b": public_pem(new_key)}
    system = await make_system("intake", extra_env={"SBT_JWT_PUBLIC_KEYS": json.dumps(trusted)})

    async def call(token: str | None):
        async with system.client("intake", token) as client:
            return await client.post("/v1/reports", json=report_body())

    # During a rotation both the outgoing and the incoming key are trusted; `sbt token` signs with the
    # configured key and id (here the new one).
    minted = mint_token(SystemSettings(jwt_private_key=new_key, jwt_key_id="2024-b"), agency="BAWASLU", roles=["reporter"])
    for token in (_sign(_claims(), old_key, "2024-a"), _sign(_claims(), new_key, "2024-b"), minted):
        assert (await call(token)).status_code == 201

    now = dt.datetime.now(dt.UTC)
    refused = {
        "expired": _sign(_claims(iat=now - dt.timedelta(hours=2), exp=now - dt.timedelta(hours=1)), old_key, "2024-a"),
        "wrong key": _sign(_claims(), stranger, "2024-a"),
        "wrong audience": _sign(_claims(aud="another-system"), old_key, "2024-a"),
        "wrong issuer": _sign(_claims(iss="someone"), old_key, "2024-a"),
        "unknown key id": _sign(_claims(), stranger, "2025-x"),
        "no key id": jwt.encode(_claims(), old_key, algorithm="EdDSA"),
        "tampered roles": _tamper(_sign(_claims(), old_key, "2024-a"), roles=["admin"]),
        "tampered agency": _tamper(_sign(_claims(), old_key, "2024-a"), agency="BKN"),
        "tampered expiry": _tamper(_sign(_claims(exp=now - dt.timedelta(minutes=1)), old_key, "2024-a"),
                                   exp=int((now + dt.timedelta(hours=1)).timestamp())),
        "no expiry": _sign(_claims(exp=None), old_key, "2024-a"),
        "none algorithm": jwt.encode(_claims(), None, algorithm="none", headers={"kid": "2024-a"}),
        "an HMAC made with the public key": "{}.{}.{}".format(
            *_sign(_claims(), old_key, "2024-a").split(".")[:2], "AAAA"),
        "not a JWT": "not-a-token",
    }
    for why, token in refused.items():
        response = await call(token)
        assert response.status_code == 401, f"{why}: {response.status_code} {response.text}"
        assert response.headers["content-type"].startswith("application/problem+json")
    assert (await call(None)).status_code == 401
    assert await system.scalar("intake", "SELECT count(*) FROM reports") == 3
