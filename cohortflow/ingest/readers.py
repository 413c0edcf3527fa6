"""Readers that turn one site submission into a lossless all-text table with lineage."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import load_workbook
from openpyxl.utils.cell import range_boundaries

from cohortflow.core.errors import SubmissionError

#: Encodings tried in order; the first that decodes the whole file strictly wins.
CSV_ENCODINGS = ("utf-8-sig", "cp949")
ROW_COL = "_source_row"
SHEET_COL = "_source_sheet"
#: Bounds that keep a hostile or broken submission from exhausting memory: a file, a cell,
#: the header width and the number of data rows a reader accepts (a clear error beyond).
MAX_FILE_BYTES = 512 * 1024 * 1024
MAX_CELL_CHARS = 16 * 1024 * 1024
MAX_COLUMNS = 2_000
MAX_DATA_ROWS = 200_000
#: Control characters no CRF cell can hold (XML 1.0 forbids them; openpyxl refuses them).
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


@dataclass
class ReadResult:
    """All-text table (None = empty cell) plus how it was read."""

    data: pd.DataFrame
    reader: str
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    header_row: int = 1
    blank_rows_skipped: list[int] = field(default_factory=list)
    #: XLSX cells holding a formula: {"row", "column", "cached"}; cached False = no stored
    #: result (the cell is read as empty and reported as a finding, never silently missing).
    formula_cells: list[dict[str, Any]] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        """Reader facts for the manifest and logs (no cell values)."""
        return {
            "reader": self.reader,
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "sheet": self.sheet,
            "header_row": self.header_row,
            "rows_read": int(len(self.data)),
            "columns": [c for c in self.data.columns if not c.startswith("_source_")],
            "blank_rows_skipped": self.blank_rows_skipped,
            **({"formula_cells": self.formula_cells} if self.formula_cells else {}),
        }


def detect_encoding(raw: bytes) -> str:
    """Name of the first encoding in CSV_ENCODINGS that decodes ``raw`` without error.

    Raises ValueError naming the line of the first byte UTF-8 cannot decode (a file mixing
    encodings, e.g. UTF-8 rows pasted into a CP949 file, is refused, never half-decoded).
    """
    first_bad = None
    for enc in CSV_ENCODINGS:
        try:
            raw.decode(enc)
        except UnicodeDecodeError as exc:
            if first_bad is None:
                first_bad = raw.count(b"\n", 0, exc.start) + 1
            continue
        if enc == "utf-8-sig" and not raw.startswith(b"\xef\xbb\xbf"):
            return "utf-8"
        return enc
    raise ValueError(
        f"not decodable as UTF-8 or CP949/EUC-KR (first undecodable byte on line {first_bad}; "
        "mixed encodings?). Save the file as UTF-8 CSV"
    )


def sniff_delimiter(text: str, header_row: int = 1) -> str:
    """The delimiter (comma, semicolon or tab) that splits the header into the most columns
    while the following rows have the same number of cells."""
    lines = text.splitlines()[header_row - 1 : header_row + 30]
    best, best_score = ",", (-1, -1)
    for delim in (",", ";", "\t"):
        try:
            with _csv_field_limit():
                sample = csv.reader(io.StringIO("\n".join(lines)), delimiter=delim)
                rows = [r for r in sample if r]
        except csv.Error:  # a malformed sample: this delimiter cannot be judged
            continue
        if not rows:
            continue
        width = len(rows[0])
        consistent = sum(len(r) == width for r in rows[1:])
        score = (width > 1 and consistent == len(rows) - 1, width)
        if score > best_score:
            best, best_score = delim, score
    return best


def clean_header(names: list[Any], *, site: str, file: str) -> list[str]:
    out: list[str] = []
    for i, name in enumerate(names, start=1):
        text = "" if name is None else str(name).strip()
        if not text:
            text = f"column_{i}"
        if text in out:
            raise SubmissionError(
                f"duplicate column header {text!r}; rename one of them", site=site, file=file
            )
        out.append(text)
    return out


def text_frame(
    header: list[str], rows: list[tuple[int, list[str | None]]], sheet: str | None
) -> tuple[pd.DataFrame, list[int]]:
    kept, blank = [], []
    width = len(header)
    for rownum, cells in rows:
        cells = (list(cells) + [None] * width)[:width]
        if all(c is None or str(c).strip() == "" for c in cells):
            blank.append(rownum)
            continue
        kept.append(
            [None if c is None or str(c).strip() == "" else str(c).strip() for c in cells]
            + [rownum, sheet or ""]
        )
    df = pd.DataFrame(kept, columns=[*header, ROW_COL, SHEET_COL], dtype=object)
    df[ROW_COL] = df[ROW_COL].astype("int64")
    return df, blank


def read_csv(
    path: Path,
    *,
    site: str,
    header_row: int = 1,
    delimiter: str | None = None,
    encoding: str | None = None,
) -> ReadResult:
    """Read a CSV: encoding detected (UTF-8, UTF-8 BOM, CP949), delimiter sniffed (, ; tab)."""
    text, enc = decode_text(path.read_bytes(), site=site, file=path.name, encoding=encoding)
    if delimiter is None:
        delimiter = sniff_delimiter(text, header_row)
    records = csv_records(text, delimiter, site=site, file=path.name)
    if len(records) < header_row:
        raise SubmissionError(f"no header on row {header_row}", site=site, file=path.name)
    if len(records[header_row - 1]) > MAX_COLUMNS:
        raise SubmissionError(
            f"header has {len(records[header_row - 1]):,} columns (more than {MAX_COLUMNS:,}): "
            "wrong delimiter or not a CRF export",
            site=site,
            file=path.name,
        )
    header = clean_header(records[header_row - 1], site=site, file=path.name)
    rows = []
    for i, rec in enumerate(records[header_row:], start=header_row + 1):
        if len(rec) > len(header) and any(x.strip() for x in rec[len(header) :]):
            raise SubmissionError(
                f"row has {len(rec)} cells but the header has {len(header)}",
                site=site,
                file=path.name,
                row=i,
            )
        rows.append((i, rec))
    df, blank = text_frame(header, rows, None)
    return ReadResult(
        df,
        "csv",
        encoding=enc,
        delimiter=delimiter,
        header_row=header_row,
        blank_rows_skipped=blank,
    )


def decode_text(
    raw: bytes, *, site: str | None, file: str, encoding: str | None = None
) -> tuple[str, str]:
    """Text of a submitted CSV file and its encoding (given or detected); a SubmissionError
    naming site, file and line for NUL bytes (binary or UTF-16 data) or undecodable bytes."""
    if b"\x00" in raw:
        line = raw.count(b"\n", 0, raw.index(b"\x00")) + 1
        raise SubmissionError(
            f"file holds NUL bytes (first on line {line}): a binary, UTF-16 or damaged file, "
            "not a CSV text file; save it as UTF-8 CSV",
            site=site,
            file=file,
        )
    try:
        enc = encoding or detect_encoding(raw)
        return raw.decode(enc), enc
    except (ValueError, LookupError) as exc:  # UnicodeDecodeError is a ValueError
        if isinstance(exc, UnicodeDecodeError):  # a given encoding: locate, never quote
            line = raw.count(b"\n", 0, exc.start) + 1
            exc = ValueError(f"not decodable as {encoding} (line {line})")
        raise SubmissionError(f"cannot decode file: {exc}", site=site, file=file) from None


def csv_records(text: str, delimiter: str, *, site: str | None, file: str) -> list[list[str]]:
    """All records of a CSV text; cells up to MAX_CELL_CHARS, at most MAX_DATA_ROWS rows.
    A malformed file is a SubmissionError naming the line (never a cell value)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    out: list[list[str]] = []
    try:
        with _csv_field_limit():
            for rec in reader:
                out.append(rec)
                if len(out) > MAX_DATA_ROWS + 50:
                    raise SubmissionError(
                        f"more than {MAX_DATA_ROWS:,} rows: not a CRF export of one site",
                        site=site,
                        file=file,
                    )
    except csv.Error as exc:
        # csv messages describe structure ("field larger than field limit"), not cell values
        raise SubmissionError(
            f"not a well-formed CSV at line {reader.line_num} ({exc}; a cell longer than "
            f"{MAX_CELL_CHARS:,} characters or a stray quote?)",
            site=site,
            file=file,
            row=reader.line_num,
        ) from None
    return out


