"""Reading an agency's books: the headers in either language, strict dates, the stages' order, a case given
twice, and ids that are the same on every run."""

from __future__ import annotations

import datetime as dt

import pytest
from openpyxl import Workbook

from services.cli.history_rows import SheetError, read_sheet, stable_id
from services.cli.reconcile import totals

NIP = "19860926 201505 1 001"


@pytest.fixture(autouse=True)
def english():  # noqa: ANN201 - the reasons below are asserted in English (Indonesian is the default)
    from services.cli.language import choose_language

    choose_language("en")
    yield
    choose_language(None)


def test_a_reason_is_indonesian_by_default(tmp_path, monkeypatch):
    from services.cli.language import choose_language

    choose_language(None)
    monkeypatch.setenv("LANG", "C.UTF-8")
    monkeypatch.delenv("LANGUAGE", raising=False)
    sheet = _csv(tmp_path, "nip,instansi,pemilihan,pelanggaran,tanggal_laporan,hasil\n"
                           f"{NIP},BKN,PILKADA-2020,ETIK-MEDSOS,01/09/2020,dalam_proses\n")
    assert [r.reason for r in sheet.refusals] == ["tanggal_laporan: '01/09/2020' bukan tanggal dalam bentuk TTTT-BB-HH"]
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    sheet = _csv(tmp_path, "nip,instansi,pemilihan,pelanggaran,tanggal_laporan,hasil\n"
                           f"{NIP},BKN,PILKADA-2020,ETIK-MEDSOS,01/09/2020,dalam_proses\n")
    assert [r.reason for r in sheet.refusals] == ["report_date: '01/09/2020' is not a date in YYYY-MM-DD form"]


def _csv(tmp_path, text: str):  # noqa: ANN001, ANN202
    path = tmp_path / "buku.csv"
    path.write_text(text, encoding="utf-8")
    return read_sheet(path)


def test_indonesian_headers_and_every_stage(tmp_path):
    sheet = _csv(tmp_path, "NIP,Nama,Instansi,Pemilihan,Pelanggaran,Tanggal Laporan,Tanggal Rekomendasi,Tanggal SK,"
                           "Tanggal Blokir,Tanggal Buka Blokir\n"
                           f"{NIP},Siti,pemprov-jambi,PILKADA-2020,ETIK-MEDSOS;ETIK-ATRIBUT,2020-09-01,2020-09-11,"
                           "2020-10-20,2020-10-01,\n")
    assert sheet.refusals == []
    row = sheet.rows[0]
    assert (row.nip, row.agency, row.violations) == ("198609262015051001", "PEMPROV-JAMBI", ("ETIK-ATRIBUT", "ETIK-MEDSOS"))
    assert row.lift_date == dt.date(2020, 10, 20) and row.lifted_after_followup


@pytest.mark.parametrize(("cells", "reason"), [
    ("2020-9-1,,,", "report_date: '2020-9-1' is not a date in YYYY-MM-DD form"),
    ("44075,,,", "report_date: '44075' is not a date in YYYY-MM-DD form"),
    ("2020-02-30,,,", "report_date: 2020-02-30 is not a real date"),
    ("2020-09-05,2020-09-01,,", "recommendation_date: 2020-09-01 is before the report_date 2020-09-05"),
    ("2020-09-01,,2020-09-20,", "decree_date: given without a recommendation_date"),
    ("2020-09-01,2020-09-10,2020-09-20,2020-09-25", "block_date: 2020-09-25 is after the decree_date 2020-09-20 (a followed-up case is not blocked)"),
])
def test_refusals_name_the_line_and_the_reason(tmp_path, cells, reason):
    sheet = _csv(tmp_path, "nip,agency,election,violation,report_date,recommendation_date,decree_date,block_date\n"
                           f"{NIP},KEMENAG,PILKADA-2020,ETIK-MEDSOS,{cells}\n")
    assert [(r.line, r.reason) for r in sheet.refusals] == [(2, reason)]
    assert sheet.rows == []


def test_a_case_given_twice_and_a_bad_nip(tmp_path):
    sheet = _csv(tmp_path, "nip,agency,election,violation,report_date,outcome\n"
                           f"{NIP},KEMENAG,PILKADA-2020,ETIK-MEDSOS,2020-09-01,in_progress\n"
                           "19860926 201505 1 000,KEMENAG,PILKADA-2020,ETIK-MEDSOS,2020-09-01,in_progress\n"
                           f"{NIP},KEMENAG,PILKADA-2020,ETIK-ATRIBUT,2020-09-02,in_progress\n")
    assert [(r.line, r.reason) for r in sheet.refusals] == [
        (3, "nip: serial must be 001 to 999, got 000"),
        (4, "nip: this civil servant's PILKADA-2020 case is on line 2 already"),
    ]


