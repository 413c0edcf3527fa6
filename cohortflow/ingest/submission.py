"""One site submission read with the reader its mapping names (CSV, XLSX, SPSS, REDCap)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from cohortflow.core.errors import SubmissionError
from cohortflow.ingest.readers import (
    CONTROL_CHARS,
    MAX_FILE_BYTES,
    ROW_COL,
    SHEET_COL,
    ReadResult,
    read_csv,
    read_xlsx,
)
from cohortflow.ingest.redcap import read_redcap
from cohortflow.ingest.spss import read_sav


def read_submission(path: str | Path, reader: dict[str, Any] | None, *, site: str) -> ReadResult:
    """Read a site's file with the reader named in its mapping (default: by file extension).

    Never crashes on a broken or hostile file: every failure is a SubmissionError naming
    site and file (and row and column where known), never a cell value. A cell holding a
    control character (NUL and the like) is refused with its row and column.
    """
    path = Path(path)
    opts = dict(reader or {})
    fmt = opts.pop("format", None) or path.suffix.lower().lstrip(".")
    header_row = int(opts.get("header_row", 1))
    if not path.is_file():
        raise SubmissionError("submitted file not found", site=site, file=str(path))
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise SubmissionError(
            f"file is {size:,} bytes (more than {MAX_FILE_BYTES:,}): not a CRF export",
            site=site,
            file=path.name,
        )
    res = _read_as(path, fmt, opts, header_row, site=site)
    _refuse_control_characters(res.data, site=site, file=path.name)
    return res


def _refuse_control_characters(df: pd.DataFrame, *, site: str, file: str) -> None:
    """SubmissionError naming row and column of the first cell (or header) holding a control
    character other than tab, CR and LF (it cannot be written to XLSX/XML outputs)."""
    for name in df.columns:
        if CONTROL_CHARS.search(str(name)):
            raise SubmissionError(
                "a column header holds a control character (NUL or similar): damaged file?",
                site=site,
                file=file,
            )
    cols = [c for c in df.columns if c not in (ROW_COL, SHEET_COL)]
    cells = df[cols].to_numpy().ravel()
    if not CONTROL_CHARS.search("\n".join(c for c in cells if isinstance(c, str))):
        return
    for name in cols:
        col = df[name]
        hit = col.notna() & col.astype(str).str.contains(CONTROL_CHARS, regex=True)
        if hit.any():
            raise SubmissionError(
                "cell holds a control character (NUL or similar): damaged file or pasted "
                "binary data; correct the cell",
                site=site,
                file=file,
                row=int(df.loc[hit, ROW_COL].iloc[0]),
                column=str(name),
            )


def _read_as(
    path: Path, fmt: str, opts: dict[str, Any], header_row: int, *, site: str
) -> ReadResult:
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
        return read_sav(path, site=site)
    if fmt == "redcap":
        if not opts.get("dictionary"):
            raise SubmissionError(
                "a REDCap export needs `reader.dictionary` (its data dictionary CSV)",
                site=site,
                file=path.name,
            )
        return read_redcap(path, site=site, dictionary=Path(opts["dictionary"]))
    raise SubmissionError(f"no reader for format {fmt!r}", site=site, file=path.name)
