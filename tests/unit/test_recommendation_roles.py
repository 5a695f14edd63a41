"""Which agency examines and verifies on a given day is configuration with dates, not code."""

import datetime as dt
import json

import pytest
from pydantic import ValidationError

from services.recommendation import roles
from services.recommendation.roles import NotInRole
from services.recommendation.settings import RecommendationSettings

LAST_KASN_DAY = dt.date(2024, 8, 23)
FIRST_BKN_DAY = dt.date(2024, 8, 24)


@pytest.fixture
def shipped():
    return roles.from_settings(RecommendationSettings(env="test"))


def test_kasn_examines_until_23_august_2024_inclusive_and_bkn_is_refused(shipped):
    assert shipped.check("examining_authority", "KASN", LAST_KASN_DAY).agency == "KASN"
    assert shipped.check("examining_authority", "KASN", dt.date(2023, 3, 21)).agency == "KASN"
    with pytest.raises(NotInRole, match="BKN is not the examining authority on 2024-08-23; on that day it is KASN"):
        shipped.check("examining_authority", "BKN", LAST_KASN_DAY)


def test_bkn_examines_from_24_august_2024_and_kasn_is_refused(shipped):
    assignment = shipped.check("examining_authority", "BKN", FIRST_BKN_DAY)
    assert assignment.unit == "Deputi Bidang Pengawasan dan Pengendalian"
    assert shipped.examining_authority(dt.date(2025, 1, 2)).agency == "BKN"
    with pytest.raises(NotInRole, match="KASN is not the examining authority on 2024-08-24; on that day it is BKN"):
        shipped.check("examining_authority", "KASN", FIRST_BKN_DAY)


def test_the_task_force_verifies_and_kasn_leaves_it_with_its_dissolution(shipped):
    assert {a.agency for a in shipped.holders("verifier", LAST_KASN_DAY)} == {
        "BAWASLU", "KEMENPANRB", "KEMENDAGRI", "BKN", "KASN"}
    assert "KASN" not in {a.agency for a in shipped.holders("verifier", FIRST_BKN_DAY)}
    with pytest.raises(NotInRole, match="PEMPROV-JABAR is not the verifier"):
        shipped.check("verifier", "PEMPROV-JABAR", FIRST_BKN_DAY)


def test_another_configuration_moves_the_handover_without_code(tmp_path):
    moved = [
        {"role": "examining_authority", "agency": "KASN", "valid_until": "2024-09-30"},
        {"role": "examining_authority", "agency": "BKN", "valid_from": "2024-10-01"},
    ]
    inline = roles.from_settings(RecommendationSettings(env="test", role_assignments=moved))
    assert inline.check("examining_authority", "KASN", FIRST_BKN_DAY).agency == "KASN"
    path = tmp_path / "roles.json"
    path.write_text(json.dumps({"assignments": moved}))
    from_file = roles.from_settings(RecommendationSettings(env="test", role_assignments_file=path))
    with pytest.raises(NotInRole):
        from_file.check("examining_authority", "BKN", dt.date(2024, 9, 30))
    assert from_file.examining_authority(dt.date(2024, 10, 1)).agency == "BKN"


def test_a_day_without_an_examining_authority_is_refused_plainly():
    gap = roles.parse([{"role": "examining_authority", "agency": "BKN", "valid_from": "2024-08-24"}])
    with pytest.raises(NotInRole, match="no agency is configured as examining authority on 2024-08-01"):
        gap.check("examining_authority", "BKN", dt.date(2024, 8, 1))


def test_two_examining_authorities_on_one_day_is_a_configuration_error():
    with pytest.raises(ValueError, match="one agency at a time"):
        roles.parse([
            {"role": "examining_authority", "agency": "KASN", "valid_until": "2024-08-24"},
            {"role": "examining_authority", "agency": "BKN", "valid_from": "2024-08-24"},
        ])


def test_malformed_assignments_are_refused():
    with pytest.raises(ValidationError):
        roles.parse([{"role": "examining_authority", "agency": "BKN", "valid_from": "2024-08-24",
                      "valid_until": "2024-08-01"}])
    with pytest.raises(ValidationError):
        roles.parse([{"role": "president", "agency": "BKN"}])
