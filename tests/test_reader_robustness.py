"""Readers never crash and stay within memory: hostile files give a clear SubmissionError
naming site and file (never a cell value) or a correct read; deterministic fuzzing."""

from __future__ import annotations

import os
import re
import zipfile

import pytest
from openpyxl import Workbook

from cohortflow.core.errors import CohortflowError, SubmissionError
from cohortflow.ingest.submission import read_submission
from tests.fuzzing import SOURCES, fuzz

#: mutants per reader in the suite: 1,000 of each take about 2 minutes on 2 idle cores (SPSS
#: ~0.15 s a file), beyond the suite's budget; `benchmarks/bench_fuzz.py` runs 1,000 per
#: reader and COHORTFLOW_FUZZ_N=1000 makes this test do the same (see README)
FUZZ_N = {"csv": 300, "xlsx": 300, "redcap": 300, "sav": 100}
SECRET = "010-1234-5678"


def _xlsx(path, rows):
    wb = Workbook()
    ws = wb.active
    ws.title = "CRF"
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path


@pytest.mark.parametrize(
    "payload", [b"", b"garbage \x00\xff not a zip", b"PK\x03\x04truncated", None]
)
def test_broken_xlsx_is_a_clear_error(tmp_path, payload):
    p = tmp_path / "S07.xlsx"
    if payload is None:  # a real workbook cut off by an e-mail gateway
        _xlsx(p, [["id", "sex"], ["P1", "M"]])
        p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    else:
        p.write_bytes(payload)
    with pytest.raises(SubmissionError, match=r"site S07, file S07\.xlsx.*(Excel|ZIP)"):
        read_submission(p, None, site="S07")


def test_csv_ten_megabyte_cell_is_read(tmp_path):
    p = tmp_path / "s.csv"
    big = "x" * 10_000_000
    p.write_text(f"id,remarks\nP1,{big}\nP2,short\n")
    res = read_submission(p, None, site="S01")
    assert len(res.data.loc[0, "remarks"]) == 10_000_000
    assert list(res.data["id"]) == ["P1", "P2"]


def test_csv_cell_beyond_limit_is_located(tmp_path):
    p = tmp_path / "s.csv"
    p.write_text("id,remarks\nP1,ok\nP2," + "y" * 17_000_000 + "\n")
    with pytest.raises(SubmissionError, match=r"site S01, file s\.csv, row 3"):
        read_submission(p, None, site="S01")


def test_nul_bytes_never_print_the_value(tmp_path):
    p = tmp_path / "s.csv"
    p.write_bytes(f"id,phone\nP1,{SECRET}\x00\n".encode())
    with pytest.raises(SubmissionError, match=r"NUL bytes \(first on line 2\)") as exc:
        read_submission(p, None, site="S01")
    assert SECRET not in str(exc.value)


def test_control_character_in_xlsx_cell_is_located_without_value(tmp_path):
    p = _xlsx(tmp_path / "s.xlsx", [["id", "phone"], ["P1", "ok"]])
    # openpyxl refuses to write control characters: plant one in the sheet XML
    src = zipfile.ZipFile(p)
    parts = {n: src.read(n) for n in src.namelist()}
    src.close()
    sheet = "xl/worksheets/sheet1.xml"
    if b">ok<" in parts[sheet]:
        parts[sheet] = parts[sheet].replace(b">ok<", f">{SECRET}&#x1;<".encode())
    else:
        parts["xl/sharedStrings.xml"] = parts["xl/sharedStrings.xml"].replace(
            b">ok<", f">{SECRET}\x01<".encode()
        )
    with zipfile.ZipFile(p, "w") as dst:
        for n, b in parts.items():
            dst.writestr(n, b)
    with pytest.raises(CohortflowError) as exc:
        read_submission(p, None, site="S08")
    assert "site S08" in str(exc.value) and SECRET not in str(exc.value)


def test_mixed_encodings_are_refused_with_line(tmp_path):
    p = tmp_path / "s.csv"
    p.write_bytes("id,성별\n".encode() + "P1,남\n".encode("cp949") + "P2,여\n".encode())
    with pytest.raises(SubmissionError, match=r"site S04, file s\.csv.*line 2"):
        read_submission(p, None, site="S04")


