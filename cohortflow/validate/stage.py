"""Validate stages: mapping and checks per site, cross-site duplicates, data-quality reports and
query listings (rules `validate`, `cross_site`, `dq_site`, `dq_study`, `query_listing`).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from cohortflow.core import dictionary
from cohortflow.core.cellsafe import csv_restore
from cohortflow.core.errors import CohortflowError, SubmissionError
from cohortflow.core.findings import FINDING_COLUMNS, pandera_findings
from cohortflow.core.io import read_csv_or_empty, sha256_file, write_csv, write_json, write_parquet
from cohortflow.core.pseudonym import load_key, study_id
from cohortflow.harmonise.derive import harmonise
from cohortflow.ingest.readers import ROW_COL
from cohortflow.ingest.submission import read_submission
from cohortflow.validate.checks import (
    DUPLICATE_KEY,
    annotate,
    cross_site_duplicates,
    run_row_checks,
    site_status,
)
from cohortflow.validate.dq import load_json, site_report, study_report
from cohortflow.validate.mapping import apply_mapping, remove_identifiers
from cohortflow.validate.queries import QUERY_COLUMNS, write_listing_files, write_site_queries

log = logging.getLogger("cohortflow")


DERIVED_FROM = {
    "age_at_diagnosis_years": ["birth_date", "diagnosis_date"],
    "age_at_diagnosis_months": ["birth_date", "diagnosis_date"],
    "age_at_rr_years": ["birth_date", "rr_diagnosis_date"],
    "cutoff_date": [],
}


def _locate_sources(findings: pd.DataFrame, mapping: dict[str, Any]) -> pd.DataFrame:
    """Fill the source column(s) of row-check findings from the mapping, so a site can find
    the cells (derived variables point to the columns they are computed from)."""
    src = {var: rule["source"] for var, rule in mapping["columns"].items()}
    out = findings.copy()
    out["source_column"] = out["source_column"].astype(object)
    todo = (out["source_column"].isna() & out["variable"].notna()).to_numpy(dtype=bool)

    def located(variable: str) -> str | None:
        cols: list[str] = []
        for v in variable.split(";"):
            for base in DERIVED_FROM.get(v, [v]):
                if base in src and src[base] not in cols:
                    cols.append(src[base])
        return "; ".join(cols) or None

    if todo.any():  # once per distinct variable list, not per finding
        variables = out.loc[todo, "variable"].astype(str)
        where = {v: located(v) for v in variables.unique()}
        out.loc[todo, "source_column"] = variables.map(where).to_numpy(object)
    return out


#: Why a site whose submission holds no data rows is set aside as a whole.
NO_DATA = "submission holds no data rows (header only or empty)"


def _formula_findings(
    meta: dict[str, Any], df: pd.DataFrame, mapping: dict[str, Any]
) -> pd.DataFrame:
    """A fatal finding per mapped XLSX cell holding a formula without a cached result (the
    reader leaves it empty; a death date must never turn into 'alive' silently)."""
    var_of = {r["source"]: v for v, r in mapping["columns"].items()}
    cells = [c for c in meta.get("formula_cells", []) if not c["cached"] and c["column"] in var_of]
    sid_of = dict(zip(df["source_row"], df["study_id"], strict=True))
    rows = [
        dict.fromkeys(FINDING_COLUMNS)
        | {
            "site": mapping["site"],
            "study_id": sid_of.get(c["row"]),
            "source_row": c["row"],
            "source_column": c["column"],
            "variable": var_of[c["column"]],
            "check": "formula_without_value",
            "message": "Formula without a stored result; its value is unknown",
        }
        for c in cells
    ]
    return pd.DataFrame(rows, columns=FINDING_COLUMNS)


def _resubmission_findings(
    rawdf: pd.DataFrame, previous: str | None, mapping: dict[str, Any], key: bytes
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Findings comparing a resubmission with the site's previous submission: a warning per
    patient of the previous file missing now (its study ID; the message says how many) and
    per mapped value given before and empty now. Also study ID -> local ID of the missing
    patients, for the site's restricted query listing only."""
    if not previous:
        return pd.DataFrame(columns=FINDING_COLUMNS), {}
    site, local = mapping["site"], mapping["local_id"]
    prev = read_submission(previous, mapping.get("reader"), site=site).data
    if local not in prev.columns:
        raise SubmissionError(
            f"the previous submission lacks the local ID column {local!r}; cannot compare",
            site=site,
            file=Path(previous).name,
        )
    prev = prev[prev[local].notna()].drop_duplicates(local).set_index(local)
    cur = rawdf[rawdf[local].notna()].drop_duplicates(local).set_index(local)
    missing = sorted(set(prev.index) - set(cur.index))
    sids = {study_id(key, site, loc): loc for loc in missing}
    rows = [
        dict.fromkeys(FINDING_COLUMNS)
        | {
            "site": site,
            "study_id": sid,
            "source_row": 0,
            "source_column": local,
            "check": "resubmission_patient_missing",
            "message": f"Patient of the previous submission missing now ({len(missing)} "
            f"patient(s) of {Path(previous).name} are not in this file)",
        }
        for sid in sids
    ]
    common = cur.index.intersection(prev.index)
    var_of = {r["source"]: v for v, r in mapping["columns"].items()}
    cols = [c for c in var_of if c in prev.columns and c in cur.columns]
    gone = prev.loc[common, cols].notna() & cur.loc[common, cols].isna()
    removed = gone.stack()
    removed = removed[removed]
    rows += [
        dict.fromkeys(FINDING_COLUMNS)
        | {
            "site": site,
            "study_id": study_id(key, site, loc),
            "source_row": int(cur.at[loc, ROW_COL]),
            "source_column": col,
            "variable": var_of[col],
            "check": "resubmission_value_removed",
            "message": f"Given in {Path(previous).name}, empty now",
        }
        for loc, col in removed.index
    ]
    return pd.DataFrame(rows, columns=FINDING_COLUMNS), sids


