"""Tests for cohortflow.render.export: xlsx round trip, sheet names and byte-identical files."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from cohortflow.core.xlsx import FIXED_TIMESTAMP, sheet_names, write_xlsx
from cohortflow.render.export import write_html_table, write_markdown_table

TABLE = pd.DataFrame(
    {
        "Characteristic": ["Age ≥ 10 years", "Sex: male", "WBC ≥ 50"],
        "n": np.array([12, 30, 7], dtype=np.int64),
        "percent": [18.8, 46.9, np.nan],
        "diagnosed": [pd.Timestamp("2019-03-01"), pd.NaT, pd.Timestamp("2020-12-31")],
        "flag": [True, False, True],
        "note": ["", None, "see text"],
    }
)
SURVIVAL = pd.DataFrame({"time": [12.0, 24.0], "efs": [0.91, 0.84], "lower": [0.85, 0.77]})


def _rows(ws) -> list[tuple]:
    return [tuple(r) for r in ws.iter_rows(values_only=True)]


def test_xlsx_round_trips_values_and_sheet_names(tmp_path: Path):
    path = write_xlsx(
        {"Table 1": TABLE, "EFS at 1 and 2 years": SURVIVAL},
        tmp_path / "sub" / "tables.xlsx",
        title="Study X",
        footnotes=["n, number of patients", "", "WBC, white blood cells (10⁹/L)"],
    )
    assert path == tmp_path / "sub" / "tables.xlsx"
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Table 1", "EFS at 1 and 2 years"]
    assert wb.properties.title == "Study X"
    ws = wb["Table 1"]
    rows = _rows(ws)
    assert rows[0][0] == "Study X" and ws["A1"].font.b
    assert rows[2] == tuple(TABLE.columns)
    assert all(cell.font.b for cell in ws[3])
    assert rows[3] == ("Age ≥ 10 years", 12, 18.8, dt.datetime(2019, 3, 1), True, None)
    assert rows[4] == ("Sex: male", 30, 46.9, None, False, None)
    assert rows[5] == ("WBC ≥ 50", 7, None, dt.datetime(2020, 12, 31), True, "see text")
    assert ws["D4"].number_format == "yyyy-mm-dd"
    # footnotes two rows under the table, empty ones skipped
    assert [r[0] for r in rows[6:]] == [
        None,
        "n, number of patients",
        "WBC, white blood cells (10⁹/L)",
    ]
    assert ws.freeze_panes == "A4"
    # columns fit their contents, not the footnotes
    assert ws.column_dimensions["A"].width == len("Age ≥ 10 years") + 2
    assert ws.column_dimensions["B"].width == 8
    survival = _rows(wb["EFS at 1 and 2 years"])
    assert survival[2:5] == [("time", "efs", "lower"), (12, 0.91, 0.85), (24, 0.84, 0.77)]


def test_xlsx_without_title_starts_with_the_header_and_can_write_the_index(tmp_path: Path):
    frame = SURVIVAL.set_index("time")
    path = write_xlsx({"s": frame}, tmp_path / "t.xlsx", index=True)
    rows = _rows(openpyxl.load_workbook(path)["s"])
    assert rows[:3] == [("time", "efs", "lower"), (12, 0.91, 0.85), (24, 0.84, 0.77)]


def test_two_writes_are_byte_identical(tmp_path: Path):
    tables = {"Table 1": TABLE, "EFS": SURVIVAL}
    a = write_xlsx(tables, tmp_path / "a.xlsx", title="T", footnotes=["f"])
    b = write_xlsx(tables, tmp_path / "b.xlsx", title="T", footnotes=["f"])
    assert a.read_bytes() == b.read_bytes()
    # nothing depends on the clock: fixed entry times and document dates
    with zipfile.ZipFile(a) as zf:
        assert {info.date_time for info in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        names = zf.namelist()
        assert names == sorted(names)
        core = zf.read("docProps/core.xml").decode()
    stamp = FIXED_TIMESTAMP.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert core.count(stamp) == 2
    wb = openpyxl.load_workbook(a)
    assert wb.properties.created == wb.properties.modified == FIXED_TIMESTAMP
    # a different table gives different bytes
    c = write_xlsx({"Table 1": TABLE.head(2), "EFS": SURVIVAL}, tmp_path / "c.xlsx", title="T")
    assert c.read_bytes() != a.read_bytes()


def test_overwrite_leaves_no_temporary_files(tmp_path: Path):
    path = tmp_path / "x.xlsx"
    write_xlsx({"a": SURVIVAL}, path)
    write_xlsx({"a": TABLE}, path)
    assert [p.name for p in tmp_path.iterdir()] == ["x.xlsx"]
    assert openpyxl.load_workbook(path)["a"]["A1"].value == "Characteristic"


def test_sheet_names_are_valid_and_distinct():
    names = sheet_names(
        [
            "Table 2: event-free survival by risk group and centre",
            "a/b?",
            "a-b-",
            "A-B-",
            "[x]*",
            "'quoted'",
            "",
            "History",
            "x" * 40,
            "x" * 40,
        ]
    )
    assert names == [
        "Table 2- event-free survival by",
        "a-b-",
        "a-b- (2)",
        "A-B- (3)",
        "-x--",
        "quoted",
        "Sheet",
        "History (2)",
        "x" * 31,
        "x" * 27 + " (2)",
    ]
    assert all(len(n) <= 31 for n in names)
    assert len({n.casefold() for n in names}) == len(names)


def test_sheet_names_survive_openpyxl(tmp_path: Path):
    tables = {name: SURVIVAL for name in ["a:b", "A:B", "x" * 40, "History"]}
    path = write_xlsx(tables, tmp_path / "n.xlsx")
    assert openpyxl.load_workbook(path).sheetnames == sheet_names(list(tables))


@pytest.mark.parametrize("tables", [{}, {"a": [1, 2]}])
def test_invalid_tables_raise(tmp_path: Path, tables):
    with pytest.raises((ValueError, TypeError)):
        write_xlsx(tables, tmp_path / "bad.xlsx")


def test_markdown_and_html(tmp_path: Path):
    md = write_markdown_table(SURVIVAL, tmp_path / "t.md", "EFS", ["CI, confidence interval"])
    assert md.read_text(encoding="utf-8") == (
        "## EFS\n\n| time | efs | lower |\n|---|---|---|\n| 12.0 | 0.91 | 0.85 |\n"
        "| 24.0 | 0.84 | 0.77 |\n\nCI, confidence interval  \n"
    )
    html = write_html_table(TABLE, tmp_path / "t.html", "Table <1>", ["n & %"])
    text = html.read_text(encoding="utf-8")
    assert "<h2>Table &lt;1&gt;</h2>" in text and "n &amp; %" in text
    assert "<th>Characteristic</th>" in text and "see text" in text
    again = write_html_table(TABLE, tmp_path / "u.html", "Table <1>", ["n & %"])
    assert again.read_bytes() == html.read_bytes()
