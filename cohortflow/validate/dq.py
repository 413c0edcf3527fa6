"""Data-quality reports (HTML for data managers, CSV for machines), per site and per study."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from cohortflow.core.cellsafe import html_text
from cohortflow.core.defaults import Study
from cohortflow.core.io import write_csv

_STYLE = (
    "body{font-family:sans-serif;margin:2em;max-width:80em}table{border-collapse:collapse;"
    "margin:1em 0}td,th{border-bottom:1px solid #ccc;padding:3px 8px;text-align:left;"
    "font-size:90%}th{border-bottom:2px solid #333}.fail{background:#fde2e1}.warn{background:"
    "#fff4d6}.ok{color:#2e7d32}.note{color:#555;font-size:90%}"
)


def _table(df: pd.DataFrame, row_class: list[str] | None = None) -> str:
    if df.empty:
        return "<p class='note'>None.</p>"
    head = "".join(f"<th>{html_text(str(c))}</th>" for c in df.columns)
    rows = []
    for k, row in enumerate(df.astype(object).where(df.notna(), "").itertuples(index=False)):
        cls = f" class='{row_class[k]}'" if row_class and row_class[k] else ""
        rows.append(f"<tr{cls}>" + "".join(f"<td>{html_text(str(v))}</td>" for v in row) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def percent_text(share: object) -> str:
    """A failure share (0-1) as people read it: '16.7 %', '0 %', '' when missing."""
    try:
        v = float(share)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(share)
    if v != v:  # NaN
        return ""
    return "0 %" if v == 0 else f"{100 * v:.1f} %" if 100 * v >= 0.1 else f"{100 * v:.2g} %"


def _page(title: str, body: str, label: str) -> str:
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html_text(title)}"
        f"</title><style>{_STYLE}</style></head><body><h1>{html_text(title)}</h1>"
        f"<p class='note'>{html_text(label)}</p>{body}</body></html>\n"
    )


def _status_with_duplicates(st: pd.DataFrame, own: pd.DataFrame) -> pd.DataFrame:
    """Study-level checks counted over this site's records among the study's findings."""
    counts = own["check"].value_counts()
    at = st["status"].astype(str).eq("study level") & st["check"].isin(counts.index)
    st = st.copy()
    st.loc[at, "failed"] = st.loc[at, "check"].map(counts).astype(int)
    st.loc[at, "share"] = st.loc[at, "failed"] / st.loc[at, "records"].clip(lower=1)
    return st


def _submission_sections(ingest: dict[str, Any], reconciliation: dict[str, Any]) -> str:
    """How the file was read, and where every row went."""
    read = {
        "file": Path(str(ingest.get("file", ""))).name,
        "sha256": ingest.get("sha256"),
        "reader": ingest.get("reader"),
        "encoding": ingest.get("encoding"),
        "sheet": ingest.get("sheet"),
        "submission date": ingest.get("submission_date")
        or "not given (the mapping names a file without a date)",
    }
    rows = {
        "rows read": reconciliation["rows_read"],
        "harmonised": reconciliation["rows_harmonised"],
        "set aside (quarantine)": reconciliation["rows_quarantined"],
        "policy": reconciliation["policy"],
    }
    return (
        "<h2>Submission</h2>"
        + _table(pd.DataFrame([read]))
        + "<h2>Reconciliation</h2><p>Every row read is either harmonised or set aside.</p>"
        + _table(pd.DataFrame([rows]))
    )


def site_report(
    findings: pd.DataFrame,
    status: pd.DataFrame,
    reconciliation: dict[str, Any],
    ingest: dict[str, Any],
    study: dict[str, Any],
    html_out: str,
    csv_out: str,
    duplicates: pd.DataFrame | None = None,
) -> None:
    """One site's report: how the file was read, reconciliation, check status and findings.

    ``duplicates`` (the study-level cross-site duplicate table) puts the site's own
    records of each pair on the page, so the page agrees with the site's query listing
    (the other site is never named)."""
    site = reconciliation["site"]
    label = Study.of(study).data_label
    st = status.drop(columns=["data_label"], errors="ignore")
    own = pd.DataFrame()
    if duplicates is not None and len(duplicates):
        own = duplicates[duplicates["site"].astype(str) == str(site)]
        st = _status_with_duplicates(st, own)
    write_csv(st.assign(data_label=label), csv_out)
    failed = st[st["status"] == "fail"]
    classes = [
        "fail"
        if (r.status == "fail" and r.severity == "fatal")
        else "warn"
        if r.status == "fail"
        else ""
        for r in st.itertuples()
    ]
    fshow = findings.drop(columns=["data_label"], errors="ignore")
    if len(own):
        extra = own.drop(columns=["data_label", "duplicate_group", "quarantined"], errors="ignore")
        fshow = pd.concat([fshow, extra.assign(site=site)], ignore_index=True)
    fclasses = ["fail" if s == "fatal" else "warn" for s in fshow["severity"]]
    shown = st.assign(
        share=[percent_text(v) for v in st["share"]],
        threshold=[percent_text(v) for v in st["threshold"]],
    ).rename(columns={"share": "failing share", "threshold": "tolerated share"})
    body = (
        _submission_sections(ingest, reconciliation) + f"<h2>Checks ({len(failed)} failing)</h2>"
        "<p class='note'>A check fails for the site when the share of failing records exceeds "
        "its tolerated threshold. Fatal findings set the record aside (quarantine policy) or "
        "stop the run (strict policy).</p>"
        + _table(shown, classes)
        + f"<h2>Findings ({len(fshow)})</h2><p class='note'>Patients are shown by study ID; "
        "the site's query listing with its own local IDs is kept in the restricted area.</p>"
        + _table(fshow, fclasses)
    )
    Path(html_out).parent.mkdir(parents=True, exist_ok=True)
    Path(html_out).write_text(
        _page(f"Data quality: site {site} ({study['id']})", body, label), encoding="utf-8"
    )


def study_report(
    findings: list[pd.DataFrame],
    statuses: list[pd.DataFrame],
    reconciliations: list[dict[str, Any]],
    duplicates: pd.DataFrame,
    study: dict[str, Any],
    html_out: str,
    csv_out: str,
) -> None:
    """The study's report: per-site summary, check-by-site failures, cross-site duplicates."""
    label = Study.of(study).data_label
    rows = []
    for rec, f, st in zip(reconciliations, findings, statuses, strict=True):
        rows.append(
            {
                "site": rec["site"],
                "rows read": rec["rows_read"],
                "harmonised": rec["rows_harmonised"],
                "set aside": rec["rows_quarantined"],
                "fatal findings": int((f["severity"] == "fatal").sum()),
                "warnings": int((f["severity"] == "warning").sum()),
                "checks failing": ", ".join(st.loc[st["status"] == "fail", "check"]),
                "warning checks": ", ".join(
                    f"{c}: {k}"
                    for c, k in f.loc[f["severity"] == "warning", "check"]
                    .value_counts()
                    .sort_index()
                    .items()
                ),
            }
        )
    summary = pd.DataFrame(rows)
    total = {
        "site": "All",
        **{
            c: int(summary[c].sum())
            for c in ["rows read", "harmonised", "set aside", "fatal findings", "warnings"]
        },
        "checks failing": "",
        "warning checks": "",
    }
    summary = pd.concat([summary, pd.DataFrame([total])], ignore_index=True)
    write_csv(summary.assign(data_label=label), csv_out)
    allst = pd.concat(statuses, ignore_index=True) if statuses else pd.DataFrame()
    matrix = (
        allst.pivot(index="check", columns="site", values="failed").reset_index()
        if len(allst)
        else pd.DataFrame()
    )
    matrix = matrix[(matrix.drop(columns=["check"]) > 0).any(axis=1)] if len(matrix) else matrix
    policy = reconciliations[0]["policy"] if reconciliations else "quarantine"
    body = (
        f"<p>Policy: <b>{html_text(policy)}</b>. "
        f"{total['set aside']} of {total['rows read']} records set aside.</p>"
        "<h2>Sites</h2>"
        + _table(summary)
        + "<h2>Failing records by check and site</h2>"
        + _table(matrix)
        + "<h2>Same patient sent by two sites (review; never merged)</h2>"
        + _table(duplicates.drop(columns=["data_label"], errors="ignore"))
    )
    Path(html_out).parent.mkdir(parents=True, exist_ok=True)
    Path(html_out).write_text(
        _page(f"Data quality: study {study['id']}", body, label), encoding="utf-8"
    )


def load_json(path: str) -> dict[str, Any]:
    """A JSON file."""
    return json.loads(Path(path).read_text(encoding="utf-8"))
