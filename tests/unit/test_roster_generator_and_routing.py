"""The seed roster generator (valid, unique, realistic, deterministic) and the routing rule."""

from __future__ import annotations

import io
import random
from collections import Counter

from services.intake.reference.generator import (
    NipRegistry,
    SeedAgency,
    generate_roster,
    make_nip,
    write_roster_csv,
)
from services.intake.reference.lookup import route
from services.intake.reference.models import RosterEntry
from services.intake.reference.records import iter_rows, parse_roster_row
from shared import nip as nip_rules
from shared.events import Envelope
from shared.events.intake import CaseOpened, ReportReceived
from shared.status_model import apply

AGENCIES = [
    SeedAgency("BKN", "central", None),
    SeedAgency("KEMENAG", "central", None),
    SeedAgency("PEMPROV-JABAR", "province", "JAWA BARAT"),
    SeedAgency("KOTA-BANDUNG", "city", "JAWA BARAT"),
    SeedAgency("PEMPROV-BALI", "province", "BALI"),
]


def test_the_same_seed_gives_the_same_roster_and_another_seed_another():
    first = list(generate_roster(500, AGENCIES, seed=7))
    assert first == list(generate_roster(500, AGENCIES, seed=7))
    assert first != list(generate_roster(500, AGENCIES, seed=8))


def test_every_generated_nip_is_valid_unique_and_starts_service_as_an_adult():
    rows = list(generate_roster(20_000, AGENCIES, seed=1))
    nips = [row[0] for row in rows]
    assert len(set(nips)) == len(nips)
    for value in nips:
        parsed = nip_rules.parse(value)
        age_at_start = parsed.service_start.year - parsed.birth_date.year
        assert 20 <= age_at_start <= 35
        assert parsed.service_start.year <= 2024


def test_the_roster_mix_follows_the_national_figures():
    rows = list(generate_roster(20_000, AGENCIES, seed=2))
    regional = sum(row[2] not in ("BKN", "KEMENAG") for row in rows) / len(rows)
    pppk = sum(row[6] == "PPPK" for row in rows) / len(rows)
    assert 0.74 < regional < 0.80
    assert 0.22 < pppk < 0.28
    # Regional staff work in their government's province.
    assert all(row[5] == "JAWA BARAT" for row in rows if row[2] in ("PEMPROV-JABAR", "KOTA-BANDUNG"))
    # Most people are alone on their birth date, start month and sex, so serial 001 dominates.
    serials = Counter(row[0][-3:] for row in rows)
    assert serials["001"] / len(rows) > 0.9


def test_a_taken_nip_moves_the_next_person_to_the_next_serial():
    registry = NipRegistry()
    first = make_nip(random.Random(5), registry)
    second = make_nip(random.Random(5), registry)  # the same draw: birth date, start month and sex
    assert first[:15] == second[:15]
    assert (first[-3:], second[-3:]) == ("001", "002")
    assert not registry.claim(first)


def test_a_generated_csv_reads_back_through_the_import_parser():
    stream = io.StringIO()
    rows = list(generate_roster(300, AGENCIES, seed=3))
    assert write_roster_csv(iter(rows), stream) == 300
    stream.seek(0)
    assert [parse_roster_row(row) for _, row in iter_rows(stream, "csv", "roster")] == rows


def _entry() -> RosterEntry:
    return RosterEntry(nip="198609262015051001", name="Siti", agency_code="KOTA-BANDUNG", unit=None, position=None,
                       province="JAWA BARAT", employment_type="PNS")


def test_the_roster_decides_the_agency_and_fills_a_missing_province():
    routed = route(_entry(), roster_loaded=True, agency_code="PEMPROV-JABAR", province=None)
    assert (routed.agency_code, routed.province, routed.nip_in_roster) == ("KOTA-BANDUNG", "JAWA BARAT", True)
    # The reporter's province (where it happened) is kept when given.
    assert route(_entry(), roster_loaded=True, agency_code=None, province="BALI").province == "BALI"


def test_a_nip_missing_from_a_loaded_roster_is_accepted_and_flagged_and_unknown_without_a_roster():
    missing = route(None, roster_loaded=True, agency_code="BKN", province=None)
    assert (missing.agency_code, missing.nip_in_roster) == ("BKN", False)
    assert route(None, roster_loaded=False, agency_code="BKN", province=None).nip_in_roster is None


def _event(model, event_id: str, **overrides) -> Envelope:
    data = {**model.examples[0], **overrides}
    return Envelope(id=event_id, source=f"/sbt/{model.producer}", type=model.event_type, time="2024-10-15T03:00:00Z",
                    subject=data["case_id"], data=data)


def test_the_shared_status_shows_whether_the_nip_is_in_the_roster():
    status = apply(None, _event(CaseOpened, "e1", nip_in_roster=False))
    assert status.nip_in_roster is False
    # A later report that does not know (no roster then) keeps what was known; one that knows updates it.
    status = apply(status, _event(ReportReceived, "e2", nip_in_roster=None))
    assert status.nip_in_roster is False
    status = apply(status, _event(ReportReceived, "e3", report_id="R2", nip_in_roster=True))
    assert status.nip_in_roster is True
    # Events from before the field existed leave it unknown.
    legacy = {k: v for k, v in CaseOpened.examples[0].items() if k != "nip_in_roster"}
    envelope = Envelope(id="e4", source="/sbt/intake", type=CaseOpened.event_type, time="2024-10-15T03:00:00Z",
                        subject=legacy["case_id"], data=legacy)
    assert apply(None, envelope).nip_in_roster is None
