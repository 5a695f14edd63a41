"""The identity service's pure parts: which roles a client may hold and a token may carry, reading a
token request, secrets kept as slow salted hashes, and the key set."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import MetaData

from services.identity import credentials, domain, keys
from services.identity.token_request import (
    FORM,
    TokenRequestError,
    check_grant_type,
    client_credentials,
    parse_form,
)
from shared.auth import public_pem
from shared.nats_permissions import render_auth_conf, service_users
from shared.service import ServiceSpec
from shared.settings import SERVICES_WITHOUT_BUS
from services.cli.settings import SystemSettings

# -- roles and scope ------------------------------------------------------------------------------------

def test_a_client_holds_known_roles_only_and_never_the_public_one():
    assert domain.check_roles(["reporter", "observer", "reporter"]) == ["observer", "reporter"]
    for roles, reason in ((["public"], "unknown role 'public'"), (["root"], "unknown role 'root'"), ([], "at least")):
        with pytest.raises(domain.RuleBroken, match=reason) as refused:
            domain.check_roles(roles)
        assert refused.value.field == "roles"


def test_a_ppk_agency_exactly_when_the_client_is_a_ppk():
    domain.check_ppk_agency(["ppk"], "PEMPROV-JABAR")
    domain.check_ppk_agency(["observer"], None)
    for roles, ppk_agency in ((["ppk", "observer"], None), (["observer"], "PEMPROV-JABAR")):
        with pytest.raises(domain.RuleBroken) as refused:
            domain.check_ppk_agency(roles, ppk_agency)
        assert refused.value.field == "ppk_agency"


def test_scope_narrows_to_held_roles_and_never_widens():
    held = ["reporter", "observer"]
    assert domain.granted_roles(None, held) == ["observer", "reporter"]
    assert domain.granted_roles("  ", held) == ["observer", "reporter"]
    assert domain.granted_roles("reporter", held) == ["reporter"]
    assert domain.granted_roles("reporter observer reporter", held) == ["observer", "reporter"]
    for scope in ("admin", "reporter admin", "REPORTER"):
        with pytest.raises(domain.ScopeRefused):
            domain.granted_roles(scope, held)


@given(st.lists(st.sampled_from(domain.ASSIGNABLE_ROLES), min_size=1), st.text(max_size=60))
def test_a_granted_scope_is_always_within_the_held_roles(held, scope):
    try:
        granted = domain.granted_roles(scope, held)
    except domain.ScopeRefused:
        return
    assert granted and set(granted) <= set(held)


# -- reading a token request ----------------------------------------------------------------------------

def _basic(text: str) -> str:
    return "Basic " + base64.b64encode(text.encode()).decode()


def _refusal(call) -> TokenRequestError:  # noqa: ANN001
    with pytest.raises(TokenRequestError) as refused:
        call()
    return refused.value


def test_the_form_is_read_strictly():
    assert parse_form(FORM + "; charset=UTF-8", b"grant_type=client_credentials&scope=a+b") == {
        "grant_type": "client_credentials", "scope": "a b"}
    assert parse_form(None, b"") == {}
    for content_type, body, named in (
        ("application/json", b'{"grant_type": "client_credentials"}', FORM),
        (FORM, b"scope=a&scope=b", "scope"),
        (FORM, b"grant_type=%ff", "UTF-8"),
        (FORM, "&".join(f"f{i}=1" for i in range(50)).encode(), "form"),
    ):
        refused = _refusal(lambda: parse_form(content_type, body))  # noqa: B023
        assert (refused.status, refused.error) == (400, "invalid_request")
        assert named in refused.description


def test_only_the_client_credentials_grant():
    check_grant_type({"grant_type": "client_credentials"})
    assert _refusal(lambda: check_grant_type({})).error == "invalid_request"
    assert _refusal(lambda: check_grant_type({"grant_type": "password"})).error == "unsupported_grant_type"


def test_client_credentials_by_basic_or_by_the_form_but_not_both():
    # RFC 6749 §2.3.1: each part is form-urlencoded before it is joined and encoded.
    by_basic = client_credentials(_basic("my%3Aclient:s%2Bcret+x"), {})
    assert (by_basic.client_id, by_basic.secret) == ("my:client", "s+cret x")
    by_form = client_credentials("Bearer abc", {"client_id": "c", "client_secret": "s"})
    assert (by_form.client_id, by_form.secret) == ("c", "s")
    assert client_credentials(_basic("c:s"), {"client_id": "c"}).secret == "s"

    for authorization, form, status, named in (
        (None, {}, 401, None),
        ("Bearer abc", {}, 401, None),
        ("Basic ***", {}, 401, None),
        (_basic("no-colon"), {}, 401, None),
        (_basic(":secret"), {}, 401, None),
        (None, {"client_id": "c"}, 400, "client_secret"),
        (None, {"client_secret": "s"}, 400, "client_id"),
        (_basic("c:s"), {"client_secret": "s"}, 400, "client_secret"),
        (_basic("c:s"), {"client_id": "other"}, 400, "client_id"),
    ):
        refused = _refusal(lambda: client_credentials(authorization, form))  # noqa: B023
        assert refused.status == status, (authorization, form)
        if status == 401:
            assert (refused.error, refused.description) == ("invalid_client", "client authentication failed")
        else:
            assert refused.error == "invalid_request" and refused.description.startswith(named)


# -- secrets --------------------------------------------------------------------------------------------

def test_a_secret_is_kept_as_a_salted_scrypt_hash_and_checked_against_it():
    secret = credentials.new_secret()
    first, second = credentials.hash_secret(secret), credentials.hash_secret(secret)
    assert secret not in first and first != second  # a salt of its own each time
    assert first.startswith("scrypt$16384$8$1$")
    assert credentials.verify_secret(secret, first) and credentials.verify_secret(secret, second)
    assert not credentials.verify_secret(secret + "x", first)
    assert not credentials.verify_secret(secret, None)
    assert not credentials.verify_secret("x" * 10_000, first)
    assert not credentials.verify_secret(secret, "md5$abc")
    assert not credentials.verify_secret(secret, "not a hash")


def test_ids_and_secrets_are_random():
    assert len({credentials.new_client_id() for _ in range(100)}) == 100
    assert len({credentials.new_secret() for _ in range(100)}) == 100
    assert len(credentials.new_secret()) >= 40


# -- keys -----------------------------------------------------------------------------------------------

def _private_pem() -> str:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def test_the_key_set_publishes_every_trusted_key_by_its_id():
    a, b = _private_pem(), _private_pem()
    settings = SystemSettings(jwt_public_keys={"2026-b": public_pem(b), "2026-a": public_pem(a)})
    published = keys.key_set(settings)["keys"]
    assert [key["kid"] for key in published] == ["2026-a", "2026-b"]
    raw = serialization.load_pem_private_key(a.encode(), None).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert base64.urlsafe_b64decode(published[0]["x"] + "=") == raw
    assert published[0] | {"x": ""} == {"kty": "OKP", "crv": "Ed25519", "x": "", "kid": "2026-a", "use": "sig",
                                        "alg": "EdDSA"}


def test_the_issuer_refuses_a_signing_key_that_nobody_trusts():
    a, b = _private_pem(), _private_pem()
    trusted = {"2026-a": public_pem(a)}
    assert keys.check_signing_key_is_trusted(
        SystemSettings(jwt_public_keys=trusted, jwt_private_key=a, jwt_key_id="2026-a")) == "2026-a"
    with pytest.raises(RuntimeError, match="not among the trusted keys"):
        keys.check_signing_key_is_trusted(SystemSettings(jwt_public_keys=trusted, jwt_private_key=b, jwt_key_id="2026-b"))
    with pytest.raises(RuntimeError, match="is not the public key"):
        keys.check_signing_key_is_trusted(SystemSettings(jwt_public_keys=trusted, jwt_private_key=b, jwt_key_id="2026-a"))


# -- a service without the bus ----------------------------------------------------------------------------

def test_a_service_without_the_bus_gets_no_nats_user():
    assert "identity" in SERVICES_WITHOUT_BUS
    assert "identity" not in service_users()
    assert '"identity"' not in render_auth_conf()
    with pytest.raises(ValueError, match="SERVICES_WITHOUT_BUS"):
        ServiceSpec(name="identity", title="t", description="d", metadata=MetaData())
    with pytest.raises(ValueError, match="SERVICES_WITHOUT_BUS"):
        ServiceSpec(name="intake", title="t", description="d", metadata=MetaData(), uses_bus=False)
