"""Reading and validating reference files: CSV, JSON arrays (streamed) and JSON Lines."""

from __future__ import annotations

import io
import json

import pytest

from services.intake.reference.records import (
    FileFormatError,
    Rejections,
    RowError,
    file_format,
    iter_json_array,
    iter_rows,
    parse_agency_row,
    parse_election_row,
    parse_roster_row,
    parse_violation_row,
)

ROSTER_HEADER = "nip,name,agency_code,unit,position,province,employment_type\n"


def _rows(text: str, fmt: str = "csv", kind: str = "roster") -> list[tuple[int, dict]]:
    return list(iter_rows(io.StringIO(text), fmt, kind))


def test_a_roster_row_is_normalised_into_the_tuple_that_is_written():
    row = {"nip": "19860926 201505 1 001", "name": " Siti Rahmawati, S.Pd. ", "agency_code": "pemprov-jabar",
           "unit": "Dinas Pendidikan", "position": "", "province": "Jawa Barat", "employment_type": ""}
    assert parse_roster_row(row) == (
        "198609262015051001", "Siti Rahmawati, S.Pd.", "PEMPROV-JABAR", "Dinas Pendidikan", None, "JAWA BARAT", "PNS"
    )


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"nip": "198609262015051000"}, "nip", "serial must be 001 to 999, got 000"),
        ({"nip": "19860231201505 1 001"}, "nip", "birth date 19860231 is not a real date"),
        ({"nip": "12345"}, "nip", "must be 18 digits, got 5"),
        ({"name": "  "}, "name", "is required"),
        ({"agency_code": "Pemprov Jabar"}, "agency_code", "must be capital letters, digits, '-' or '_'"),
        ({"employment_type": "honorer"}, "employment_type", "must be PNS or PPPK"),
        ({"unit": "x" * 201}, "unit", "must be at most 200 characters"),
    ],
)
def test_an_invalid_roster_row_names_the_field_and_the_reason(change, field, reason):
    row = {"nip": "198609262015051001", "name": "Siti", "agency_code": "BKN", **change}
    with pytest.raises(RowError) as error:
        parse_roster_row(row)
    assert (error.value.field, error.value.reason) == (field, reason)


def test_csv_rows_carry_their_line_numbers_and_a_short_row_is_a_row_error():
    text = ROSTER_HEADER + "198609262015051001,Siti,BKN,,,,PNS\n\n198609262015051002,Budi,BKN\n"
    rows = _rows(text)
    assert [line for line, _ in rows] == [2, 4]
    assert rows[0][1]["name"] == "Siti"
    with pytest.raises(RowError) as error:
        parse_roster_row(rows[1][1])
    assert error.value.field == "row" and "3 values" in error.value.reason


def test_a_quoted_csv_field_may_hold_commas_and_a_bom_is_ignored():
    text = "\ufeff" + ROSTER_HEADER + '198609262015051001,"Rahmawati, S.Pd.",BKN,,,,PPPK\n'
    (_, row), = _rows(text)
    assert parse_roster_row(row)[1] == "Rahmawati, S.Pd."
    assert parse_roster_row(row)[6] == "PPPK"


def test_csv_headers_must_have_the_required_columns_and_no_unknown_ones():
    with pytest.raises(FileFormatError, match="lacks column.*agency_code"):
        _rows("nip,name\n198609262015051001,Siti\n")
    with pytest.raises(FileFormatError, match="unknown column.*golongan"):
        _rows("nip,name,agency_code,golongan\n")


def test_a_json_array_is_streamed_item_by_item_whatever_the_chunk_size():
    items = [{"nip": f"19860926201505100{i}", "name": f"Nama [{i}], \"x\" }}"} for i in range(1, 8)]
    text = json.dumps(items, indent=1)
    for chunk_size in (1, 3, 17, 4096):
        assert list(iter_json_array(io.StringIO(text), chunk_size=chunk_size)) == items
    assert list(iter_json_array(io.StringIO(" [ ] "))) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [('{"a": 1}', "one array"), ('[{"a": 1}', "not closed"), ('[{"a": 1} {"b": 2}]', "expected ','"),
     ('[{"a": tru}]', "invalid JSON")],
)
def test_a_malformed_json_file_is_refused(text, message):
    with pytest.raises(FileFormatError, match=message):
        list(iter_json_array(io.StringIO(text), chunk_size=4))


def test_json_lines_and_json_items_are_numbered_and_must_be_objects():
    assert _rows('{"nip": "1"}\n\n{"nip": "2"}\n', "jsonl") == [(1, {"nip": "1"}), (3, {"nip": "2"})]
    with pytest.raises(FileFormatError, match="item 2: expected an object"):
        _rows('[{"nip": "1"}, ["nip"]]', "json")


