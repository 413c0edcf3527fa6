"""Readers that turn one site submission into a lossless all-text table with lineage."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import SubmissionError

#: Encodings tried in order; the first that decodes the whole file strictly wins.
CSV_ENCODINGS = ("utf-8-sig", "cp949")
ROW_COL = "_source_row"
SHEET_COL = "_source_sheet"


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
        }


def detect_encoding(raw: bytes) -> str:
    """Name of the first encoding in CSV_ENCODINGS that decodes ``raw`` without error."""
    for enc in CSV_ENCODINGS:
        try:
            raw.decode(enc)
        except UnicodeDecodeError:
            continue
        if enc == "utf-8-sig" and not raw.startswith(b"\xef\xbb\xbf"):
            return "utf-8"
        return enc
    raise ValueError("not decodable as UTF-8 or CP949/EUC-KR")


def sniff_delimiter(text: str, header_row: int = 1) -> str:
    """The delimiter (comma, semicolon or tab) that splits the header into the most columns
    while the following rows have the same number of cells."""
    lines = text.splitlines()[header_row - 1 : header_row + 30]
    best, best_score = ",", (-1, -1)
    for delim in (",", ";", "\t"):
        rows = [r for r in csv.reader(io.StringIO("\n".join(lines)), delimiter=delim) if r]
        if not rows:
            continue
        width = len(rows[0])
        consistent = sum(len(r) == width for r in rows[1:])
        score = (width > 1 and consistent == len(rows) - 1, width)
        if score > best_score:
            best, best_score = delim, score
    return best


def _clean_header(names: list[Any], *, site: str, file: str) -> list[str]:
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


def _frame(
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
    raw = path.read_bytes()
    try:
        enc = encoding or detect_encoding(raw)
    except ValueError as exc:
        raise SubmissionError(f"cannot decode file: {exc}", site=site, file=path.name) from None
    text = raw.decode(enc)
    if delimiter is None:
        delimiter = sniff_delimiter(text, header_row)
    records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    if len(records) < header_row:
        raise SubmissionError(f"no header on row {header_row}", site=site, file=path.name)
    header = _clean_header(records[header_row - 1], site=site, file=path.name)
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
    df, blank = _frame(header, rows, None)
    return ReadResult(
        df,
        "csv",
        encoding=enc,
        delimiter=delimiter,
        header_row=header_row,
        blank_rows_skipped=blank,
    )


def _cell_text(value: Any) -> str | None:
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


def read_xlsx(
    path: Path,
    *,
    site: str,
    sheet: str | None = None,
    header_row: int = 1,
    header_rows: int = 1,
) -> ReadResult:
    """Read one XLSX sheet as text.

    The header is row ``header_row``; with ``header_rows`` > 1 the rows above it are group
    titles (usually merged cells) and a column is named "<group> / <sub>". Merged header cells
    are filled from their top-left cell; repeated names get " (2)", " (3)"... suffixes.
    """
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=False, data_only=True)
    if sheet is None:
        ws = wb.worksheets[0]
    elif sheet in wb.sheetnames:
        ws = wb[sheet]
    else:
        raise SubmissionError(
            f"sheet {sheet!r} not found; sheets are {wb.sheetnames}", site=site, file=path.name
        )
    first = header_row - header_rows + 1
    if first < 1:
        raise SubmissionError(
            f"header_rows {header_rows} does not fit above header_row {header_row}",
            site=site,
            file=path.name,
        )
    all_rows = list(ws.iter_rows(values_only=True))
    if len(all_rows) < header_row:
        raise SubmissionError(f"no header on row {header_row}", site=site, file=path.name)
    width = max(len(all_rows[r - 1]) for r in range(first, header_row + 1))
    levels: list[list[Any]] = []
    for r in range(first, header_row + 1):
        cells = list(all_rows[r - 1]) + [None] * (width - len(all_rows[r - 1]))
        for rng in ws.merged_cells.ranges:
            if rng.min_row <= r <= rng.max_row:
                top_left = ws.cell(rng.min_row, rng.min_col).value
                for col in range(rng.min_col, min(rng.max_col, width) + 1):
                    cells[col - 1] = top_left
        levels.append(cells)
    header_cells: list[Any] = []
    for col in range(width):
        parts: list[str] = []
        for lvl in levels:
            v = lvl[col]
            text = "" if v is None else str(v).strip()
            if text and text not in parts:
                parts.append(text)
        header_cells.append(" / ".join(parts) if parts else None)
    while header_cells and header_cells[-1] is None:
        header_cells.pop()
    seen: dict[str, int] = {}
    for i, name in enumerate(header_cells):
        if name is None:
            continue
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            header_cells[i] = f"{name} ({seen[name]})"
    header = _clean_header(header_cells, site=site, file=path.name)
    rows = [
        (i, [_cell_text(v) for v in r[: len(header)]])
        for i, r in enumerate(all_rows[header_row:], start=header_row + 1)
    ]
    df, blank = _frame(header, rows, ws.title)
    return ReadResult(df, "xlsx", sheet=ws.title, header_row=header_row, blank_rows_skipped=blank)


def read_submission(path: str | Path, reader: dict[str, Any] | None, *, site: str) -> ReadResult:
    """Read a site's file with the reader named in its mapping (default: by file extension)."""
    path = Path(path)
    opts = dict(reader or {})
    fmt = opts.pop("format", None) or path.suffix.lower().lstrip(".")
    header_row = int(opts.get("header_row", 1))
    if not path.exists():
        raise SubmissionError("submitted file not found", site=site, file=str(path))
    if fmt in ("csv", "txt", "tsv"):
        return read_csv(
            path,
            site=site,
            header_row=header_row,
            delimiter=opts.get("delimiter"),
            encoding=opts.get("encoding"),
        )
    if fmt in ("xlsx", "xlsm"):
        return read_xlsx(
            path,
            site=site,
            sheet=opts.get("sheet"),
            header_row=header_row,
            header_rows=int(opts.get("header_rows", 1)),
        )
    if fmt in ("sav", "zsav"):
        from .readers_spss import read_sav

        return read_sav(path, site=site)
    if fmt == "redcap":
        from .readers_redcap import read_redcap

        if not opts.get("dictionary"):
            raise SubmissionError(
                "a REDCap export needs `reader.dictionary` (its data dictionary CSV)",
                site=site,
                file=path.name,
            )
        return read_redcap(path, site=site, dictionary=Path(opts["dictionary"]))
    raise SubmissionError(f"no reader for format {fmt!r}", site=site, file=path.name)
