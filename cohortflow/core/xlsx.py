"""Excel workbooks, byte-for-byte reproducible.

``write_xlsx`` writes one sheet per table with a bold header, fitted column widths and
footnotes under the table. openpyxl stamps the save time into ``docProps/core.xml``
and into every zip entry; both are pinned here, so the same tables always give the
same bytes.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.xml.constants import ARC_CORE
from openpyxl.xml.functions import tostring

from cohortflow.core.cellsafe import xlsx_text
from cohortflow.core.io import atomic_write, pinned_zip

__all__ = [
    "FIXED_TIMESTAMP",
    "sheet_names",
    "write_xlsx",
]

#: Creation and modification time written into every workbook (document properties).
FIXED_TIMESTAMP = dt.datetime(2000, 1, 1)

_MAX_SHEET_NAME = 31
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\\x00-\x1f]")
_MIN_WIDTH, _MAX_WIDTH = 8, 60  # column widths, in characters


def sheet_names(names: Sequence[str]) -> list[str]:
    """Valid, distinct Excel sheet names for ``names``, in order.

    Characters Excel forbids (``[]:*?/\\`` and control characters) become "-",
    leading and trailing apostrophes and spaces are dropped, names are cut to 31
    characters, an empty name becomes "Sheet" and the reserved "History" gets a
    suffix. Names equal to an earlier one, ignoring case as Excel does, get " (2)",
    " (3)", ... (cut so the whole stays within 31 characters).
    """
    out: list[str] = []
    taken: set[str] = set()
    for raw in names:
        base = _BAD_SHEET_CHARS.sub("-", str(raw)).strip(" '")[:_MAX_SHEET_NAME].strip(" '")
        if not base:
            base = "Sheet"
        name, k = base, 1
        while name.casefold() in taken or name.casefold() == "history":
            k += 1
            suffix = f" ({k})"
            name = base[: _MAX_SHEET_NAME - len(suffix)].rstrip(" '") + suffix
        taken.add(name.casefold())
        out.append(name)
    return out


def _cell_value(value: Any) -> Any:
    """A DataFrame value as openpyxl can store it; missing values become empty cells."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else (str(value) if math.isinf(value) else float(value))
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime().replace(tzinfo=None)
    if isinstance(value, dt.datetime | dt.date | dt.time | str):
        return value
    if isinstance(value, np.datetime64):
        return None if np.isnat(value) else pd.Timestamp(value).to_pydatetime()
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def _display_width(value: Any) -> int:
    """Characters a value takes in a cell (longest line)."""
    if value is None:
        return 0
    if isinstance(value, float):
        text = f"{value:.6g}"
    elif isinstance(value, dt.datetime):
        text = value.strftime("%Y-%m-%d" if value.time() == dt.time() else "%Y-%m-%d %H:%M")
    else:
        text = str(value)
    return max((len(line) for line in text.split("\n")), default=0)


def _write_sheet(
    ws: Worksheet,
    df: pd.DataFrame,
    *,
    title: str | None,
    footnotes: Sequence[str],
    index: bool,
) -> None:
    """One table: optional title, bold header, data, then the footnotes below."""
    frame = df.reset_index() if index else df
    columns = [str(c) for c in frame.columns]
    row = 1
    if title:
        xlsx_text(ws.cell(row=1, column=1, value=title)).font = Font(bold=True, size=13)
        row = 3
    header_row = row
    for j, name in enumerate(columns, start=1):
        cell = xlsx_text(ws.cell(row=header_row, column=j, value=name))
        cell.font = Font(bold=True)
        cell.alignment = Alignment(vertical="bottom", wrap_text=False)
    widths = [len(name) for name in columns]
    for i, values in enumerate(frame.itertuples(index=False, name=None), start=header_row + 1):
        for j, value in enumerate(values, start=1):
            stored = _cell_value(value)
            cell = xlsx_text(ws.cell(row=i, column=j, value=stored))
            if isinstance(stored, dt.datetime):
                cell.number_format = (
                    "yyyy-mm-dd" if stored.time() == dt.time() else "yyyy-mm-dd hh:mm"
                )
            elif isinstance(stored, dt.date):
                cell.number_format = "yyyy-mm-dd"
            widths[j - 1] = max(widths[j - 1], _display_width(stored))
    if columns:
        ws.freeze_panes = ws.cell(row=header_row + 1, column=1)
    row = header_row + len(frame) + 2
    for note in footnotes:
        if note:
            note_cell = xlsx_text(ws.cell(row=row, column=1, value=str(note)))
            note_cell.font = Font(italic=True, color="444444")
            row += 1
    for j, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(j)].width = min(
            _MAX_WIDTH, max(_MIN_WIDTH, width + 2)
        )


def _pinned_zip(data: bytes, core_xml: bytes) -> bytes:
    """The workbook zip with sorted entries, fixed entry times and ``core_xml`` as
    the document properties."""
    return pinned_zip(data, {ARC_CORE: core_xml})


def write_xlsx(
    tables: Mapping[str, pd.DataFrame],
    path: Path | str,
    *,
    title: str | None = None,
    footnotes: Sequence[str] = (),
    index: bool = False,
) -> Path:
    """Write ``tables`` to an Excel workbook, one sheet per table; return the path.

    Sheet names are the mapping's keys made valid (see ``sheet_names``). Each sheet
    has ``title`` (if given) in bold on top, the table with a bold, frozen header row
    and columns wide enough for their contents (8 to 60 characters), and
    ``footnotes`` in italics two rows under the table. Missing values are empty
    cells; the DataFrame index is written only with ``index=True``. The workbook's
    title property is ``title``, its dates ``FIXED_TIMESTAMP``, and the file is
    byte-identical for identical input. Parent directories are created; the file is
    replaced atomically. Raises ``ValueError`` if ``tables`` is empty.
    """
    if not tables:
        raise ValueError("write_xlsx needs at least one table")
    path = Path(path)
    wb = Workbook()
    wb.remove(wb.active)
    for name, (_, df) in zip(sheet_names(list(tables)), tables.items(), strict=True):
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"table {name!r} is a {type(df).__name__}, not a DataFrame")
        _write_sheet(wb.create_sheet(name), df, title=title, footnotes=footnotes, index=index)
    props = wb.properties
    props.creator = props.lastModifiedBy = "cohortflow"
    props.title = title
    buffer = io.BytesIO()
    wb.save(buffer)  # stamps the current time as "modified": replaced below
    props.created = props.modified = FIXED_TIMESTAMP
    core_xml = tostring(props.to_tree())
    atomic_write(path, _pinned_zip(buffer.getvalue(), core_xml))
    return path