def test_the_format_follows_the_extension():
    from pathlib import Path

    assert [file_format(Path(n)) for n in ("a.CSV", "b.json", "c.jsonl", "d.ndjson")] == ["csv", "json", "jsonl", "jsonl"]
    with pytest.raises(FileFormatError, match="unknown extension .xlsx"):
        file_format(Path("roster.xlsx"))


def test_agency_rows_become_agency_events_and_bad_levels_are_named():
    agency = parse_agency_row({"code": "pemprov-jabar", "name": "Pemerintah Provinsi Jawa Barat", "level": "Province",
                               "province": "Jawa Barat", "ppk_title": "Gubernur Jawa Barat", "ppk_name": ""})
    assert (agency.code, agency.level, agency.province, agency.ppk_name) == (
        "PEMPROV-JABAR", "province", "JAWA BARAT", None)
    with pytest.raises(RowError) as error:
        parse_agency_row({"code": "X", "name": "X", "level": "village", "ppk_title": "Kepala Desa"})
    assert error.value.field == "level"


PERIOD = {"oversight_from": "2024-01-26", "oversight_until": "2025-08-31"}


def test_election_regions_come_from_a_semicolon_cell_or_a_json_list():
    from_csv = parse_election_row({"code": "PILKADA-2024", "name": "Pilkada", "kind": "pilkada",
                                   "voting_date": "2024-11-27", "regions": "Jawa Barat; Kota Bandung;", **PERIOD})
    from_json = parse_election_row({"code": "PILKADA-2024", "name": "Pilkada", "kind": "pilkada",
                                    "voting_date": "2024-11-27", "regions": ["JAWA BARAT", "KOTA BANDUNG"], **PERIOD})
    assert from_csv == from_json
    assert from_csv.regions == ["JAWA BARAT", "KOTA BANDUNG"]
    for change, field in (({"voting_date": "27/11/2024"}, "voting_date"), ({"code": "PILKADA24"}, "code"),
                          ({"regions": [1, 2]}, "regions"), ({"kind": "referendum"}, "kind"),
                          ({"oversight_from": None}, "oversight_from"), ({"oversight_until": "2025"}, "oversight_until"),
                          ({"oversight_until": "2024-01-01"}, "oversight_until"),
                          ({"voting_date": "2026-01-01"}, "voting_date")):
        with pytest.raises(RowError) as error:
            parse_election_row({"code": "PILKADA-2024", "name": "P", "kind": "pilkada", "voting_date": "2024-11-27",
                                **PERIOD, **change})
        assert error.value.field == field


def test_a_violation_needs_a_known_category_and_sanction_level():
    violation = parse_violation_row({"code": "etik-medsos", "category": "Ethics", "description": "Kampanye di medsos",
                                     "legal_basis": "PP 42/2004 pasal 11", "default_sanction": "MORAL_OPEN"})
    assert (violation.code, violation.category, violation.default_sanction) == ("ETIK-MEDSOS", "ethics", "moral_open")
    with pytest.raises(RowError) as error:
        parse_violation_row({"code": "X", "category": "ethics", "description": "d", "legal_basis": "l",
                             "default_sanction": "warning"})
    assert error.value.field == "default_sanction"


def test_rejections_count_everything_but_keep_only_the_first_examples():
    rejected = Rejections(keep=3)
    for line in range(2, 12):
        rejected.add(line, RowError("nip" if line % 2 else "name", "bad"))
    assert rejected.count == 10
    assert rejected.by_field == {"nip": 5, "name": 5}
    assert [line for line, _, _ in rejected.examples] == [2, 3, 4]


def test_the_shipped_seed_files_are_valid(tmp_path):
    from pathlib import Path

    from services.intake.reference.importer import read_reference

    seed = Path(__file__).resolve().parents[2] / "deploy" / "seed"
    agencies = read_reference("agencies", seed / "agencies.csv")
    assert sum(a.level == "province" for a in agencies) == 38
    assert {"BKN", "BAWASLU", "KEMENDAGRI", "KEMENPANRB", "KASN"} <= {a.code for a in agencies}
    assert all(a.ppk_title for a in agencies)
    elections = {e.code: e for e in read_reference("elections", seed / "elections.json")}
    assert {"PEMILU-2024", "PILKADA-2024", "PILKADA-2020", "PEMILU-2019"} <= set(elections)
    assert elections["PILKADA-2024"].regions and elections["PILKADA-2024"].voting_date == "2024-11-27"
    violations = read_reference("violations", seed / "violations.csv")
    assert {"ethics", "discipline"} == {v.category for v in violations}
    assert {"ETIK-MEDSOS", "DISIPLIN-KAMPANYE"} <= {v.code for v in violations}
    with (seed / "roster-sample.csv").open() as stream:
        rows = [parse_roster_row(row) for _, row in iter_rows(stream, "csv", "roster")]
    assert len(rows) == len({r[0] for r in rows}) == 2000
    assert {r[2] for r in rows} <= {a.code for a in agencies}
