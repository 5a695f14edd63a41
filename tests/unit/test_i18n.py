"""The words and formats of the pages people read: every msgid has an Indonesian translation, each province
has its time zone, numbers and dates are written the Indonesian way, and "late" is worded with plurals."""

from __future__ import annotations

import datetime as dt
import re

from babel.messages.pofile import read_po

from services.status.dashboard.present import Presenter, Reference
from shared.i18n import LOCALE_DIR, choose, compile_catalogue, translations
from shared.i18n.formatting import Formatter, short_id
from shared.i18n.zones import province_zones, zone_of

PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _catalogue():
    with (LOCALE_DIR / "id" / "LC_MESSAGES" / "messages.po").open("rb") as source:
        return read_po(source, locale="id")


def test_every_msgid_has_an_indonesian_translation_with_the_same_placeholders():
    messages = [m for m in _catalogue() if m.id]
    assert len(messages) > 100
    for message in messages:
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(s.strip() for s in strings), f"no Indonesian for {ids[0]!r}"
        assert not message.fuzzy, f"fuzzy translation of {ids[0]!r}"
        assert set(PLACEHOLDER.findall(strings[0])) == set(PLACEHOLDER.findall(ids[0])), ids[0]


def test_the_catalogue_extracted_from_the_code_is_the_one_translated():
    """``make messages`` was run: the checked-in template has exactly the catalogue's msgids."""
    with (LOCALE_DIR.parent / "messages.pot").open("rb") as source:
        template = {m.id for m in read_po(source) if m.id}
    assert template == {m.id for m in _catalogue() if m.id}


def test_the_mo_is_compiled_when_missing(tmp_path, monkeypatch):
    import shared.i18n as i18n

    po = LOCALE_DIR / "id" / "LC_MESSAGES" / "messages.po"
    (tmp_path / "id" / "LC_MESSAGES").mkdir(parents=True)
    (tmp_path / "id" / "LC_MESSAGES" / "messages.po").write_bytes(po.read_bytes())
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    assert compile_catalogue("id")[:4] in (b"\xde\x12\x04\x95", b"\x95\x04\x12\xde")
    assert (tmp_path / "id" / "LC_MESSAGES" / "messages.mo").exists()


def test_indonesian_by_default_and_english_by_choice():
    assert choose(None, None) == "id" and choose("xx", None) == "id"
    assert choose("en", "id") == "en" and choose(None, "en") == "en" and choose("ID", "en") == "id"
    assert translations("id").gettext("awaiting PPK") == "menunggu PPK"
    assert translations("en").gettext("awaiting PPK") == "awaiting PPK"


def test_every_province_has_one_of_the_three_zones():
    zones = province_zones()
    assert len(set(zones) - {"DAERAH ISTIMEWA YOGYAKARTA"}) == 38
    assert set(zones.values()) == {"WIB", "WITA", "WIT"}
    assert (zone_of("JAWA BARAT"), zone_of("Nusa Tenggara Timur"), zone_of("PAPUA SELATAN")) == ("WIB", "WITA", "WIT")
    assert zone_of("DI YOGYAKARTA") == "WIB" and zone_of("BALI") == "WITA" and zone_of("MALUKU UTARA") == "WIT"
    assert zone_of(None) == "WIB"


def test_times_are_shown_in_the_provinces_zone_with_its_name_and_without_seconds():
    moment = "2026-12-02T03:04:05.123456Z"
    indonesian = Formatter("id")
    assert indonesian.datetime(moment, "JAWA TIMUR") == "2 Des 2026 10.04 WIB"
    assert indonesian.datetime(moment, "SULAWESI SELATAN") == "2 Des 2026 11.04 WITA"
    assert indonesian.datetime(moment, "PAPUA") == "2 Des 2026 12.04 WIT"
    # Past midnight in the east is the next day there.
    assert Formatter("en").datetime(dt.datetime(2026, 12, 16, 16, 30, tzinfo=dt.UTC), "MALUKU") == \
        "Dec 17, 2026 1:30\u202fAM WIT"


def test_numbers_and_dates_in_the_indonesian_way():
    indonesian, english = Formatter("id"), Formatter("en")
    assert indonesian.number(1005) == "1.005" and english.number(1005) == "1,005"
    assert indonesian.date(dt.date(2026, 12, 16)) == "16 Des 2026"
    assert indonesian.date("2026-08-17") == "17 Agu 2026"
    assert english.date(dt.date(2026, 12, 16)) == "Dec 16, 2026"


def test_late_by_working_days_singular_and_plural():
    assert Formatter("en").working_days_late(1) == "1 working day late"
    assert Formatter("en").working_days_late(3) == "3 working days late"
    assert Formatter("id").working_days_late(1) == "terlambat 1 hari kerja"
    assert Formatter("id").working_days_late(1005) == "terlambat 1.005 hari kerja"


def test_names_not_codes():
    names = Reference(
        agencies={"PEMPROV-JAMBI": {"name": "Pemerintah Provinsi Jambi", "level": "province", "ppk_title": "Gubernur Jambi"},
                  "KAB-BOGOR": {"name": "Pemerintah Kabupaten Bogor", "level": "regency", "ppk_title": "Bupati Bogor"},
                  "KOTA-BANDUNG": {"name": "Pemerintah Kota Bandung", "level": "city", "ppk_title": "Wali Kota Bandung",
                                   "ppk_name": "Fulan"}},
        violations={"ETIK-MEDSOS": {"description": "Kampanye melalui media sosial"}},
    )
    show = Presenter("id", names)
    assert show.ppk("PEMPROV-JAMBI") == "Gubernur Jambi" and show.ppk("KAB-BOGOR") == "Bupati Bogor"
    assert show.ppk("KOTA-BANDUNG") == "Wali Kota Bandung (Fulan)"
    assert show.ppk("PEMKOT-X") == "PPK PEMKOT-X"  # not registered (yet): the code, never a blank
    assert show.agency("KAB-BOGOR") == "Pemerintah Kabupaten Bogor"
    assert show.violation("ETIK-MEDSOS") == "Kampanye melalui media sosial"
    assert show.province("NUSA TENGGARA TIMUR") == "Nusa Tenggara Timur" and show.province("DKI JAKARTA") == "DKI Jakarta"
    assert show.sanction("moral_open") == "sanksi moral terbuka"
    assert show.sanction("moderate") == "hukuman disiplin sedang"
    assert Presenter("en").sanction("severe") == "severe disciplinary sanction"
    assert short_id("01JABCDEFGHJKMNPQRSTVWXYZ0") == "STVW-XYZ0"
