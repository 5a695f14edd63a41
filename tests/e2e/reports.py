"""Realistic report bodies for end-to-end tests."""

from __future__ import annotations

import datetime as dt
import random

_rng = random.Random()


def random_nip(rng: random.Random = _rng) -> str:
    birth = dt.date(1965, 1, 1) + dt.timedelta(days=rng.randrange(0, 12000))
    start_year = birth.year + rng.randrange(20, 35)
    return f"{birth:%Y%m%d}{min(start_year, 2024):04d}{rng.randrange(1, 13):02d}{rng.choice('12')}{rng.randrange(1, 1000):03d}"


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
    body.update(overrides)
    return body
