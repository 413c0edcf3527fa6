"""Tables for people as Word documents (DOCX), byte-for-byte reproducible.

Clinicians submit manuscripts in Word, so every table written as Markdown/HTML is also
written as DOCX with the same journal layout: a bold title, the table with a bold header
row between horizontal rules (no vertical lines, as journals print tables), further
tables under their own headings, and the footnotes in small type underneath.

python-docx stamps the save time into ``docProps/core.xml`` and into every zip entry;
both are pinned here (``FIXED_TIMESTAMP``, 1980-01-01 zip times, sorted entries), so the
same tables always give the same bytes.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from docx import Document
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Pt

from cohortflow.core.io import pinned_zip

__all__ = ["FIXED_TIMESTAMP", "write_docx"]

#: Creation, modification and print time written into every document's properties.
FIXED_TIMESTAMP = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
_FONT = "Arial"
_FONT_EAST_ASIA = "Malgun Gothic"  # Word's Korean UI font; Hangul labels render in Word


def _rule(cell_or_tbl_pr: OxmlElement, edges: dict[str, str]) -> None:
    """Set single-line borders (edge -> size in eighths of a point) on a table or cell."""
    borders = OxmlElement("w:tblBorders" if cell_or_tbl_pr.tag == qn("w:tblPr") else "w:tcBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        el = OxmlElement(f"w:{edge}")
        size = edges.get(edge)
        el.set(qn("w:val"), "single" if size else "nil")
        if size:
            el.set(qn("w:sz"), size)
            el.set(qn("w:space"), "0")
            el.set(qn("w:color"), "000000")
        borders.append(el)
    cell_or_tbl_pr.append(borders)


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value)


def _add_table(doc: Document, df: pd.DataFrame) -> None:
    """The table in three-line journal layout: rules above and below the header, and at
    the bottom; bold header; 9 pt text."""
    table = doc.add_table(rows=1 + len(df), cols=max(1, len(df.columns)))
    _rule(table._tbl.tblPr, {"top": "8", "bottom": "8"})
    for j, col in enumerate(df.columns):
        cell = table.rows[0].cells[j]
        run = cell.paragraphs[0].add_run(_text(col))
        run.bold = True
        run.font.size = Pt(9)
        tc_pr = cell._tc.get_or_add_tcPr()
        _rule(tc_pr, {"bottom": "6"})
    values = df.astype(object).where(df.notna(), "").to_numpy()
    for i, row in enumerate(values, start=1):
        cells = table.rows[i].cells
        for j, value in enumerate(row):
            run = cells[j].paragraphs[0].add_run(_text(value))
            run.font.size = Pt(9)


def _pinned(data: bytes) -> bytes:
    """The document zip with sorted entries and fixed entry times."""
    return pinned_zip(data)


def write_docx(
    df: pd.DataFrame,
    path: Path | str,
    title: str,
    footnotes: Sequence[str] = (),
    more: Sequence[tuple[str, pd.DataFrame]] = (),
) -> Path:
    """Write ``df`` as a Word document: bold ``title``, the table (journal layout), the
    ``more`` tables each under its heading, then ``footnotes`` (empty ones skipped).

    Values are printed as ``str`` gives them (missing values empty); format numbers
    beforehand. The document properties carry ``title``, author "cohortflow" and
    ``FIXED_TIMESTAMP``; identical input gives identical bytes. Returns the path; parent
    directories are created.
    """
    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = _FONT
    style.font.size = Pt(10)
    r_fonts = style.element.get_or_add_rPr().get_or_add_rFonts()
    r_fonts.set(qn("w:eastAsia"), _FONT_EAST_ASIA)
    head = doc.add_paragraph()
    run = head.add_run(title)
    run.bold = True
    run.font.size = Pt(12)
    _add_table(doc, df)
    for heading, table in more:
        sub = doc.add_paragraph()
        sub_run = sub.add_run(heading)
        sub_run.bold = True
        _add_table(doc, table)
    for note in footnotes:
        if note:
            para = doc.add_paragraph()
            note_run = para.add_run(str(note))
            note_run.font.size = Pt(8)
    props = doc.core_properties
    props.title = title
    props.author = props.last_modified_by = "cohortflow"
    props.created = props.modified = props.last_printed = FIXED_TIMESTAMP
    props.revision = 1
    buffer = io.BytesIO()
    doc.save(buffer)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_pinned(buffer.getvalue()))
    return path
