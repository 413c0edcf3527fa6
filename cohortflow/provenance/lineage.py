"""Helpers shared by value lineage (``value_lineage``) and table-cell lineage (``cell_lineage``):
how a cell value is shown and stored in a JSON trace, counts read from CSV cells, paths relative
to the repository and the three-valued result of a study expression on one patient."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd

from cohortflow.core.errors import CohortflowError
from cohortflow.core.expr import evaluate
from cohortflow.provenance.diff import study_tree


def text_of(v: Any) -> str:
    """Readable text of a cell value ('missing' for NA)."""
    if v is None or (not isinstance(v, (str, list, dict)) and pd.isna(v)):
        return "missing"
    if isinstance(v, dt.datetime):
        ts = pd.Timestamp(v)
        return ts.date().isoformat() if ts == ts.normalize() else ts.isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        return format(v, ".10g")
    return str(v)


def json_value(v: Any) -> Any:
    """A JSON-friendly copy of a cell value (NA -> None, dates -> ISO text)."""
    if v is None or (not isinstance(v, (str, list, dict)) and pd.isna(v)):
        return None
    if isinstance(v, pd.Timestamp | dt.date):
        return text_of(v)
    if hasattr(v, "item"):
        return v.item()
    return v


def count_of(v: Any) -> int | None:
    """A count read from a CSV cell (None when empty or not a whole number)."""
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return int(x) if x.is_integer() else None


def study_dirs(
    root: Path, study: str, results: Path | None, restricted: Path | None
) -> tuple[Path, Path]:
    tree = study_tree(Path(results), study) if results else Path(root) / "results" / study
    rst = Path(restricted) if restricted else Path(root) / "restricted"
    return tree, rst / study


def rel_path(path: Path, root: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path(root).resolve()))
    except ValueError:
        return str(path)


def truth_of(expr: str, frame: pd.DataFrame) -> str:
    """'true', 'false' or 'unknown' (inputs missing) of an expression on a one-row frame."""
    try:
        r = evaluate(expr, frame)
    except CohortflowError:
        return "not evaluable"
    if not bool(r.known.iloc[0]):
        return "unknown"
    return "true" if bool(r.value.iloc[0]) else "false"


def is_na(v: Any) -> bool:
    return v is None or (not isinstance(v, (str, list, dict)) and pd.isna(v))
