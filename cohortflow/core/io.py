"""Deterministic writing and hashing of artefacts (Parquet, CSV, JSON)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cohortflow.core.cellsafe import FORMULA_START, csv_frame
from cohortflow.core.dictionary import dictionary_version
from cohortflow.core.vectors import distinct_rows


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def write_parquet(
    df: pd.DataFrame, path: str | Path, metadata: Mapping[str, Any] | None = None
) -> None:
    """Write a DataFrame to Parquet with cohortflow metadata (JSON-encoded) and no index."""
    write_arrow(pa.Table.from_pandas(df, preserve_index=False), path, metadata)


def write_parquet_carrying(
    df: pd.DataFrame,
    carried: pa.Table,
    columns: list[str],
    path: str | Path,
    metadata: Mapping[str, Any] | None = None,
) -> None:
    """``write_parquet`` of the frame whose ``columns`` (in that order) come from ``df`` or,
    when ``df`` lacks them, from ``carried``: Arrow columns read from a Parquet file that
    ``write_parquet`` wrote, with as many rows as ``df``. The bytes are those of writing the
    whole frame (``carried`` read into pandas and joined to ``df``), without the round trip
    of the carried columns through pandas (a 1,000,000-patient table's 40 unused text
    columns: seconds and gigabytes)."""
    own = pa.Table.from_pandas(df, preserve_index=False)
    if carried.num_rows != own.num_rows:
        raise ValueError(f"carried columns have {carried.num_rows} rows, the frame {own.num_rows}")
    meta = json.loads(own.schema.metadata[b"pandas"])
    entries = {e["name"]: e for e in json.loads(carried.schema.metadata[b"pandas"])["columns"]}
    entries |= {e["name"]: e for e in meta["columns"]}
    meta["columns"] = [entries[c] for c in columns]
    arrays = [
        own.column(c) if c in df.columns else carried.column(c).combine_chunks() for c in columns
    ]
    table = pa.Table.from_arrays(arrays, names=columns)
    write_arrow(
        table.replace_schema_metadata({b"pandas": json.dumps(meta).encode("utf8")}), path, metadata
    )


def write_arrow(
    table: pa.Table, path: str | Path, metadata: Mapping[str, Any] | None = None
) -> None:
    """Write an Arrow table as :func:`write_parquet` writes a DataFrame: the table's schema
    metadata (e.g. the pandas metadata) kept, the cohortflow metadata added. A table made by
    ``pa.Table.from_pandas(df, preserve_index=False)`` gives the same bytes as
    ``write_parquet(df)``; stages that never leave Arrow skip the round trip through pandas."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = dict(table.schema.metadata or {})
    prov = {"schema_version": dictionary_version(), **dict(metadata or {})}
    meta[b"cohortflow"] = json.dumps(prov, sort_keys=True, default=str).encode()
    table = table.replace_schema_metadata(meta)
    pq.write_table(table, path, compression="zstd")


def read_parquet_metadata(path: str | Path) -> dict[str, Any]:
    """The cohortflow metadata stored by :func:`write_parquet` ({} if none)."""
    meta = pq.read_schema(path).metadata or {}
    raw = meta.get(b"cohortflow")
    return json.loads(raw) if raw else {}