def _huge_sheet(path, cell_ref, header_cells):
    """A workbook whose sheet claims A1:XFD1048576 and holds a far cell (written as XML)."""
    _xlsx(path, [header_cells, ["P1", "M"]])
    src = zipfile.ZipFile(path)
    parts = {n: src.read(n) for n in src.namelist()}
    src.close()
    sheet = "xl/worksheets/sheet1.xml"
    xml = parts[sheet].decode()
    xml = xml.replace('<dimension ref="A1:B2"/>', '<dimension ref="A1:XFD1048576"/>')
    row = cell_ref.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    far = f'<row r="{row}"><c r="{cell_ref}" t="inlineStr"><is><t>z</t></is></c></row>'
    xml = xml.replace("</sheetData>", far + "</sheetData>")
    parts[sheet] = xml.encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for n, b in parts.items():
            dst.writestr(n, b)


def test_sheet_claiming_a_million_rows_is_streamed(tmp_path):
    p = tmp_path / "s.xlsx"
    _huge_sheet(p, "XFD1048576", ["id", "sex"])
    res = read_submission(p, None, site="S08")
    # the far cell is outside the header's columns: two data rows kept, nothing padded
    assert list(res.data["id"]) == ["P1"]
    assert res.data.shape == (1, 4)


def test_sheet_of_16384_header_columns_is_refused(tmp_path):
    p = tmp_path / "s.xlsx"
    _huge_sheet(p, "XFD1", ["id", "sex"])
    # the far cell is on the header row: 16,384 columns
    p2 = tmp_path / "t.xlsx"
    wb = Workbook()
    ws = wb.active
    ws.cell(1, 1, "id")
    ws.cell(1, 16384, "last")
    ws.cell(2, 1, "P1")
    wb.save(p2)
    with pytest.raises(SubmissionError, match=r"site S08, file t\.xlsx.*16,384 columns"):
        read_submission(p2, None, site="S08")


def test_formula_cells_cached_value_recorded(tmp_path):
    p = tmp_path / "s.xlsx"
    wb = Workbook()
    ws = wb.active
    ws.append(["id", "death"])
    ws.append(["P1", "=DATE(2007,12,14)"])
    ws.append(["P2", "2008-01-02"])
    wb.save(p)
    # openpyxl stores no cached value: the formula is listed as uncached, never silent
    res = read_submission(p, None, site="S08")
    assert res.formula_cells == [{"row": 2, "column": "death", "cached": False}]
    # with a cached value (as Excel saves it) the value is read and its origin recorded
    src = zipfile.ZipFile(p)
    parts = {n: src.read(n) for n in src.namelist()}
    src.close()
    sheet = "xl/worksheets/sheet1.xml"
    # openpyxl writes an empty value as <v /> or <v></v> depending on whether lxml is installed
    parts[sheet] = re.sub(
        rb"<f>DATE\(2007,12,14\)</f>(<v\s*/>|<v></v>)?",
        b"<f>DATE(2007,12,14)</f><v>39430</v>",
        parts[sheet],
    )
    assert b"<v>39430</v>" in parts[sheet]
    with zipfile.ZipFile(p, "w") as dst:
        for n, b in parts.items():
            dst.writestr(n, b)
    res = read_submission(p, None, site="S08")
    assert res.data.loc[0, "death"] == "39430"
    assert res.formula_cells == [{"row": 2, "column": "death", "cached": True}]
    assert res.describe()["formula_cells"] == res.formula_cells


@pytest.mark.parametrize("reader", sorted(SOURCES))
def test_fuzzed_submissions_read_or_clear_error(tmp_path, reader):
    n = int(os.environ.get("COHORTFLOW_FUZZ_N", FUZZ_N[reader]))
    tally = fuzz(reader, n, tmp_path)
    assert tally.tried == n
    assert tally.crashes == []
    assert tally.read + sum(tally.errors.values()) == n
    assert tally.read > 0 and tally.errors  # mutants of both kinds were produced
