"""Realistic report bodies for end-to-end tests."""

from __future__ import annotations

import datetime as dt
import random

_rng = random.Random()


def random_nip(rng: random.Random = _rng) -> str:
    birth = dt.date(1965, 1, 1) + dt.timedelta(days=rng.randrange(0, 12000))
    start_year = birth.year + rng.randrange(20, 35)
    return f"{birth:%Y%m%d}{min(start_year, 2024):04d}{rng.randrange(1, 13):02d}{rng.choice('12')}{rng.randrange(1, 1000):03d}"


# For each election of the shipped seed (deploy/seed/elections.json): an incident date within its oversight
# period, and a province among its regions with that province's government. Reference data is law at the
# door, so a report for another election gets these unless the test says otherwise.
ELECTION_DEFAULTS: dict[str, dict[str, str]] = {
    "PILKADA-2024": {"incident_date": "2024-10-14", "province": "JAWA BARAT", "agency_code": "PEMPROV-JABAR"},
    "PEMILU-2024": {"incident_date": "2024-01-20", "province": "JAWA BARAT", "agency_code": "PEMPROV-JABAR"},
    "PILKADA-2020": {"incident_date": "2020-10-20", "province": "JAMBI", "agency_code": "PEMPROV-JAMBI"},
    "PEMILU-2019": {"incident_date": "2019-03-20", "province": "JAWA BARAT", "agency_code": "PEMPROV-JABAR"},
    "PILKADA-2018": {"incident_date": "2018-05-15", "province": "JAWA BARAT", "agency_code": "PEMPROV-JABAR"},
    "PILKADA-2017": {"incident_date": "2017-01-20", "province": "BANTEN", "agency_code": "PEMPROV-BANTEN"},
    "PILKADA-2015": {"incident_date": "2015-11-10", "province": "JAMBI", "agency_code": "PEMPROV-JAMBI"},
    "PEMILU-2014": {"incident_date": "2014-03-20", "province": "JAWA BARAT", "agency_code": "PEMPROV-JABAR"},
}


def report_body(nip: str | None = None, **overrides) -> dict:
    body = {
        "nip": nip or random_nip(),
        "agency_code": "PEMPROV-JABAR",
        "election_code": "PILKADA-2024",
        "violation_codes": ["ETIK-MEDSOS"],
        "incident_date": "2024-10-14",
        "incident_place": "Kota Bandung",
        "province": "JAWA BARAT",
        "description": "Membagikan konten kampanye salah satu pasangan calon di media sosial.",
        "evidence_urls": ["https://example.org/bukti/1.png"],
        "reporter": {"category": "bawaslu", "name": "Siti Rahmawati", "contact": "siti@example.org"},
    }
    body.update(ELECTION_DEFAULTS.get(overrides.get("election_code"), {}))
    body.update(overrides)
    return body