def _no_data_finding(site: str, rows: int) -> pd.DataFrame:
    """The site-level fatal finding of a submission without data rows (empty otherwise):
    its patients must not disappear silently (quarantine: site set aside; strict: stop)."""
    if rows:
        return pd.DataFrame(columns=FINDING_COLUMNS)
    row = dict.fromkeys(FINDING_COLUMNS)
    row.update(site=site, source_row=0, check="site_has_data", message=NO_DATA.capitalize())
    return pd.DataFrame([row], columns=FINDING_COLUMNS)


def _refuse_identifier_cells(findings: pd.DataFrame, site: str, file: str) -> None:
    """Stop (study option ``identifiers: refuse``) when a mapped cell holds an identifier."""
    ident = findings[findings["check"] == "identifier_removed"]
    if ident.empty:
        return
    cells = "; ".join(
        f"row {r.source_row} column {r.source_column!r}: {r.message[24:].split(')')[0]}"
        for r in ident.head(20).itertuples()
    )
    more = f" (and {len(ident) - 20} more)" if len(ident) > 20 else ""
    raise SubmissionError(
        f"refused (identifiers: refuse): {len(ident)} cell(s) hold identifiers: {cells}{more}. "
        "Ask the site to delete them at source and resubmit (values are not shown here)",
        site=site,
        file=file,
        row=int(ident["source_row"].iloc[0]),
        column=str(ident["source_column"].iloc[0]),
    )


def _site_findings(
    mapping_findings: pd.DataFrame,
    kept: pd.DataFrame,
    others: list[pd.DataFrame],
    mapping: dict[str, Any],
    cutoff: str,
) -> pd.DataFrame:
    """Every finding of a site, those quoting a raw cell marked ``_raw_value``: mapping
    findings, the dictionary's schema, the row checks, then ``others``; in row order."""
    site = mapping["site"]
    findings = pd.concat(
        [
            mapping_findings.assign(_raw_value=True),
            pandera_findings(
                kept[list(dictionary.columns("patients"))], site, "validate", ranges=False
            ),
            run_row_checks(harmonise(kept), cutoff, site),
            *others,
        ],
        ignore_index=True,
    )
    return (
        annotate(_locate_sources(findings, mapping))
        .sort_values(["source_row", "check", "variable"], kind="stable")
        .reset_index(drop=True)
    )


def _write_shareable_findings(
    findings: pd.DataFrame, data_label: str, findings_out: str
) -> pd.DataFrame:
    """Write the findings without raw cell text (typed values of row checks come from the
    cleaned rows); return them with their values, without the ``_raw_value`` mark."""
    out = findings.copy()
    out.loc[out["_raw_value"].eq(True), "value"] = None
    out = out.drop(columns="_raw_value")
    out.insert(0, "data_label", data_label)
    write_csv(out, findings_out)
    return findings.drop(columns="_raw_value")


