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

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from cohortflow.core.cellsafe import csv_frame
from cohortflow.core.dictionary import dictionary_version


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
