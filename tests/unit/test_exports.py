"""The dashboard's files: CSV that Excel reads right and that cannot smuggle a formula, XLSX with real dates."""

from __future__ import annotations

import datetime as dt
import io

from openpyxl import load_workbook

from services.status.dashboard.exports import to_csv, to_xlsx

ROWS = [["01CASE", "198609262015051001", dt.date(2024, 11, 4), 3, "=HYPERLINK(\"http://x\")"],
        ["01CAS2", "198609262015051002", None, 0, "Kota Bandung, Jawa Barat"]]
HEADERS = ["Kasus", "NIP", "Batas waktu", "Terlambat", "Alasan"]


def test_csv_has_a_byte_order_mark_quotes_commas_and_defuses_formulas():
    body = to_csv(HEADERS, ROWS)
    assert body.startswith("\ufeff".encode())
    lines = body.decode("utf-8-sig").splitlines()
    assert lines[0] == "Kasus,NIP,Batas waktu,Terlambat,Alasan"
    assert lines[1].startswith("01CASE,198609262015051001,2024-11-04,3,")
    assert "'=HYPERLINK" in lines[1]
    assert lines[2].endswith(',"Kota Bandung, Jawa Barat"')


def test_xlsx_keeps_dates_as_dates_and_defuses_formulas():
    sheet = load_workbook(io.BytesIO(to_xlsx("overdue", HEADERS, ROWS))).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[0] == HEADERS
    assert values[1][2] == dt.datetime(2024, 11, 4) and values[1][3] == 3
    assert values[1][4].startswith("'=")
    assert sheet.title == "overdue"
