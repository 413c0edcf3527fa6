"""Reader for SPSS .sav submissions: value labels applied, every cell as text, case lineage."""

from __future__ import annotations

import datetime as dt
import faulthandler
import math
import multiprocessing
import os
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pandas as pd
import pyreadstat

from cohortflow.core.errors import SubmissionError
from cohortflow.ingest.readers import ReadResult, cell_text, clean_header, text_frame


def _read(path: Path, *, site: str | None, metadataonly: bool = False) -> tuple[Any, Any]:
    """``pyreadstat.read_sav`` with value labels applied; failures as SubmissionError.

    The C library behind pyreadstat can crash (segmentation fault) on a damaged file, so
    the file is read in a forked child process; a crash there is a SubmissionError naming
    site and file, never the end of the pipeline job.
    """
    if not path.is_file():
        raise SubmissionError("submitted file not found", site=site, file=path.name)
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_read_in_child, args=(str(path), metadataonly, send))
    child.start()
    send.close()
    try:
        outcome = receive.recv()
    except EOFError:  # the child died without an answer
        outcome = None
    finally:
        receive.close()
        child.join()
    if outcome is None:
        raise SubmissionError(
            f"cannot read SPSS file: the SPSS reader crashed on it (exit code {child.exitcode}); "
            "the file is damaged or not an SPSS .sav file, ask the site to export it again",
            site=site,
            file=path.name,
        )
    if isinstance(outcome, str):
        raise SubmissionError(f"cannot read SPSS file ({outcome})", site=site, file=path.name)
    return outcome


@dataclass
class _Meta:
    """The parts of pyreadstat's metadata the readers use (picklable)."""

    file_encoding: str | None
    column_names_to_labels: dict[str, Any]


def _read_in_child(path: str, metadataonly: bool, send: Connection) -> None:
    """Child process: send (data, _Meta) or a one-line error text (never cell values)."""
    faulthandler.disable()  # a crash here is reported by the parent, not dumped to stderr
    try:
        df, meta = pyreadstat.read_sav(
            path,
            apply_value_formats=True,
            formats_as_category=False,
            metadataonly=metadataonly,
        )
        labels = dict(getattr(meta, "column_names_to_labels", None) or {})
        out: Any = (df, _Meta(getattr(meta, "file_encoding", None), labels))
    except (pyreadstat.ReadstatError, pyreadstat.PyreadstatError, OSError, ValueError) as exc:
        # pyreadstat messages describe the file structure, never cell contents.
        out = f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # noqa: BLE001 - any other failure: its type only
        out = f"{type(exc).__name__} while decoding"
    send.send(out)
    send.close()
    os._exit(0)  # skip interpreter teardown (the parent's copied heap): much faster


def _sav_cell(value: Any) -> str | None:
    """One SPSS cell as text: None for system-missing, ISO dates, integral floats as integers."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, (dt.date, dt.time)):
        return cell_text(value)
    if isinstance(value, float):  # includes numpy.float64
        if math.isnan(value):
            return None
        return cell_text(float(value))
    if isinstance(value, bool):
        return str(value)
    if hasattr(value, "item"):  # other numpy scalars
        return _sav_cell(value.item())
    return cell_text(value)


def read_sav(path: Path, *, site: str) -> ReadResult:
    """Read an SPSS .sav file as an all-text table; ``_source_row`` is the 1-based case number.

    Value labels replace coded values (values without a label keep their code as text);
    SPSS date and datetime variables become ISO text; system-missing values become None.
    """
    path = Path(path)
    df, meta = _read(path, site=site)
    header = clean_header(list(df.columns), site=site, file=path.name)
    rows = [
        (i, [_sav_cell(v) for v in rec])
        for i, rec in enumerate(df.astype(object).itertuples(index=False, name=None), start=1)
    ]
    data, blank = text_frame(header, rows, None)
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
