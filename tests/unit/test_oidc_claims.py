"""The OpenID provider's claims mapped to SBT roles and agency (pure), the settings checked at start, and
the sealed transaction that carries state, nonce and PKCE verifier through the browser."""

from __future__ import annotations

import time

import pytest

from services.identity.oidc import RelyingParty
from services.identity.oidc_claims import ClaimRules, Refused, person, subject_of
from services.identity.settings import IdentitySettings


def rules(**overrides) -> ClaimRules:
    settings = IdentitySettings(env="test", oidc_role_map={"sbt-ppk": "ppk", "pengamat": ["observer"], "blokir": "blocker",
                                                   "admin-sbt": ["admin", "observer"]},
                        oidc_agency_claim="instansi", **overrides)
    return ClaimRules.from_settings(settings)


def test_mapped_values_grant_roles_and_anything_else_nothing():
    found = person({"sub": "u1", "groups": ["staf", "sbt-ppk", "pengamat"], "instansi": "pemprov-jabar",
                    "name": "Dedi", "preferred_username": "dedi"}, rules())
    assert found.roles == ["observer", "ppk"] and found.agency == "PEMPROV-JABAR"
    assert found.ppk_agency == "PEMPROV-JABAR"  # a PPK acts for its own agency unless a claim says otherwise
    assert found.subject == "oidc:u1" and found.display_name == "Dedi" and found.username == "dedi"
    with pytest.raises(Refused) as refused:
        person({"sub": "u2", "groups": ["staf", "SBT-PPK"], "instansi": "BKN"}, rules())  # values are exact
    assert refused.value.title == "no role" and refused.value.subject == "oidc:u2"
    with pytest.raises(Refused, match="is mapped to an SBT role"):
        person({"sub": "u3", "instansi": "BKN"}, rules())  # no claim at all


def test_a_string_claim_nested_paths_and_namespaced_names():
    assert person({"sub": "a", "groups": "pengamat", "instansi": "BKN"}, rules()).roles == ["observer"]
    nested = rules(oidc_role_claim="realm_access.roles")
    assert person({"sub": "a", "realm_access": {"roles": ["pengamat"]}, "instansi": "BKN"}, nested).roles == ["observer"]
    namespaced = rules(oidc_role_claim="https://sso.example.go.id/roles")
    assert person({"sub": "a", "https://sso.example.go.id/roles": ["pengamat"], "instansi": "BKN"},
                  namespaced).roles == ["observer"]


def test_the_agency_from_its_claim_or_the_providers_fixed_one_and_the_ppk_agency_claim():
    with pytest.raises(Refused, match="names no agency"):
        person({"sub": "a", "groups": ["pengamat"]}, rules())
    assert person({"sub": "a", "groups": ["pengamat"]}, rules(oidc_agency="BKN")).agency == "BKN"
    with pytest.raises(Refused, match="not an agency code"):
        person({"sub": "a", "groups": ["pengamat"], "instansi": "Pemprov Jawa Barat!"}, rules())
    ppk = person({"sub": "a", "groups": ["sbt-ppk"], "instansi": "KEMENDAGRI", "ppk_untuk": "PEMKOT-BANDUNG"},
                 rules(oidc_ppk_agency_claim="ppk_untuk"))
    assert ppk.agency == "KEMENDAGRI" and ppk.ppk_agency == "PEMKOT-BANDUNG"
    assert person({"sub": "a", "groups": ["pengamat"], "instansi": "BKN"}, rules()).ppk_agency is None


def test_admins_and_blockers_need_a_second_factor_named_in_amr():
    for group in ("blokir", "admin-sbt"):
        with pytest.raises(Refused, match="second factor"):
            person({"sub": "a", "groups": [group], "instansi": "BKN", "amr": ["pwd"]}, rules())
        assert person({"sub": "a", "groups": [group], "instansi": "BKN", "amr": ["pwd", "otp"]}, rules()).roles
    assert person({"sub": "a", "groups": ["blokir"], "instansi": "BKN", "amr": ["hwk"]}, rules()).roles == ["blocker"]