def _reconciliation(
    site: str,
    file: str,
    rows_read: int,
    keep: pd.Series,
    findings: pd.DataFrame,
    status: pd.DataFrame,
) -> dict[str, Any]:
    """The site's summary: every row read is passed on or set aside (checked here)."""
    summary = {
        "site": site,
        "file": file,
        "rows_read": rows_read,
        "rows_passed_on": int(keep.sum()),
        "rows_set_aside": int((~keep).sum()),
        "set_aside_reason": "local patient ID empty" if (~keep).any() else "",
        **({"site_set_aside": NO_DATA} if rows_read == 0 else {}),
        "findings_fatal": int((findings["severity"] == "fatal").sum()),
        "findings_warning": int((findings["severity"] == "warning").sum()),
        "checks_failed": sorted(status.loc[status["status"] == "fail", "check"]),
    }
    if summary["rows_read"] != summary["rows_passed_on"] + summary["rows_set_aside"]:
        raise CohortflowError(f"site {site}: row reconciliation failed: {summary}")
    return summary


def validate_site(
    raw: str,
    ingest_meta: str,
    mapping: dict[str, Any],
    demo_key: bool,
    data_out: str,
    findings_out: str,
    summary_out: str,
    data_label: str = "",
    cutoff: str = "2100-12-31",
    status_out: str | None = None,
    queries_stem: str | None = None,
    key: bytes | None = None,
    previous: str | None = None,
    identifiers: str = "remove",
) -> pd.DataFrame:
    """Map, pseudonymise and check one site against the check catalogue.

    Every mapped cell holding an identifier (``identifiers.detect_kind``) is replaced by a
    marker with a finding (``identifiers="remove"``, the default), or stops the run naming
    site, file, rows, columns and kinds (``identifiers="refuse"``). The shareable findings
    carry no raw cell text: the raw value of a failing cell is only in the query listing.

    ``key`` overrides the study's pseudonymisation key (the pre-submission check uses a
    throwaway key, so a site never needs the coordinating centre's secret).

    Writes the mapped rows, every finding (shareable: study IDs, no local IDs), the per-check
    site status and, in the restricted area, the site's query listing with its local IDs.
    Returns the findings.
    """
    meta = json.loads(Path(ingest_meta).read_text())
    key = key if key is not None else load_key(demo=demo_key)
    rawdf = pd.read_parquet(raw)
    mapped = remove_identifiers(
        rawdf,
        apply_mapping(rawdf, mapping, key=key, source_sha256=meta["sha256"]),
        mapping,
    )
    site = mapping["site"]
    if identifiers == "refuse":
        _refuse_identifier_cells(mapped.findings, site, Path(meta["file"]).name)
    df = mapped.data
    keep = df["study_id"].notna()
    kept = df[keep].reset_index(drop=True)
    dropped, dropped_local = _resubmission_findings(rawdf, previous, mapping, key)
    findings = _site_findings(
        mapped.findings,
        kept,
        [_no_data_finding(site, len(rawdf)), _formula_findings(meta, df, mapping), dropped],
        mapping,
        cutoff,
    )
    write_parquet(
        kept,
        data_out,
        {
            "stage": "validate",
            "site": site,
            "inputs": {"raw_parquet_sha256": sha256_file(raw), "submission_sha256": meta["sha256"]},
            "demo_key": demo_key,
            "data_label": data_label,
            "dictionary_version": dictionary.dictionary_version(),
        },
    )
    findings = _write_shareable_findings(findings, data_label, findings_out)
    status = site_status(findings, int(len(rawdf)), site)
    if status_out:
        write_csv(status.assign(data_label=data_label), status_out)
    if queries_stem:
        local_of = {
            sid: loc
            for sid, loc in zip(df["study_id"], mapped.local_ids, strict=True)
            if isinstance(sid, str)
        } | dropped_local
        write_site_queries(findings, local_of, queries_stem)
    summary = _reconciliation(site, meta["file"], int(len(rawdf)), keep, findings, status)
    write_json(summary, summary_out)
    log.info(
        "site %s: %d rows in, %d passed on, %d set aside, %d fatal / %d warning findings",
        site,
        summary["rows_read"],
        summary["rows_passed_on"],
        summary["rows_set_aside"],
        summary["findings_fatal"],
        summary["findings_warning"],
    )
    return findings


