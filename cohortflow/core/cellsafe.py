"""Neutralisation of cell text for every output format, in one place.

Submissions are untrusted: a cell may hold a spreadsheet formula (``=HYPERLINK(...)``,
``=cmd|' /C calc'!A0``), HTML (``<script>``) or Markdown table syntax (``|``). Every writer
passes cell text through this module:

* CSV (``csv_frame``): a text cell starting with ``=``, ``+``, ``-``, ``@``, tab or carriage
  return gets a leading apostrophe, as OWASP recommends against CSV injection. Numbers stay
  numbers: numeric columns are untouched, and so is text that is a plain number (``-1.5``).
  A carriage return inside a cell is written as a line feed (quoted; a bare CR would split
  the row). ``csv_restore`` undoes the apostrophe when a CSV is read back for an XLSX.
* XLSX (``xlsx_text``): a text value is stored as a string cell, never a formula.
* Markdown (``md_cell``): pipes are escaped, ``<`` that would open an HTML tag and ``&`` that
  would start an entity are written as entities, line breaks become spaces.
* HTML (``html_text``): ``html.escape`` (quotes included).
"""

from __future__ import annotations

import html
import re
from typing import Any

import numpy as np
import pandas as pd

#: Characters that make a spreadsheet treat a CSV cell as a formula (OWASP CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")  # LF: a CR is written as LF
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?%?")
_TAG_OPEN = re.compile(r"<(?=[A-Za-z/!?])")
_ENTITY = re.compile(r"&(?=#?\w+;)")


def _needs_quote(text: pd.Series) -> pd.Series:
    """Which texts get an apostrophe: those starting with a formula character, and (so that
    ``csv_restore`` gives back exactly what was written) those that already start with
    apostrophes before one; plain numbers never. (Only texts that start with one of those
    characters are looked at further: one pass over a column of a million IDs.)"""
    out = text.str.startswith(FORMULA_START + ("'",), na=False).to_numpy(bool)
    if out.any():
        bare = text[out].str.lstrip("'")
        plain = bare.str.fullmatch(_PLAIN_NUMBER, na=False).to_numpy(bool)
        out[out] = bare.str.startswith(FORMULA_START, na=False).to_numpy(bool) & ~plain
    return pd.Series(out, index=text.index)


def csv_cell(value: Any) -> Any:
    """A cell value safe to write into CSV: text that a spreadsheet would run as a formula
    gets a leading apostrophe; anything that is not text is returned unchanged."""
    if not isinstance(value, str):
        return value
    return "'" + value if bool(_needs_quote(pd.Series([value])).iloc[0]) else value


def csv_frame(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with every text cell passed through ``csv_cell`` (vectorised per text column;
    numeric, boolean and date columns are returned as they are)."""
    out = None
    for col in df.columns:
        s = df[col]
        if not (pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s)):
            continue
        fixed = _csv_column(s)
        if fixed is not None:
            out = df.copy() if out is None else out
            out[col] = fixed
    return df if out is None else out


def _csv_column(s: pd.Series) -> pd.Series | None:
    """A text column made safe for CSV, or None when no cell needs a change. Each distinct
    value is checked once (a registry column of a million cells holds a few hundred values:
    3 s of string methods per column become milliseconds)."""
    try:
        codes, uniques = pd.factorize(s, use_na_sentinel=True)
    except TypeError:  # unhashable cells: check every cell
        codes, uniques = np.arange(len(s)), s.to_numpy(dtype=object)
    u = pd.Series(np.asarray(uniques, dtype=object), dtype=object)
    text = u.where(u.map(type).eq(str))  # only real strings, never numbers in objects
    risky = _needs_quote(text)
    # a bare carriage return is not quoted by the CSV writer (LF line ends) and would
    # split the row: written as a line feed, which is quoted
    cr = text.str.contains("\r", regex=False, na=False)
    if not (risky.any() or cr.any()):
        return None
    fixed = u.where(~risky, "'" + text)
    fixed = fixed.where(~cr, fixed.astype(str).str.replace(r"\r\n?", "\n", regex=True))
    changed = (risky | cr).to_numpy()
    cells = np.asarray(codes)
    at = (cells >= 0) & changed[np.maximum(cells, 0)]
    result = s.astype(object).to_numpy(copy=True)
    result[at] = fixed.to_numpy(dtype=object)[cells[at]]
    return pd.Series(result, index=s.index, name=s.name, dtype=object)


def csv_restore(df: pd.DataFrame) -> pd.DataFrame:
    """A CSV written by ``csv_frame`` read back: the apostrophe added before a formula
    character is removed again (for writers that show the text exactly, e.g. XLSX)."""
    out = None
    for col in df.columns:
        s = df[col]
        if not (pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s)):
            continue
        text = s.where(s.map(type).eq(str))
        quoted = text.str.startswith("'", na=False) & _needs_quote(text.str[1:])
        if quoted.any():
            out = df.copy() if out is None else out
            out[col] = s.astype(object).where(~quoted, text.str[1:].astype(object))
    return df if out is None else out


def xlsx_text(cell: Any) -> Any:
    """Force an openpyxl cell holding text to be stored as a string (openpyxl turns text
    starting with ``=`` into a formula); other cells are left as they are. Returns the cell."""
    if isinstance(cell.value, str):
        cell.data_type = "s"
    return cell


def md_cell(value: Any) -> str:
    """Text for one Markdown table cell: no HTML tag, entity, pipe or line break survives."""
    text = "" if value is None else str(value)
    text = _ENTITY.sub("&amp;", text)
    text = _TAG_OPEN.sub("&lt;", text)
    text = text.replace("\\", "\\\\").replace("|", "\\|")
    return re.sub(r"[\r\n]+", " ", text)


def html_text(value: Any) -> str:
    """Text for HTML (element content or attribute value)."""
    return html.escape("" if value is None else str(value), quote=True)
