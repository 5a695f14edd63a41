"""The one rule for whose cases a caller sees: ``shared.authz.scope_of`` and what it admits."""

from dataclasses import dataclass

from shared.auth import Actor
from shared.authz import EVERY_AGENCY, NO_AGENCY, AgencyScope, may_see_case, scope_of

JABAR, BANDUNG = "PEMPROV-JABAR", "PEMKOT-BANDUNG"
PPK = Actor(client_id="jabar", agency=JABAR, roles=frozenset({"ppk"}), ppk_agency=JABAR)
OBSERVER = Actor(client_id="kasn", agency="KASN", roles=frozenset({"observer"}))


def test_a_ppk_sees_only_the_agency_its_token_acts_for():
    assert scope_of(PPK, "timeline:read") == AgencyScope.of(JABAR)
    assert may_see_case(PPK, "timeline:read", JABAR)
    assert not may_see_case(PPK, "timeline:read", BANDUNG)
    assert not may_see_case(PPK, "timeline:read", None)  # a case reported without an agency is nobody's own


def test_the_agency_acted_for_is_the_ppk_claim_not_the_token_agency():
    acting_elsewhere = Actor(client_id="x", agency=JABAR, roles=frozenset({"ppk"}), ppk_agency=BANDUNG)
    assert may_see_case(acting_elsewhere, "status:read", BANDUNG)
    assert not may_see_case(acting_elsewhere, "status:read", JABAR)
    nameless = Actor(client_id="x", agency=JABAR, roles=frozenset({"ppk"}))
    assert scope_of(nameless, "status:read") == NO_AGENCY
    assert not may_see_case(nameless, "status:read", JABAR)


def test_national_readers_see_every_agency_and_none_without_the_permission():
    assert scope_of(OBSERVER, "timeline:read") == EVERY_AGENCY
    assert may_see_case(OBSERVER, "timeline:read", BANDUNG) and may_see_case(OBSERVER, "timeline:read", None)
    assert scope_of(OBSERVER, "followup:record") == NO_AGENCY
    assert scope_of(PPK, "stats:read") == NO_AGENCY
    assert scope_of(OBSERVER, "no:such-permission") == NO_AGENCY


def test_a_national_role_beside_ppk_widens_only_the_permissions_it_grants():
    both = Actor(client_id="x", agency=JABAR, roles=frozenset({"ppk", "observer"}), ppk_agency=JABAR)
    assert scope_of(both, "timeline:read") == EVERY_AGENCY
    # Only the PPK role records a follow-up, so recording stays within its own agency.
    assert scope_of(both, "followup:record") == AgencyScope.of(JABAR)


@dataclass
class Case:
    case_id: str
    agency_code: str | None


@dataclass
class Block:
    block_id: str
    case_id: str | None


def test_the_filter_over_a_civil_servants_cases_and_blocks():
    cases = [Case("C1", JABAR), Case("C2", BANDUNG), Case("C3", None)]
    blocks = [Block("B1", "C1"), Block("B2", "C2"), Block("B3", None)]
    own = scope_of(PPK, "status:read")
    seen = own.cases(cases, lambda c: c.agency_code)
    assert [c.case_id for c in seen] == ["C1"]
    assert [b.block_id for b in own.blocks(blocks, {"C1"}, lambda b: b.case_id)] == ["B1"]
    every = scope_of(OBSERVER, "status:read")
    assert every.cases(cases, lambda c: c.agency_code) == cases
    assert every.blocks(blocks, set(), lambda b: b.case_id) == blocks
    assert NO_AGENCY.cases(cases, lambda c: c.agency_code) == []


def test_what_a_caller_sees_of_one_civil_servant():
    cases = [Case("C1", JABAR), Case("C2", BANDUNG)]
    blocks = [Block("B1", "C1"), Block("B2", "C2"), Block("B3", None)]
    seen_cases, seen_blocks = scope_of(PPK, "status:read").civil_servant(cases, blocks)
    assert [c.case_id for c in seen_cases] == ["C1"] and [b.block_id for b in seen_blocks] == ["B1"]
    assert scope_of(OBSERVER, "status:read").civil_servant(cases, blocks) == (cases, blocks)
    assert NO_AGENCY.civil_servant(cases, blocks) == ([], [])