def write_csv(df: pd.DataFrame, path: str | Path) -> None:
    """Write a CSV (UTF-8, LF line ends, no index) with stable float formatting; text that a
    spreadsheet would run as a formula is neutralised (``cellsafe.csv_frame``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    csv_frame(df).to_csv(path, index=False, lineterminator="\n", float_format="%.10g")


def coded_arrow_table(
    table: pd.DataFrame, codes: np.ndarray, column: str, values: pd.Series
) -> pa.Table | None:
    """The Arrow table (pandas metadata included) that ``pa.Table.from_pandas(frame,
    preserve_index=False)`` makes of ``frame`` = ``table.iloc[codes]`` with its ``column`` set
    to ``values`` (as in ``write_csv_coded``), without a Python object per cell: each column of
    ``table`` converted once and taken by ``codes``. None when ``values`` is not text or NA
    or a column of ``table`` is not one of Python objects (the caller then converts
    ``frame``)."""
    if len(values) != len(codes) or not len(codes):
        return None
    if any(table[c].dtype != object for c in table.columns) or values.dtype not in (
        object,
        "string",
    ):
        return None
    try:
        ids = pa.array(values.to_numpy(dtype=object), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    if ids.type not in (pa.string(), pa.null()):
        return None
    sample = table.assign(**{column: pd.Series([None] * len(table), dtype=object)})
    valid = values.first_valid_index()
    if valid is not None:
        sample.loc[sample.index[:1], column] = values[valid]
    arrays = [
        ids if c == column else pa.array(table[c].to_numpy(), from_pandas=True).take(codes)
        for c in table.columns
    ]
    out = pa.Table.from_arrays(arrays, names=[str(c) for c in table.columns])
    meta = pa.Table.from_pandas(sample, preserve_index=False).schema
    if not out.schema.equals(meta, check_metadata=False):
        return None  # a column's type depends on values the table does not show
    return out.replace_schema_metadata(meta.metadata)


#: Stands for the per-row column while ``write_csv_coded`` formats the distinct rows.
_PLACEHOLDER = "cohortflowrowvalueplaceholder"
#: A per-row value matching this is not written verbatim by ``write_csv`` (quoted by the CSV
#: writer or neutralised by ``cellsafe``): ``write_csv_coded`` then writes the whole frame.
_NOT_VERBATIM = (
    r"[,\"\r\n\x00]|^["
    + "".join("\\" + c if c in "-]\\^" else c for c in (*FORMULA_START, "'"))
    + "]"
)


def write_csv_coded(
    table: pd.DataFrame,
    codes: np.ndarray,
    column: str,
    values: pd.Series,
    path: str | Path,
    batch: int = 1 << 17,
) -> bool:
    """Write what ``write_csv(frame, path)`` writes, where ``frame`` is ``table.iloc[codes]``
    with its ``column`` (ignored in ``table``) set to ``values`` (one per row): the distinct
    rows of ``table`` are formatted once (by pandas, through ``cellsafe``) and every row is
    the text of its code around its own value, joined in Arrow (a 219 MB CSV of 1,000,000
    patients took 10 s in ``write_csv``).

    Returns False, writing nothing, when that cannot give the same bytes (a value that would
    be quoted or neutralised, a value that is not text, a cell with a line break, no rows):
    the caller then uses ``write_csv``."""
    n = len(codes)
    try:
        sid = pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return False
    if not n or len(values) != n or sid.type not in (pa.string(), pa.large_string()):
        return False
    if pc.any(pc.match_substring_regex(sid, _NOT_VERBATIM)).as_py():
        return False
    table = table.assign(**{column: _PLACEHOLDER})
    text = csv_frame(table).to_csv(index=False, lineterminator="\n", float_format="%.10g")
    lines = text.split("\n")
    if len(lines) != len(table) + 2 or lines[-1] != "":
        return False  # a cell holds a line break: the lines are not the rows
    parts = [line.split(_PLACEHOLDER) for line in lines[1:-1]]
    if any(len(p) != 2 for p in parts):
        return False
    before = pa.array([p[0] for p in parts], pa.large_string())
    after = pa.array([p[1] + "\n" for p in parts], pa.large_string())
    sid = sid.cast(pa.large_string())
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.write((lines[0] + "\n").encode("utf-8"))
        for start in range(0, n, batch):
            at = pa.array(codes[start : start + batch])
            rows = pc.binary_join_element_wise(
                before.take(at),
                sid.slice(start, batch),
                after.take(at),
                pa.scalar("", pa.large_string()),
                null_handling="replace",
                null_replacement="",
            )
            offsets = np.frombuffer(rows.buffers()[1], dtype=np.int64)
            offsets = offsets[rows.offset : rows.offset + len(rows) + 1]
            fh.write(memoryview(rows.buffers()[2])[offsets[0] : offsets[-1]])
    return True


def write_csv_by_id(df: pd.DataFrame, path: str | Path, column: str = "study_id") -> None:
    """``write_csv(df, path)`` for a long table whose columns other than the per-row
    ``column`` repeat (the eligibility table of a million patients: 2.5 s in ``write_csv``):
    each distinct combination of the others is formatted once (``write_csv_coded``), the
    same bytes; ``write_csv`` when that cannot give them."""
    rest = [c for c in df.columns if c != column]
    if column in df.columns and rest and len(df):
        code, first = distinct_rows([df[c] for c in rest])
        table = df.iloc[first].reset_index(drop=True)
        if write_csv_coded(table, code, column, df[column].reset_index(drop=True), path):
            return
    write_csv(df, path)


def write_json(obj: Any, path: str | Path) -> None:
    """Write JSON with sorted keys and a trailing newline."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n"
    )


def read_columns(path: str | Path, wanted: set[str]) -> pd.DataFrame:
    """A Parquet file with only the ``wanted`` columns it has, in file order (column pruning:
    a stage reads what it uses, not the whole table)."""
    cols = [c for c in pq.read_schema(path).names if c in wanted]
    return pd.read_parquet(path, columns=cols)


def read_csv_or_empty(path: str | Path) -> pd.DataFrame:
    """A CSV as a frame; an empty frame when the file holds no header (an empty result)."""
    return pd.read_csv(path) if Path(path).stat().st_size > 1 else pd.DataFrame()


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


#: The earliest time a zip entry can carry; every entry of a pinned zip carries it.
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def pinned_zip(data: bytes, replace: Mapping[str, bytes] | None = None) -> bytes:
    """An Office document's zip (XLSX, DOCX) made reproducible: entries sorted, with fixed
    times and attributes; the entries named in ``replace`` get the given content."""
    replace = replace or {}
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as src,
        zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst,
    ):
        for name in sorted(src.namelist()):
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 0
            info.external_attr = 0
            dst.writestr(info, replace[name] if name in replace else src.read(name))
    return out.getvalue()