@contextmanager
def _csv_field_limit() -> Iterator[None]:
    """Allow cells up to MAX_CELL_CHARS (the csv default is 128 KiB) and restore it."""
    limit = csv.field_size_limit()
    csv.field_size_limit(MAX_CELL_CHARS)
    try:
        yield
    finally:
        csv.field_size_limit(limit)


def cell_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


_MERGE_RE = re.compile(rb"<(?:\w+:)?mergeCell\b[^>]*?\bref=\"([A-Z]+[0-9]+:[A-Z]+[0-9]+)\"")


def _merged_ranges(archive: zipfile.ZipFile, member: str) -> list[tuple[int, int, int, int]]:
    """(min_row, min_col, max_row, max_col) of every merged range of a sheet, found by
    streaming its XML in chunks (read-only openpyxl does not expose merged cells)."""
    refs: set[bytes] = set()
    tail = b""
    with archive.open(member) as src:
        while chunk := src.read(1 << 20):
            buf = tail + chunk
            refs.update(m.group(1) for m in _MERGE_RE.finditer(buf))
            tail = buf[-256:]
    out = []
    for ref in sorted(refs):
        min_col, min_row, max_col, max_row = range_boundaries(ref.decode("ascii"))
        out.append((min_row, min_col, max_row, max_col))
    return out


