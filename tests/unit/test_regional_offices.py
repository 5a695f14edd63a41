"""BKN's regional offices (deploy/seed/bkn_regional_offices.csv) and the scope of a bkn_regional token."""

from __future__ import annotations

import csv
from collections import Counter

from shared.auth import Actor
from shared.authz import NO_AGENCY, may_see_case, scope_of
from shared.regions import AGENCIES_FILE, SEED, agencies_of_office, offices

KANREG_III = Actor(client_id="kanreg3", agency="BKN", roles=frozenset({"bkn_regional"}), bkn_office="III")


def _agency_provinces() -> dict[str, str]:
    with (SEED / AGENCIES_FILE).open(newline="", encoding="utf-8") as handle:
        return {row["code"]: row["province"] for row in csv.DictReader(handle)}


def test_every_province_of_the_agencies_seed_is_covered_by_exactly_one_office():
    provinces = {p for p in _agency_provinces().values() if p}
    covering = Counter(p for office in offices().values() for p in office.provinces)
    assert len(offices()) == 14
    assert {p: covering[p] for p in provinces if covering[p] != 1} == {}
    # And no office names a province the agencies seed does not spell (a typo would cover nothing).
    assert set(covering) - provinces == set()


def test_an_office_oversees_the_agencies_of_its_provinces_only():
    provinces = _agency_provinces()
    region = agencies_of_office("III")
    assert region and {provinces[a] for a in region} == {"JAWA BARAT"}
    assert region == {a for a, p in provinces.items() if p == "JAWA BARAT"}
    assert "KOTA-BANDUNG" in region and "PEMPROV-JATENG" not in region
    assert agencies_of_office("I") >= {"PEMPROV-JATENG", "KOTA-SEMARANG"}
    # Central agencies (no province) belong to no office.
    assert not any("BKN" in agencies_of_office(code) for code in offices())


def test_a_regional_token_sees_its_region_and_nothing_else():
    assert may_see_case(KANREG_III, "status:read", "KOTA-BANDUNG")
    assert not may_see_case(KANREG_III, "timeline:read", "PEMPROV-JATENG")
    assert not may_see_case(KANREG_III, "timeline:read", None)
    assert scope_of(KANREG_III, "ppk_worklist:read").agencies == agencies_of_office("III")
    # Read-only: none of the writes.
    for write in ("followup:record", "case:examine", "case:verify", "block:write", "deadline:manage",
                  "report:create"):
        assert scope_of(KANREG_III, write) == NO_AGENCY, write
    # Its subscriptions (webhooks) cover its region, as its reads do.
    assert scope_of(KANREG_III, "subscription:write").agencies == agencies_of_office("III")
    # Its one action: reminding its region's PPKs.
    assert scope_of(KANREG_III, "followup:remind").agencies == agencies_of_office("III")


def test_a_regional_token_without_a_valid_office_gets_nothing():
    for office in (None, "", "XV", "iii"):
        actor = Actor(client_id="x", agency="BKN", roles=frozenset({"bkn_regional"}), bkn_office=office)
        assert scope_of(actor, "status:read") == NO_AGENCY, office
        assert not may_see_case(actor, "status:read", "KOTA-BANDUNG"), office


def test_an_account_of_a_regional_office_must_name_a_known_office():
    import pytest
    from pydantic import ValidationError

    from services.identity.schemas import ClientIn, UserIn

    person = UserIn(username="kanreg3.bkn", agency_code="BKN", roles=["bkn_regional"], bkn_office="III")
    assert person.bkn_office == "III"
    for office, roles in ((None, ["bkn_regional"]), ("XV", ["bkn_regional"]), ("III", ["observer"])):
        with pytest.raises(ValidationError) as refused:
            UserIn(username="kanreg.x", agency_code="BKN", roles=roles, bkn_office=office)
        assert refused.value.errors()[0]["loc"] == ("bkn_office",), office
        with pytest.raises(ValidationError):
            ClientIn(name="Kanreg system", agency_code="BKN", roles=roles, bkn_office=office)


def test_the_registry_places_a_new_agency_moves_one_and_a_central_one_leaves_every_office():
    from shared import regions

    saved = dict(regions._registered)
    try:
        assert regions.learn_provinces({"KAB-BARU": "JAWA BARAT"}) is True
        assert "KAB-BARU" in agencies_of_office("III")
        assert may_see_case(KANREG_III, "status:read", "KAB-BARU")
        assert regions.learn_provinces({"KAB-BARU": "JAWA BARAT"}) is False  # nothing changed
        regions.learn_provinces({"KAB-BARU": "JAWA TENGAH"})
        assert "KAB-BARU" not in agencies_of_office("III") and "KAB-BARU" in agencies_of_office("I")
        regions.learn_provinces({"KOTA-BANDUNG": None})  # the registry says central: no office's any more
        assert not any("KOTA-BANDUNG" in agencies_of_office(code) for code in offices())
    finally:
        regions._registered.clear()
        regions._registered.update(saved)
        agencies_of_office.cache_clear()
