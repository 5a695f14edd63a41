"""Reference data is law at the door (services/intake/reference/checks.py): the rule, without I/O."""

from __future__ import annotations

import datetime as dt

from services.intake.reference.checks import ElectionRef, References, refusal, today_anywhere
from services.intake.schemas import ReportIn
from shared.i18n.zones import province_zones
from tests.e2e.reports import report_body

D = dt.date
NOW = dt.datetime(2024, 11, 30, 3, 0, tzinfo=dt.UTC)
REFS = References(
    elections={
        "PILKADA-2024": ElectionRef("PILKADA-2024", frozenset({"JAWA BARAT", "KABUPATEN SLEMAN"}),
                                    D(2024, 1, 26), D(2025, 8, 31)),
        "PEMILU-1999": ElectionRef("PEMILU-1999", frozenset({"JAWA BARAT"}), None, None),
    },
    agencies=frozenset({"PEMPROV-JABAR", "KAB-SLEMAN"}),
    violations=frozenset({"ETIK-MEDSOS"}),
    region_provinces={"KABUPATEN SLEMAN": "DI YOGYAKARTA"},
    provinces=frozenset(province_zones()),
)


def _errors(now: dt.datetime = NOW, **overrides) -> list[tuple[str, str]]:
    problem = refusal(ReportIn.model_validate(report_body(**overrides)), REFS, now=now)
    return [] if problem is None else [(e["field"], e["reason"]) for e in problem.errors]


def test_a_report_on_known_references_within_the_period_is_filed():
    assert _errors() == []
    # A province whose only election is a regency's or a city's Pilkada is within that election.
    assert _errors(province="DI YOGYAKARTA", agency_code="KAB-SLEMAN") == []
    assert _errors(province="jawa barat") == []  # names are compared as the reference writes them


def test_every_unknown_reference_is_refused_naming_its_field():
    assert _errors(election_code="PEMILU-1955") == [("election_code", "no election PEMILU-1955 in the reference data")]
    assert _errors(agency_code="NO-SUCH-AGENCY") == [("agency_code", "no agency NO-SUCH-AGENCY in the reference data")]
    assert _errors(violation_codes=["ETIK-MEDSOS", "NO-SUCH-VIOLATION"]) == [
        ("violation_codes.1", "no violation type NO-SUCH-VIOLATION in the catalogue")]
    assert _errors(province="ATLANTIS") == [("province", "no province ATLANTIS")]
    assert _errors(province="BALI") == [("province", "BALI is not a region of PILKADA-2024")]
    # All at once: each named.
    fields = [field for field, _ in _errors(election_code="PEMILU-1955", agency_code="X", province="ATLANTIS",
                                           violation_codes=["Y"])]
    assert fields == ["election_code", "agency_code", "violation_codes.0", "province"]


def test_the_incident_date_lies_within_the_oversight_period_and_not_in_the_future():
    assert _errors(incident_date="2024-01-25") == [
        ("incident_date", "is before the oversight period of PILKADA-2024 (2024-01-26 to 2025-08-31)")]
    assert _errors(incident_date="2024-01-26") == []
    later = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert _errors(later, incident_date="2025-09-01") == [
        ("incident_date", "is after the oversight period of PILKADA-2024 (2024-01-26 to 2025-08-31)")]
    assert _errors(incident_date="2024-12-01") == [("incident_date", "must not be in the future")]
    assert _errors(election_code="PEMILU-1999", incident_date="1999-05-01") == [
        ("election_code", "PEMILU-1999 has no oversight period in the reference data")]


def test_today_is_the_latest_date_anywhere_in_the_country():
    # 16:30 UTC on 30 Nov is already 1 Dec in Papua (WIT, UTC+9): a report of an incident that day is not
    # "in the future", though it is still 30 Nov in Jakarta.
    evening = dt.datetime(2024, 11, 30, 16, 30, tzinfo=dt.UTC)
    assert today_anywhere(evening) == D(2024, 12, 1)
    assert _errors(evening, incident_date="2024-12-01") == []
    assert _errors(evening, incident_date="2024-12-02") == [("incident_date", "must not be in the future")]
