"""Machine identity end to end: agency clients registered by the CLI and the admin API exchange their
credentials at the identity service for tokens that the other services accept, on a real database."""

from __future__ import annotations

import base64
import json
import subprocess
import sys

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.auth import public_pem
from tests.e2e.reports import report_body
from tests.harness.system import ROOT

pytestmark = pytest.mark.e2e

FORM = {"grant_type": "client_credentials"}


def cli(system, *args: str) -> subprocess.CompletedProcess:
    """``sbt client ...`` against the identity database of ``system``, as an operator runs it."""
    return subprocess.run([sys.executable, "-m", "services.cli", "client", *args], env=system["identity"].env,
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


def add_client(system, *args: str) -> dict:
    done = cli(system, "add", *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


async def token_request(system, *, headers: dict | None = None, **form: str) -> httpx.Response:
    async with system.client("identity") as client:
        return await client.post("/oauth/token", data={**FORM, **form}, headers=headers or {})


async def get_token(system, client: dict, **form: str) -> str:
    response = await token_request(system, headers=basic(client["client_id"], client["client_secret"]), **form)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


async def file_report(system, token: str) -> httpx.Response:
    async with system.client("intake", token) as client:
        return await client.post("/v1/reports", json=report_body())


async def test_a_registered_client_gets_a_token_the_other_services_accept(make_system):
    system = await make_system("identity", "intake")
    # The first admin client is made on the database directly, with no token at all.
    admin = add_client(system, "--name", "BKN operations", "--agency", "BKN", "--role", "admin")
    admin_token = await get_token(system, admin)

    async with system.client("identity", admin_token) as client:
        created = await client.post("/v1/clients", json={"name": "Bawaslu case system", "agency_code": "BAWASLU",
                                                         "roles": ["reporter"]})
    assert created.status_code == 201, created.text
    reporter = created.json()
    assert reporter["roles"] == ["reporter"] and reporter["created_by"] == admin["client_id"]

    response = await token_request(system, headers=basic(reporter["client_id"], reporter["client_secret"]))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    issued = response.json()
    assert issued["token_type"] == "Bearer" and issued["scope"] == "reporter"
    assert 0 < issued["expires_in"] <= 3600
    claims = jwt.decode(issued["access_token"], options={"verify_signature": False})
    assert claims["sub"] == reporter["client_id"] and claims["agency"] == "BAWASLU" and claims["roles"] == ["reporter"]

    filed = await file_report(system, issued["access_token"])
    assert filed.status_code == 201, filed.text
    submitted_by = await system.scalar("intake", "SELECT submitted_by_client FROM reports WHERE id = :id",
                                       id=filed.json()["report_id"])
    assert submitted_by == reporter["client_id"]

    # The form fields are the other way to authenticate (RFC 6749 §2.3.1).
    by_form = await token_request(system, client_id=reporter["client_id"], client_secret=reporter["client_secret"])
    assert by_form.status_code == 200, by_form.text

    # A token is only as good as the roles it carries: the reporter may not manage clients.
    async with system.client("identity", issued["access_token"]) as client:
        assert (await client.get("/v1/clients")).status_code == 403
    async with system.client("identity", admin_token) as client:
        listed = (await client.get("/v1/clients")).json()["clients"]
    assert {c["client_id"] for c in listed} == {admin["client_id"], reporter["client_id"]}
    assert all(not {"client_secret", "secret_hash"} & set(c) for c in listed)


async def test_unknown_wrong_and_revoked_clients_get_one_and_the_same_refusal(make_system):
    system = await make_system("identity", "intake")
    reporter = add_client(system, "--name", "Bawaslu case system", "--agency", "BAWASLU", "--role", "reporter")
    revoked = add_client(system, "--name", "Old system", "--agency", "BAWASLU", "--role", "reporter")
    old_token = await get_token(system, revoked)
    done = cli(system, "revoke", revoked["client_id"])
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["revoked_at"]

    attempts = {
        "unknown client": basic("0" * 32, reporter["client_secret"]),
        "wrong secret": basic(reporter["client_id"], reporter["client_secret"] + "x"),
        "revoked client": basic(revoked["client_id"], revoked["client_secret"]),
        "no credentials": {},
        "malformed Basic": {"Authorization": "Basic not*base64"},
    }
    bodies = set()
    for why, headers in attempts.items():
        response = await token_request(system, headers=headers)
        assert response.status_code == 401, f"{why}: {response.status_code} {response.text}"
        assert response.headers["www-authenticate"].startswith("Basic"), why
        bodies.add(response.text)
    assert bodies == {json.dumps({"error": "invalid_client", "error_description": "client authentication failed"},
                                 separators=(",", ":"))}
    # Revoking stops new tokens; one already held runs out with its short lifetime.
    assert (await file_report(system, old_token)).status_code == 201
    assert cli(system, "revoke", revoked["client_id"]).returncode == 1
    assert cli(system, "revoke", "no-such-client").returncode == 1


async def test_bad_token_requests_are_answered_in_the_oauth_error_shape(make_system):
    system = await make_system("identity")
    reporter = add_client(system, "--name", "Bawaslu case system", "--agency", "BAWASLU", "--role", "reporter")
    credentials = basic(reporter["client_id"], reporter["client_secret"])
    async with system.client("identity") as client:
        cases = {
            "no grant_type": (await client.post("/oauth/token", data={}, headers=credentials),
                              400, "invalid_request", "grant_type"),
            "another grant": (await client.post("/oauth/token", data={"grant_type": "password"}, headers=credentials),
                              400, "unsupported_grant_type", "grant_type"),
            "secret without id": (await client.post("/oauth/token", data={**FORM, "client_secret": "x"}),
                                  400, "invalid_request", "client_id"),
            "id without secret": (await client.post("/oauth/token", data={**FORM, "client_id": reporter["client_id"]}),
                                  400, "invalid_request", "client_secret"),
            "two methods": (await client.post("/oauth/token", data={**FORM, "client_secret": "x"}, headers=credentials),
                            400, "invalid_request", "client_secret"),
            "repeated field": (await client.post("/oauth/token", content=b"grant_type=client_credentials&scope=a&scope=b",
                                                 headers={**credentials,
                                                          "Content-Type": "application/x-www-form-urlencoded"}),
                               400, "invalid_request", "scope"),
            "a JSON body": (await client.post("/oauth/token", json=FORM, headers=credentials),
                            400, "invalid_request", "application/x-www-form-urlencoded"),
        }
    for why, (response, status, error, named) in cases.items():
        assert response.status_code == status, f"{why}: {response.status_code} {response.text}"
        body = response.json()
        assert body["error"] == error, why
        assert named in body["error_description"], why


async def test_scope_narrows_the_token_and_cannot_widen_it(make_system):
    system = await make_system("identity", "intake")
    both = add_client(system, "--name", "Satgas console", "--agency", "BKN", "--role", "reporter",
                      "--role", "observer")
    wide = await token_request(system, headers=basic(both["client_id"], both["client_secret"]))
    assert wide.json()["scope"] == "observer reporter"

    narrow = await token_request(system, headers=basic(both["client_id"], both["client_secret"]), scope="observer")
    assert narrow.status_code == 200, narrow.text
    assert narrow.json()["scope"] == "observer"
    assert jwt.decode(narrow.json()["access_token"], options={"verify_signature": False})["roles"] == ["observer"]
    assert (await file_report(system, narrow.json()["access_token"])).status_code == 403
    assert (await file_report(system, wide.json()["access_token"])).status_code == 201

    for scope in ("admin", "observer admin", "no-such-role"):
        refused = await token_request(system, headers=basic(both["client_id"], both["client_secret"]), scope=scope)
        assert refused.status_code == 400, f"{scope}: {refused.text}"
        assert refused.json()["error"] == "invalid_scope"

    # A PPK token carries the agency it acts for, and only while it carries the ppk role.
    ppk = add_client(system, "--name", "BKD Jabar", "--agency", "PEMPROV-JABAR", "--role", "ppk", "--role",
                     "observer", "--ppk-agency", "PEMPROV-JABAR")
    as_ppk = jwt.decode(await get_token(system, ppk), options={"verify_signature": False})
    assert as_ppk["ppk_agency"] == "PEMPROV-JABAR"
    as_observer = jwt.decode(await get_token(system, ppk, scope="observer"), options={"verify_signature": False})
    assert "ppk_agency" not in as_observer


async def test_secrets_are_kept_hashed_and_rotate(make_system):
    system = await make_system("identity")
    admin = add_client(system, "--name", "BKN operations", "--agency", "BKN", "--role", "admin")
    reporter = add_client(system, "--name", "Bawaslu case system", "--agency", "BAWASLU", "--role", "reporter")

    for client in (admin, reporter):
        row = await system.scalar(
            "identity", "SELECT client_id || '|' || name || '|' || agency_code || '|' || secret_hash FROM clients "
                        "WHERE client_id = :id", id=client["client_id"])
        assert client["client_secret"] not in row
        assert row.split("|")[-1].startswith("scrypt$")

    async with system.client("identity", await get_token(system, admin)) as client:
        rotated = await client.post(f"/v1/clients/{reporter['client_id']}/secret")
        assert rotated.status_code == 200, rotated.text
        new_secret = rotated.json()["client_secret"]
        assert new_secret != reporter["client_secret"]
        assert (await client.post("/v1/clients/no-such-client/secret")).status_code == 404

        old = await token_request(system, headers=basic(reporter["client_id"], reporter["client_secret"]))
        assert old.status_code == 401
        assert (await token_request(system, headers=basic(reporter["client_id"], new_secret))).status_code == 200

        revoked = await client.post(f"/v1/clients/{reporter['client_id']}/revoke")
        assert revoked.status_code == 200 and revoked.json()["revoked_by"] == admin["client_id"]
        assert (await client.post(f"/v1/clients/{reporter['client_id']}/revoke")).status_code == 409
        assert (await client.post(f"/v1/clients/{reporter['client_id']}/secret")).status_code == 409
        assert (await token_request(system, headers=basic(reporter["client_id"], new_secret))).status_code == 401
        active = (await client.get("/v1/clients", params={"include_revoked": "false"})).json()["clients"]
        assert [c["client_id"] for c in active] == [admin["client_id"]]


async def test_registration_refuses_what_a_client_cannot_be(make_system):
    system = await make_system("identity")
    admin = add_client(system, "--name", "BKN operations", "--agency", "BKN", "--role", "admin")
    refused = {
        "a PPK client without the agency it acts for": ({"roles": ["ppk"]}, "ppk_agency"),
        "an agency to act for without the ppk role": ({"roles": ["observer"], "ppk_agency": "BKN"}, "ppk_agency"),
        "an unknown role": ({"roles": ["superuser"]}, "roles"),
        "the public role": ({"roles": ["public"]}, "roles"),
        "no role": ({"roles": []}, "roles"),
        "a malformed agency code": ({"roles": ["observer"], "agency_code": "bkn "}, "agency_code"),
    }
    async with system.client("identity", await get_token(system, admin)) as client:
        for why, (overrides, field) in refused.items():
            body = {"name": "A client", "agency_code": "BKN", **overrides}
            response = await client.post("/v1/clients", json=body)
            assert response.status_code == 422, f"{why}: {response.status_code} {response.text}"
            assert response.headers["content-type"].startswith("application/problem+json")
            assert field in [e["field"] for e in response.json()["errors"]], f"{why}: {response.text}"
    done = cli(system, "add", "--name", "BKD", "--agency", "PEMPROV-JABAR", "--role", "ppk")
    assert done.returncode != 0 and "ppk_agency" in done.stderr
    assert await system.scalar("identity", "SELECT count(*) FROM clients") == 1


async def test_failed_attempts_from_one_address_are_slowed_down(make_system):
    system = await make_system("identity", extra_env={"SBT_TOKEN_FAILURE_BURST": "3",
                                                      "SBT_TOKEN_FAILURE_RATE_PER_MINUTE": "1"})
    reporter = add_client(system, "--name", "Bawaslu case system", "--agency", "BAWASLU", "--role", "reporter")
    # Successes spend nothing.
    for _ in range(5):
        await get_token(system, reporter)
    wrong = basic(reporter["client_id"], "sbt_guess")
    for _ in range(3):
        assert (await token_request(system, headers=wrong)).status_code == 401
    refused = await token_request(system, headers=wrong)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    # The right secret too, or the budget would not slow down guessing.
    right = await token_request(system, headers=basic(reporter["client_id"], reporter["client_secret"]))
    assert right.status_code == 429


def _private_pem() -> str:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _restart(service, **env: str) -> None:  # noqa: ANN001 - a ServiceProcess
    service.stop()
    service.env.update(env)
    service.start()


async def test_the_signing_key_rotates_without_downtime_by_key_id(make_system):
    old_key, new_key = _private_pem(), _private_pem()
    old_only = json.dumps({"2026-a": public_pem(old_key)})
    both = json.dumps({"2026-a": public_pem(old_key), "2026-b": public_pem(new_key)})
    new_only = json.dumps({"2026-b": public_pem(new_key)})
    system = await make_system("identity", "intake", extra_env={
        "SBT_JWT_PUBLIC_KEYS": old_only, "SBT_JWT_PRIVATE_KEY": old_key, "SBT_JWT_KEY_ID": "2026-a"})
    reporter = add_client(system, "--name", "Bawaslu case system", "--agency", "BAWASLU", "--role", "reporter")
    old_token = await get_token(system, reporter)
    assert jwt.get_unverified_header(old_token)["kid"] == "2026-a"
    assert (await file_report(system, old_token)).status_code == 201

    # 1. Every verifier trusts the incoming key beside the outgoing one.
    _restart(system["intake"], SBT_JWT_PUBLIC_KEYS=both)
    _restart(system["identity"], SBT_JWT_PUBLIC_KEYS=both)
    assert (await file_report(system, old_token)).status_code == 201

    # 2. The issuer signs with the new key; tokens of both key ids are accepted meanwhile.
    _restart(system["identity"], SBT_JWT_PRIVATE_KEY=new_key, SBT_JWT_KEY_ID="2026-b")
    new_token = await get_token(system, reporter)
    assert jwt.get_unverified_header(new_token)["kid"] == "2026-b"
    for token in (old_token, new_token):
        assert (await file_report(system, token)).status_code == 201
    async with system.client("identity") as client:
        published = (await client.get("/.well-known/jwks.json")).json()["keys"]
    assert sorted(key["kid"] for key in published) == ["2026-a", "2026-b"]
    assert all(key["kty"] == "OKP" and key["crv"] == "Ed25519" and key["alg"] == "EdDSA" for key in published)
    by_kid = {key["kid"]: jwt.PyJWK(key) for key in published}
    assert jwt.decode(new_token, by_kid["2026-b"], algorithms=["EdDSA"], audience="sbt")["sub"] == reporter["client_id"]

    # 3. Once the old tokens have run out, the old key is no longer trusted: what it signed is refused.
    _restart(system["intake"], SBT_JWT_PUBLIC_KEYS=new_only)
    refused = await file_report(system, old_token)
    assert refused.status_code == 401, refused.text
    assert "key id" in refused.json()["detail"]
    assert (await file_report(system, new_token)).status_code == 201

    # The issuer refuses to start on a signing key nobody trusts, rather than hand out useless tokens.
    system["identity"].stop()
    system["identity"].env.update(SBT_JWT_PUBLIC_KEYS=old_only)
    with pytest.raises(RuntimeError, match="identity exited"):
        system["identity"].start()
    assert "not among the trusted keys" in system["identity"].log_text()
