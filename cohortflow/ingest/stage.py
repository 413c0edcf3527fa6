"""Ingest stage: lossless all-text copy of one site submission (rule `ingest`)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from cohortflow.core import dictionary
from cohortflow.core.errors import SubmissionError
from cohortflow.core.identifiers import IdentifierColumn, safe_header, scan
from cohortflow.core.io import sha256_file, write_json, write_parquet
from cohortflow.ingest.readers import ROW_COL, SHEET_COL, ReadResult
from cohortflow.ingest.redcap import redcap_identifier_fields
from cohortflow.ingest.submission import read_submission

log = logging.getLogger("cohortflow")


def _empty_result(submission: str, needed: set[str]) -> ReadResult | None:
    """An empty table with the mapped columns for a file without any content (0 bytes or
    only whitespace): read as zero data rows, so validation reports the site-level fatal
    finding `site_has_data` instead of the run stopping on a missing header."""
    path = Path(submission)
    if not path.is_file() or path.stat().st_size > 1024:
        return None
    if path.read_bytes().removeprefix(b"\xef\xbb\xbf").strip():
        return None
    cols = [*sorted(needed), ROW_COL, SHEET_COL]
    data = pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    data[ROW_COL] = data[ROW_COL].astype("int64")
    return ReadResult(data, "empty file")


def ingest_site(submission: str, mapping: dict[str, Any], raw_out: str, meta_out: str) -> None:
    """Lossless all-text copy of one submission (restricted area) and its reader facts."""
    site = mapping["site"]
    needed = (
        {mapping["local_id"]}
        | {r["source"] for r in mapping["columns"].values()}
        | {r["unit_source"] for r in mapping["columns"].values() if "unit_source" in r}
    )
    res = _empty_result(submission, needed) or read_submission(
        submission, mapping.get("reader"), site=site
    )
    file = Path(submission).name
    cols = set(res.data.columns)
    # identifiers first: a file without its header row has a patient's values as headers
    _refuse_identifiers(res, mapping, submission)
    absent = sorted(needed - cols)
    if absent:
        raise SubmissionError(
            f"mapped column(s) {absent} not in the file; the file has "
            f"{_headers_for_message(list(res.data.columns), mapping['local_id'])}. Fix the site "
            "mapping or ask the site for the expected layout",
            site=site,
            file=file,
        )
    dropped = [c for c in mapping.get("drop", []) if c in cols]
    data = res.data.drop(columns=dropped)
    digest = sha256_file(submission)
    write_parquet(
        data,
        raw_out,
        {
            "stage": "ingest",
            "site": site,
            "source_sha256": digest,
            "inputs": {"submission_sha256": digest},
            "dictionary_version": dictionary.dictionary_version(),
        },
    )
    meta = {
        "site": site,
        "file": str(submission),
        "sha256": digest,
        **res.describe(),
        "dropped_columns": dropped,
        "submission_date": mapping.get("submission_date"),
    }
    meta["columns"] = [c for c in meta["columns"] if c not in dropped]
    write_json(meta, meta_out)
    log.info(
        "site %s: read %d rows from %s with %s reader (encoding %s)",
        site,
        len(data),
        file,
        res.reader,
        res.encoding,
    )


def _headers_for_message(columns: list[Any], local_id: str) -> str:
    """The file's headers for an error message, or only their number when the first row may
    be a patient's values (the local-ID header is missing or a header looks like a value)."""
    cols = [c for c in columns if not str(c).startswith("_")]
    shown = [safe_header(c, k) for k, c in enumerate(cols, start=1)]
    if local_id in cols and not any(s.startswith("column ") for s in shown):
        return "[" + ", ".join(shown) + "]"
    return (
        f"{len(cols)} columns whose headers are not shown: the first row does not look like "
        "a header row (is it missing?) and may hold a patient's values"
    )


def _refuse_identifiers(res: Any, mapping: dict[str, Any], submission: str) -> None:
    """Stop when a column looks like a direct identifier and the mapping does not drop it."""
    coded = {r["source"] for r in mapping["columns"].values() if r.get("codes")}
    found = scan(res.data, exempt={mapping["local_id"]}, coded=coded, embedded=False)
    if res.reader == "redcap" and mapping.get("reader", {}).get("dictionary"):
        flagged = {f.column for f in found}
        for field in redcap_identifier_fields(Path(mapping["reader"]["dictionary"])):
            cols = [
                c
                for c in res.data.columns
                if c == field or c.startswith(f"{field}[") or c.startswith(f"{field}#")
            ]
            for c in cols:
                if c not in flagged and c != mapping["local_id"]:
                    found.append(IdentifierColumn(c, "REDCap identifier field", "dictionary"))
    undropped = [f for f in found if f.column not in set(mapping.get("drop", []))]
    if undropped:
        position = {c: k for k, c in enumerate(res.data.columns, start=1)}
        names = [safe_header(f.column, position[f.column]) for f in undropped]
        listing = "; ".join(
            f"{n} ({f.kind}, recognised by {f.how})" for n, f in zip(names, undropped, strict=True)
        )
        raise SubmissionError(
            f"refused: column(s) holding direct identifiers: {listing}. Identifiers must not "
            "leave the ingestion step: list these columns under `drop:` in the site mapping "
            "(values are not shown here)",
            site=mapping["site"],
            file=Path(submission).name,
            column=", ".join(n.strip("'") for n in names),
        )