def read_xlsx(
    path: Path,
    *,
    site: str,
    sheet: str | None = None,
    header_row: int = 1,
    header_rows: int = 1,
) -> ReadResult:
    """Read one XLSX sheet as text, streamed (openpyxl read-only mode, bounded memory).

    The header is row ``header_row``; with ``header_rows`` > 1 the rows above it are group
    titles (usually merged cells) and a column is named "<group> / <sub>". Merged header cells
    are filled from their top-left cell; repeated names get " (2)", " (3)"... suffixes. The
    header is located and checked before the body is read; only the header's columns of
    non-blank rows are kept. A formula cell gives its cached (last computed) value and is
    listed in ``formula_cells``; one without a cached value is listed with ``cached: False``.
    """
    try:
        return _read_xlsx(
            path, site=site, sheet=sheet, header_row=header_row, header_rows=header_rows
        )
    except SubmissionError:
        raise
    except Exception as exc:  # noqa: BLE001 - any parser failure is a broken file, not a bug
        # only the exception type: parser messages may quote cell contents
        raise SubmissionError(
            f"cannot read the file as an Excel workbook ({type(exc).__name__}): damaged, "
            "truncated or not an .xlsx file; ask the site to export it again",
            site=site,
            file=path.name,
        ) from None


def _read_xlsx(
    path: Path, *, site: str, sheet: str | None, header_row: int, header_rows: int
) -> ReadResult:
    first = header_row - header_rows + 1
    if first < 1:
        raise SubmissionError(
            f"header_rows {header_rows} does not fit above header_row {header_row}",
            site=site,
            file=path.name,
        )
    if not zipfile.is_zipfile(path):
        raise SubmissionError(
            "not an Excel .xlsx workbook (not a ZIP container): damaged, truncated or "
            "another format renamed to .xlsx; ask the site to export it again",
            site=site,
            file=path.name,
        )
    values_wb = load_workbook(path, read_only=True, data_only=True)
    formulas_wb = load_workbook(path, read_only=True, data_only=False)
    try:
        if sheet is None:
            ws, fs = values_wb.worksheets[0], formulas_wb.worksheets[0]
        elif sheet in values_wb.sheetnames:
            ws, fs = values_wb[sheet], formulas_wb[sheet]
        else:
            raise SubmissionError(
                f"sheet {sheet!r} not found; sheets are {values_wb.sheetnames}",
                site=site,
                file=path.name,
            )
        # the stored dimension may claim A1:XFD1048576; read only the cells that exist
        ws.reset_dimensions()
        fs.reset_dimensions()
        return _stream_sheet(
            ws, fs, values_wb, site=site, file=path.name, first=first, header_row=header_row
        )
    finally:
        values_wb.close()
        formulas_wb.close()


