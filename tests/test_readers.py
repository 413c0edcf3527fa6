"""Readers: CSV encodings and delimiters, XLSX sheets; lineage row numbers."""

import datetime as dt

import pytest
from openpyxl import Workbook

from cohortflow.core.errors import SubmissionError
from cohortflow.ingest.submission import read_submission

KOREAN = "환자번호,성별,진단일\nA-1,남,2011.02.28\n\nA-2,여,2011년 3월 1일\n"


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("cp949", "cp949"), ("euc-kr", "cp949")],
)
def test_csv_encodings_detected(tmp_path, encoding, expected):
    p = tmp_path / "s.csv"
    p.write_bytes(KOREAN.encode(encoding))
    res = read_submission(p, None, site="S")
    assert res.encoding == expected
    assert list(res.data.columns[:3]) == ["환자번호", "성별", "진단일"]
    assert list(res.data["성별"]) == ["남", "여"]
    assert list(res.data["_source_row"]) == [2, 4]  # blank row 3 skipped, recorded
    assert res.blank_rows_skipped == [3]


@pytest.mark.parametrize("delim", [";", "\t", ","])
def test_csv_delimiters(tmp_path, delim):
    p = tmp_path / "s.csv"
    p.write_text(
        delim.join(["id", "wbc"])
        + "\n"
        + delim.join(["1", "33,900" if delim != "," else '"33,900"'])
        + "\n"
    )
    res = read_submission(p, None, site="S")
    assert res.delimiter == delim
    assert res.data.loc[0, "wbc"] == "33,900"


def test_csv_ragged_row_is_located(tmp_path):
    p = tmp_path / "s.csv"
    p.write_text("id,sex\n1,M\n2,F,extra\n")
    with pytest.raises(SubmissionError, match=r"row 3"):
        read_submission(p, None, site="S01")


def test_xlsx_named_sheet_header_row_dates(tmp_path):
    wb = Workbook()
    wb.active.title = "Instructions"
    wb.active["A1"] = "SYNTHETIC"
    ws = wb.create_sheet("CRF")
    ws["A1"] = "CRF title"
    ws.append([])
    ws.append(["id", "dx"])
    ws.append(["P1", dt.datetime(2011, 2, 28)])
    ws.append([None, None])
    ws.append(["P2", 33.5])
    p = tmp_path / "s.xlsx"
    wb.save(p)
    res = read_submission(p, {"sheet": "CRF", "header_row": 3}, site="S")
    assert res.reader == "xlsx" and res.sheet == "CRF"
    assert res.data[["id", "dx"]].values.tolist() == [["P1", "2011-02-28"], ["P2", "33.5"]]
    assert list(res.data["_source_row"]) == [4, 6]
    assert list(res.data["_source_sheet"]) == ["CRF", "CRF"]
    with pytest.raises(SubmissionError, match="sheet 'Nope' not found"):
        read_submission(p, {"sheet": "Nope"}, site="S")


def test_xlsx_two_row_header_with_merged_groups(tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.title = "CRF"
    ws.append(["Patient", None, "HSCT", None, None])
    ws.append(["ID", "Sex", "Date", "Donor", "Remarks"])
    ws.append(["P1", "M", 40602, "MUD", None])
    ws.merge_cells("A1:B1")
    ws.merge_cells("C1:D1")
    p = tmp_path / "m.xlsx"
    wb.save(p)
    res = read_submission(p, {"sheet": "CRF", "header_row": 2, "header_rows": 2}, site="S")
    assert list(res.data.columns[:5]) == [
        "Patient / ID",
        "Patient / Sex",
        "HSCT / Date",
        "HSCT / Donor",
        "Remarks",
    ]
    assert res.data.loc[0, "HSCT / Date"] == "40602"  # an Excel serial stays text here
    one_row = read_submission(p, {"sheet": "CRF", "header_row": 1}, site="S")
    assert list(one_row.data.columns[:4]) == ["Patient", "Patient (2)", "HSCT", "HSCT (2)"]