@pytest.mark.parametrize(("cells", "reason"), [
    (",,", "outcome: required without a recommendation_date (one of rejected | ditolak, not_proven | tidak_terbukti, "
           "in_progress | dalam_proses)"),
    (",selesai,", "outcome: 'selesai' is not one of proven | terbukti, rejected | ditolak, not_proven | tidak_terbukti, "
                  "in_progress | dalam_proses"),
    (",terbukti,", "outcome: proven without a recommendation_date"),
    ("2020-09-10,ditolak,", "outcome: ditolak with a recommendation_date (a recommended case is proven)"),
    ("2020-09-10,,2020-09-10", "decision_date: given with a recommendation_date (the recommendation is the decision)"),
    (",rejected,", "decision_date: required for the outcome rejected"),
    (",tidak terbukti,", "decision_date: required for the outcome not_proven"),
    (",not_proven,2020-08-30", "decision_date: 2020-08-30 is before the report_date 2020-09-01"),
    (",dalam_proses,2020-09-05", "decision_date: given for a case in progress (nothing is decided yet)"),
])
def test_outcome_refusals_name_the_column_and_the_allowed_values(tmp_path, cells, reason):
    sheet = _csv(tmp_path, "nip,agency,election,violation,report_date,recommendation_date,hasil,tanggal_putusan\n"
                           f"{NIP},KEMENAG,PILKADA-2020,ETIK-MEDSOS,2020-09-01,{cells}\n")
    assert [(r.line, r.reason) for r in sheet.refusals] == [(2, reason)]
    assert sheet.rows == []


def test_outcomes_in_either_language(tmp_path):
    serials = iter(range(1, 10))

    def nip() -> str:
        return NIP[:-3] + f"{next(serials):03d}"

    sheet = _csv(tmp_path, "nip,agency,election,violation,report_date,recommendation_date,outcome,decision_date\n"
                           f"{nip()},KEMENAG,PILKADA-2020,ETIK-MEDSOS,2020-09-01,2020-09-10,,\n"
                           f"{nip()},KEMENAG,PILKADA-2020,ETIK-MEDSOS,2020-09-01,2020-09-10,Terbukti,\n"
                           f"{nip()},KEMENAG,PILKADA-2020,ETIK-MEDSOS,2020-09-01,,Ditolak,2020-09-04\n"
                           f"{nip()},KEMENAG,PILKADA-2020,ETIK-MEDSOS,2020-09-01,,tidak terbukti,2020-09-20\n"
                           f"{nip()},KEMENAG,PILKADA-2020,ETIK-MEDSOS,2020-09-01,,in-progress,\n")
    assert sheet.refusals == []
    assert [(r.outcome, r.decided_on) for r in sheet.rows] == [
        ("proven", None), ("proven", None), ("rejected", dt.date(2020, 9, 4)), ("not_proven", dt.date(2020, 9, 20)),
        ("in_progress", None)]


def test_a_missing_column_is_named(tmp_path):
    with pytest.raises(SheetError, match="missing column.*report_date"):
        _csv(tmp_path, "nip,agency,election,violation\n")


def test_xlsx_dates_are_real_dates_and_numbers_are_refused(tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.append(["nip", "instansi", "pemilihan", "pelanggaran", "tanggal_laporan", "tanggal_rekomendasi"])
    sheet.append([NIP, "KEMENAG", "PILKADA-2020", "ETIK-MEDSOS", dt.date(2020, 9, 1), dt.datetime(2020, 9, 9)])
    sheet.append([NIP.replace("001", "002"), "KEMENAG", "PILKADA-2020", "ETIK-MEDSOS", 44075, None])
    sheet.append([198609262015051003, "KEMENAG", "PILKADA-2020", "ETIK-MEDSOS", dt.date(2020, 9, 1), None])
    path = tmp_path / "buku.xlsx"
    book.save(path)
    read = read_sheet(path)
    assert read.rows[0].recommendation_date == dt.date(2020, 9, 9)
    assert [r.line for r in read.refusals] == [3, 4]
    assert "is a number, not a date" in read.refusals[0].reason and "a number, not text" in read.refusals[1].reason


def test_ids_are_the_same_on_every_run_and_differ_per_stage():
    day = dt.date(2020, 9, 1)
    assert stable_id("case", "198609262015051001:PILKADA-2020", day) == stable_id("case", "198609262015051001:PILKADA-2020", day)
    assert stable_id("case", "198609262015051001:PILKADA-2020", day) != stable_id("report", "198609262015051001:PILKADA-2020", day)
    assert len(stable_id("case", "x", day)) == 26


def test_totals_count_a_block_lifted_by_its_decree():
    d = dt.date(2020, 9, 1)
    cases = [
        {"report_date": d},
        {"report_date": d, "recommendation_date": d},
        {"report_date": d, "recommendation_date": d, "decree_date": d},
        {"report_date": d, "recommendation_date": d, "block_date": d},
        {"report_date": d, "recommendation_date": d, "block_date": d, "decree_date": d},
    ]
    assert totals(cases) == {"reported": 5, "recommended": 4, "followed_up": 2, "not_followed_up": 2,
                             "ever_blocked": 2, "blocked_now": 1}
