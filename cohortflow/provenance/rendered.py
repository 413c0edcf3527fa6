"""A cell of a rendered table (Markdown or HTML) located in the CSV it was rendered from.

``trace --table`` explains cells of machine-readable CSVs; people read the Markdown and HTML
tables. This module reads a rendered table (rows numbered 1, 2, ... under the header, across
the sections of a file), and finds the CSV row and column the cell was rendered from: the
descriptive tables ``tables/<name>.md|html`` -> ``tables/<name>.csv`` (matched on item and
level) and ``tables/survival.md|html`` -> ``analyse/survival.csv`` (analysis, stratum, time).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pandas as pd

from cohortflow.core.defaults import Study
from cohortflow.core.errors import CohortflowError

#: Rendered survival-table headers -> survival.csv columns.
SURVIVAL_COLUMNS = {
    "n": "n",
    "events": "total_events",
    "time (y)": "time_years",
    "at risk": "n_risk",
    "estimate ± se (%)": "estimate",
    "95% ci (%)": "lower",
    "published (%)": "published_estimate",
}


class _HTMLTables(HTMLParser):
    """Rows of every <table> with the last <h2> before it."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[str, list[str], list[str]]] = []  # (section, header, cells)
        self.section = ""
        self._cell: list[str] | None = None
        self._row: list[str] = []
        self._header: list[str] = []
        self._in_h2 = False
        self._h2: list[str] = []
        self._head = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "h2":
            self._in_h2, self._h2 = True, []
        elif tag == "thead":
            self._head = True
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "h2":
            self._in_h2 = False
            self.section = "".join(self._h2).strip()
        elif tag == "thead":
            self._head = False
        elif tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr":
            if self._head:
                self._header = self._row
            elif self._row:
                self.rows.append((self.section, self._header, self._row))

    def handle_data(self, data: str) -> None:
        if self._in_h2:
            self._h2.append(data)
        if self._cell is not None:
            self._cell.append(data)


def read_rendered(path: Path) -> list[tuple[str, list[str], list[str]]]:
    """(section heading, header, cells) of every data row of a Markdown or HTML table file."""
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".html", ".htm"):
        p = _HTMLTables()
        p.feed(text)
        return p.rows
    rows: list[tuple[str, list[str], list[str]]] = []
    section, header, lines = "", [], text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("#"):
            section = line.lstrip("#").strip()
            continue
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if re.fullmatch(r"\|[-:| ]+\|", line.strip()):
            continue
        if i + 1 < len(lines) and re.fullmatch(r"\|[-:| ]+\|", lines[i + 1].strip()):
            header = cells
            continue
        rows.append((section, header, cells))
    return rows


def locate(path: Path, row: int, column: str, study: dict[str, Any]) -> tuple[Path, int, str]:
    """(CSV path, 1-based CSV data row, CSV column) of a rendered table's cell."""
    rows = read_rendered(path)
    if not 1 <= row <= len(rows):
        raise CohortflowError(f"{path} has data rows 1-{len(rows)}, not {row}")
    section, header, cells = rows[row - 1]
    if column not in header:
        raise CohortflowError(f"{path} has no column {column!r}: {header}")
    if path.stem == "survival":
        csv = path.parent.parent / "analyse" / "survival.csv"
        t = pd.read_csv(csv, keep_default_na=False, dtype=str)
        rec = dict(zip(header, cells, strict=False))
        title = rec.get("Analysis") or re.sub(r"\s*\([^)]*\)\s*$", "", section)
        ids = [a["id"] for a in study["analyses"] if a["title"] == title] or [title]
        hit = t[
            t["analysis"].isin(ids)
            & (t["stratum"] == rec.get("Stratum", ""))
            & (pd.to_numeric(t["time_years"]) == float(rec.get("Time (y)", "nan")))
        ]
        col = SURVIVAL_COLUMNS.get(column.lower())
    elif path.parent.name == "tables" and path.stem in Study.of(study).tables:
        csv = path.with_suffix(".csv")
        t = pd.read_csv(csv, keep_default_na=False, dtype=str)
        item = cells[0]
        k = row - 1
        while not item and k > 0:  # Markdown leaves the item blank under its first level
            k -= 1
            item = rows[k][2][0]
        level = cells[1] if len(cells) > 2 else ""
        hit = t[(t["item"] == item) & (t["level"] == level)]
        if hit.empty:  # 'Mean ± SD' / 'Median (range)' rows share one CSV row
            value = cells[header.index(column)]
            hit = t[(t["item"] == item) & t["display"].str.contains(value, regex=False)]
        col = "display" if header.index(column) >= 2 else "item"
    else:
        raise CohortflowError(
            f"{path}: trace reads rendered descriptive tables and survival tables; for this "
            f"one give its CSV (e.g. {path.with_suffix('.csv').name} or analyse/*.csv)"
        )
    if len(hit) != 1 or col is None:
        raise CohortflowError(f"{path} row {row}: no single row of {csv.name} matches it")
    return csv, int(hit.index[0]) + 1, col