def find_cross_site_duplicates(
    sites: list[str],
    quarantined: list[str],
    out: str,
    data_label: str = "",
    per_site_dir: str | None = None,
    site_codes: list[str] | None = None,
) -> None:
    """Records of different sites with the same sex, birth date and diagnosis date (harmonised
    and set-aside records alike), for review; nothing is merged.

    With ``per_site_dir``, each site of ``site_codes`` also gets ``<dir>/<site>.csv`` with its
    own records only and no group number, so a site's file changes only when its own
    duplicates do (its query listing then reruns; the others' do not)."""
    cols = ["study_id", "site", "source_row", *DUPLICATE_KEY]
    parts = [pd.read_parquet(p, columns=cols).assign(quarantined=False) for p in sites]
    parts += [pd.read_parquet(p, columns=cols).assign(quarantined=True) for p in quarantined]
    every = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)
    dups = cross_site_duplicates(every)
    dups["quarantined"] = dups["study_id"].map(
        dict(zip(every["study_id"], every["quarantined"], strict=True))
    )
    write_csv(dups.assign(data_label=data_label), out)
    if per_site_dir is not None:
        Path(per_site_dir).mkdir(parents=True, exist_ok=True)
        own = dups.drop(columns=["duplicate_group"])
        for code in site_codes or []:
            write_csv(own[own["site"] == code].reset_index(drop=True), f"{per_site_dir}/{code}.csv")
    log.info(
        "%d records in %d cross-site duplicate groups", len(dups), dups["duplicate_group"].nunique()
    )


def write_query_listing(
    checks_listing: str,
    duplicates: str,
    raw: str,
    mapping: dict[str, Any],
    csv_out: str,
    xlsx_out: str,
) -> None:
    """A site's query listing (restricted): its findings plus its records that look like a
    patient of another site, with its own local IDs and nothing of the other sites."""
    site = mapping["site"]
    q = csv_restore(pd.read_csv(checks_listing, dtype=str, keep_default_na=False))
    d = read_csv_or_empty(duplicates)
    d = d[d["site"] == site] if len(d) else d
    if len(d):
        local_col = mapping["local_id"]
        ids = pd.read_parquet(raw, columns=[local_col, "_source_row"])
        local_of = dict(zip(ids["_source_row"].astype(int), ids[local_col], strict=True))
        extra = pd.DataFrame(
            {
                "site": site,
                "local_patient_id": [local_of.get(int(r), "") for r in d["source_row"]],
                "row": d["source_row"].astype(int).astype(str),
                "column": "; ".join(
                    str(mapping["columns"].get(v, {}).get("source", v)) for v in DUPLICATE_KEY
                ),
                "variable": ";".join(DUPLICATE_KEY),
                "value": "",
                "check": d["check"],
                "severity": d["severity"],
                "message": d["message"],
            },
            columns=QUERY_COLUMNS,
        )
        q = pd.concat([q, extra], ignore_index=True)
        q = q.sort_values(
            ["row", "check"],
            key=lambda c: pd.to_numeric(c, errors="coerce") if c.name == "row" else c,
            kind="stable",
        ).reset_index(drop=True)
    write_listing_files(q, csv_out, xlsx_out)


def report_dq_site(
    findings: str,
    status: str,
    reconciliation: str,
    ingest_meta: str,
    study: dict[str, Any],
    html_out: str,
    csv_out: str,
    duplicates: str | None = None,
) -> None:
    """One site's data-quality report (HTML and CSV), with the site's own records among the
    study-level cross-site duplicates when ``duplicates`` is given."""
    site_report(
        pd.read_csv(findings),
        pd.read_csv(status),
        load_json(reconciliation),
        load_json(ingest_meta),
        study,
        html_out,
        csv_out,
        duplicates=read_csv_or_empty(duplicates) if duplicates else None,
    )


def report_dq_study(
    findings: list[str],
    statuses: list[str],
    reconciliations: list[str],
    duplicates: str,
    study: dict[str, Any],
    html_out: str,
    csv_out: str,
) -> None:
    """The study's data-quality report (HTML and CSV)."""
    study_report(
        [pd.read_csv(p) for p in findings],
        [pd.read_csv(p) for p in statuses],
        [load_json(p) for p in reconciliations],
        read_csv_or_empty(duplicates),
        study,
        html_out,
        csv_out,
    )