def _header_levels(
    top: list[tuple[Any, ...]], merged: list[tuple[int, int, int, int]], first: int, header_row: int
) -> list[list[Any]]:
    """The header rows ``first``..``header_row`` with merged cells filled by their top-left
    value, all as wide as the widest row or merged range."""
    width = max(
        [len(top[r - 1]) for r in range(first, header_row + 1)]
        + [min(m[3], MAX_COLUMNS + 1) for m in merged]
    )
    levels: list[list[Any]] = []
    for r in range(first, header_row + 1):
        row = list(top[r - 1][:width]) + [None] * (width - len(top[r - 1]))
        for min_row, min_col, max_row, max_col in merged:
            if min_row <= r <= max_row and min_col <= width:
                src = top[min_row - 1] if min_row <= len(top) else ()
                top_left = src[min_col - 1] if min_col <= len(src) else None
                for col in range(min_col, min(max_col, width) + 1):
                    row[col - 1] = top_left
        levels.append(row)
    return levels


def _joined_header(levels: list[list[Any]], *, site: str, file: str, header_row: int) -> list[str]:
    """One name per column: the distinct texts of its header levels joined by ' / ', repeated
    names numbered, then cleaned (``clean_header``)."""
    header_cells: list[Any] = []
    for col in range(len(levels[0]) if levels else 0):
        parts: list[str] = []
        for lvl in levels:
            v = lvl[col]
            text = "" if v is None else str(v).strip()
            if text and text not in parts:
                parts.append(text)
        header_cells.append(" / ".join(parts) if parts else None)
    while header_cells and header_cells[-1] is None:
        header_cells.pop()
    if len(header_cells) > MAX_COLUMNS:
        raise SubmissionError(
            f"header row {header_row} has {len(header_cells):,} columns (more than "
            f"{MAX_COLUMNS:,}): wrong sheet or header_row?",
            site=site,
            file=file,
        )
    seen: dict[str, int] = {}
    for i, name in enumerate(header_cells):
        if name is None:
            continue
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            header_cells[i] = f"{name} ({seen[name]})"
    return clean_header(header_cells, site=site, file=file)


def _stream_sheet(
    ws: Any, fs: Any, wb: Any, *, site: str, file: str, first: int, header_row: int
) -> ReadResult:
    values = ws.iter_rows(values_only=True)
    cells = fs.iter_rows()
    top: list[tuple[Any, ...]] = []
    for vals, _ in zip(values, cells, strict=False):
        top.append(vals)
        if len(top) == header_row:
            break
    if len(top) < header_row:
        raise SubmissionError(f"no header on row {header_row}", site=site, file=file)
    merged = [
        m
        for m in _merged_ranges(wb._archive, ws._worksheet_path)
        if m[0] <= header_row and m[2] >= first
    ]
    levels = _header_levels(top, merged, first, header_row)
    header = _joined_header(levels, site=site, file=file, header_row=header_row)
    n = len(header)
    rows: list[tuple[int, list[str | None]]] = []
    pending_blank: list[tuple[int, list[str | None]]] = []
    formula_cells: list[dict[str, Any]] = []
    kept = 0
    for i, (vals, fcells) in enumerate(zip(values, cells, strict=False), start=header_row + 1):
        texts = [cell_text(v) for v in vals[:n]]
        if all(t is None or t.strip() == "" for t in texts):
            pending_blank.append((i, texts))
            continue
        for j, cell in enumerate(fcells[:n]):
            if getattr(cell, "data_type", None) == "f":
                cached = j < len(texts) and texts[j] is not None
                formula_cells.append({"row": i, "column": header[j], "cached": cached})
        kept += 1
        if kept > MAX_DATA_ROWS:
            raise SubmissionError(
                f"more than {MAX_DATA_ROWS:,} data rows: not a CRF export of one site",
                site=site,
                file=file,
            )
        rows.extend(pending_blank)  # blank rows inside the data are listed as skipped
        pending_blank = []
        rows.append((i, texts))
    df, blank = text_frame(header, rows, ws.title)
    return ReadResult(
        df,
        "xlsx",
        sheet=ws.title,
        header_row=header_row,
        blank_rows_skipped=blank,
        formula_cells=formula_cells,
    )