def test_a_long_subject_is_hashed_to_fit_and_stays_the_same():
    long = "x" * 200
    assert subject_of(long) == subject_of(long) and len(subject_of(long)) == 64
    assert subject_of("short") == "oidc:short"


def test_a_role_map_naming_no_person_role_stops_the_start():
    with pytest.raises(ValueError, match="SBT_OIDC_ROLE_MAP"):
        ClaimRules.from_settings(IdentitySettings(env="test", oidc_role_map={"x": "personnel"}))
    with pytest.raises(ValueError, match="SBT_OIDC_ROLE_MAP"):
        ClaimRules.from_settings(IdentitySettings(env="test", oidc_role_map={"x": "superuser"}))
    with pytest.raises(ValueError, match="SBT_OIDC_AGENCY"):
        ClaimRules.from_settings(IdentitySettings(env="test", oidc_agency="bkn pusat"))


def test_production_wants_https_for_the_provider_and_the_callback():
    keys = {"jwt_public_keys": {"k": "pem"}, "master_key": "m", "ledger_private_key": "l"}
    with pytest.raises(ValueError, match="SBT_OIDC_ISSUER"):
        IdentitySettings(env="production", oidc_issuer="http://sso.example.go.id", **keys)
    with pytest.raises(ValueError, match="SBT_OIDC_REDIRECT_URI"):
        IdentitySettings(env="production", oidc_issuer="https://sso.example.go.id", **keys)


def test_the_transaction_is_sealed_and_expires(tmp_path):
    party = RelyingParty(IdentitySettings(env="test", data_dir=tmp_path, oidc_issuer="http://127.0.0.1:1",
                                  oidc_client_id="sbt"))
    sealed = party._seal_transaction({"state": "s-1", "nonce": "n", "code_verifier": "v", "exp": time.time() + 60})
    assert "s-1" not in sealed and party._open_transaction(sealed)["state"] == "s-1"
    flipped = sealed[:10] + ("A" if sealed[10] != "A" else "B") + sealed[11:]
    with pytest.raises(Refused, match="not one this service started"):
        party._open_transaction(flipped)
    other = RelyingParty(IdentitySettings(env="test", data_dir=tmp_path / "other", oidc_issuer="http://127.0.0.1:1",
                                  oidc_client_id="sbt"))  # another signing key: another seal
    with pytest.raises(Refused, match="not one this service started"):
        other._open_transaction(sealed)
    stale = party._seal_transaction({"state": "s", "exp": time.time() - 1})
    with pytest.raises(Refused, match="took too long"):
        party._open_transaction(stale)


def test_a_regional_office_comes_from_its_claim_and_must_be_a_known_office():
    kanreg = _regional(oidc_bkn_office_claim="kanreg")
    found = person({"sub": "k", "groups": ["kanreg"], "instansi": "BKN", "kanreg": " iii "}, kanreg)
    assert found.roles == ["bkn_regional"] and found.bkn_office == "III"
    # Another role's office claim is ignored: only a regional office reads for one.
    assert person({"sub": "o", "groups": ["pengamat"], "instansi": "BKN", "kanreg": "III"}, kanreg).bkn_office is None
    for claims in ({}, {"kanreg": ""}, {"kanreg": "XV"}, {"kanreg": ["IIII"]}):
        with pytest.raises(Refused) as refused:
            person({"sub": "k", "groups": ["kanreg"], "instansi": "BKN", **claims}, kanreg)
        assert refused.value.title == "no regional office", claims
    with pytest.raises(Refused, match="SBT_OIDC_BKN_OFFICE_CLAIM is unset"):
        person({"sub": "k", "groups": ["kanreg"], "instansi": "BKN", "kanreg": "III"},
               _regional())


def _regional(**overrides) -> ClaimRules:
    return ClaimRules.from_settings(IdentitySettings(
        env="test", oidc_role_map={"kanreg": "bkn_regional", "pengamat": "observer"}, oidc_agency_claim="instansi",
        **overrides))
