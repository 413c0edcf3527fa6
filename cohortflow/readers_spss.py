"""Reader for SPSS .sav submissions: value labels applied, every cell as text, case lineage."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import SubmissionError
from .readers import ReadResult, _cell_text, _clean_header, _frame


def _read(path: Path, *, site: str | None, metadataonly: bool = False) -> tuple[Any, Any]:
    """``pyreadstat.read_sav`` with value labels applied; failures as SubmissionError."""
    import pyreadstat

    if not path.exists():
        raise SubmissionError("submitted file not found", site=site, file=path.name)
    try:
        return pyreadstat.read_sav(
            str(path),
            apply_value_formats=True,
            formats_as_category=False,
            metadataonly=metadataonly,
        )
    except (pyreadstat.ReadstatError, pyreadstat.PyreadstatError, OSError, ValueError) as exc:
        # pyreadstat messages describe the file structure, never cell contents.
        raise SubmissionError(
            f"cannot read SPSS file ({type(exc).__name__}: {exc})", site=site, file=path.name
        ) from None


def _sav_cell(value: Any) -> str | None:
    """One SPSS cell as text: None for system-missing, ISO dates, integral floats as integers."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, (dt.date, dt.time)):
        return _cell_text(value)
    if isinstance(value, float):  # includes numpy.float64
        if math.isnan(value):
            return None
        return _cell_text(float(value))
    if isinstance(value, bool):
        return str(value)
    if hasattr(value, "item"):  # other numpy scalars
        return _sav_cell(value.item())
    return _cell_text(value)


def read_sav(path: Path, *, site: str) -> ReadResult:
    """Read an SPSS .sav file as an all-text table; ``_source_row`` is the 1-based case number.

    Value labels replace coded values (values without a label keep their code as text);
    SPSS date and datetime variables become ISO text; system-missing values become None.
    """
    path = Path(path)
    df, meta = _read(path, site=site)
    header = _clean_header(list(df.columns), site=site, file=path.name)
    rows = [
        (i, [_sav_cell(v) for v in rec])
        for i, rec in enumerate(df.astype(object).itertuples(index=False, name=None), start=1)
    ]
    data, blank = _frame(header, rows, None)
    return ReadResult(
        data,
        "sav",
        encoding=getattr(meta, "file_encoding", None),
        header_row=1,
        blank_rows_skipped=blank,
    )


def sav_variable_labels(path: Path, *, site: str | None = None) -> dict[str, str]:
    """Variable name -> variable label for the variables of an SPSS file that have a label."""
    path = Path(path)
    _, meta = _read(path, site=site, metadataonly=True)
    labels = getattr(meta, "column_names_to_labels", None) or {}
    return {str(k): str(v) for k, v in labels.items() if v is not None and str(v).strip()}
