"""The demo's scenario is decided up front from its seed: realistic, reproducible, and valid input."""

import random
from collections import Counter

from services.cli.demo import VIOLATION_MIX, lighter_level, load_catalogue, load_roster, plan, synthetic_nip
from shared import nip as nip_rules


def test_the_same_seed_plays_the_same_scenario_over_distinct_civil_servants():
    roster, catalogue = load_roster(), load_catalogue()
    first = plan(random.Random(5), roster, catalogue, 300)
    again = plan(random.Random(5), roster, catalogue, 300)
    assert [(p.person, p.violation.code, p.verification, p.followup) for p in first] == \
        [(p.person, p.violation.code, p.verification, p.followup) for p in again]
    assert len({p.person.nip for p in first}) == 300
    assert len({p.person.province for p in first}) > 10 and len({p.person.agency_code for p in first}) > 10


def test_the_violation_mix_follows_pemilu_2019_and_the_catalogue():
    catalogue = load_catalogue()
    assert {code for code, _ in VIOLATION_MIX} <= set(catalogue)
    plans = plan(random.Random(1), load_roster(), catalogue, 1500)
    share = Counter(p.violation.code for p in plans)
    social_media = (share["ETIK-MEDSOS"] + share["ETIK-MEDSOS-INTERAKSI"]) / len(plans)
    assert 0.24 < social_media < 0.36  # 40 of 133 in 2019
    assert all(p.followup is None for p in plans if not p.proven)
    assert all(not p.proven for p in plans if p.verification != "accepted")


def test_more_cases_than_the_roster_get_valid_stand_ins():
    roster = load_roster()[:10]
    plans = plan(random.Random(3), roster, load_catalogue(), 25)
    assert len({p.person.nip for p in plans}) == 25
    assert all(nip_rules.is_valid(p.person.nip) for p in plans)
    assert all(nip_rules.is_valid(synthetic_nip(random.Random(seed))) for seed in range(200))


def test_a_lighter_sanction_stays_in_its_category():
    assert lighter_level("discipline", "moderate") == "light"
    assert lighter_level("discipline", "light") is None
    assert lighter_level("ethics", "moral_open") == "moral_closed"


def test_the_demo_leaves_west_javas_ppk_cases_awaiting_it_within_the_deadline():
    """The README signs in as the PPK of PEMPROV-JABAR after `sbt demo`: there must be work for it."""
    for seed in (2019, 7):
        plans = plan(random.Random(seed), load_roster(), load_catalogue(), 300 if seed == 2019 else 40)
        pending = [p for p in plans if p.followup == "pending"]
        assert len(pending) == 2 and {p.person.agency_code for p in pending} == {"PEMPROV-JABAR"}
        assert all(p.verification == "accepted" and p.proven and not p.lighter for p in pending)
        assert len({p.person.nip for p in plans}) == len(plans)
