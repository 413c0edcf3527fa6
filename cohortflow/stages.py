"""Pipeline stages as plain functions (called by scripts/, usable without Snakemake)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from . import dictionary
from .errors import CohortflowError, SubmissionError
from .harmonise import harmonise
from .io import read_parquet_metadata, sha256_file, write_csv, write_json, write_parquet
from .mapping import FINDING_COLUMNS, apply_mapping
from .pseudonym import load_key
from .readers import read_submission

log = logging.getLogger("cohortflow")


def ingest_site(submission: str, mapping: dict[str, Any], raw_out: str, meta_out: str) -> None:
    """Lossless all-text copy of one submission (restricted area) and its reader facts."""
    site = mapping["site"]
    res = read_submission(submission, mapping.get("reader"), site=site)
    file = Path(submission).name
    cols = set(res.data.columns)
    needed = (
        {mapping["local_id"]}
        | {r["source"] for r in mapping["columns"].values()}
        | {r["unit_source"] for r in mapping["columns"].values() if "unit_source" in r}
    )
    absent = sorted(needed - cols)
    if absent:
        raise SubmissionError(
            f"mapped column(s) {absent} not in the file; the file has {sorted(cols)}. Fix the "
            "site mapping or ask the site for the expected layout",
            site=site,
            file=file,
        )
    _refuse_identifiers(res, mapping, submission)
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


def _refuse_identifiers(res: Any, mapping: dict[str, Any], submission: str) -> None:
    """Stop when a column looks like a direct identifier and the mapping does not drop it."""
    from .identifiers import scan

    coded = {r["source"] for r in mapping["columns"].values() if r.get("codes")}
    found = scan(res.data, exempt={mapping["local_id"]}, coded=coded)
    if res.reader == "redcap" and mapping.get("reader", {}).get("dictionary"):
        from .identifiers import IdentifierColumn
        from .readers_redcap import redcap_identifier_fields

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
        listing = "; ".join(f"{f.column!r} ({f.kind}, recognised by {f.how})" for f in undropped)
        raise SubmissionError(
            f"refused: column(s) holding direct identifiers: {listing}. Identifiers must not "
            "leave the ingestion step: list these columns under `drop:` in the site mapping "
            "(values are not shown here)",
            site=mapping["site"],
            file=Path(submission).name,
            column=", ".join(f.column for f in undropped),
        )


def _pandera_findings(
    df: pd.DataFrame, site: str, stage: str, table: str = "patients", ranges: bool = True
) -> pd.DataFrame:
    """Findings from a lazy pandera validation of a canonical table (all failures collected)."""
    import pandera.errors

    schema = dictionary.pandera_schema(table, ranges=ranges)
    try:
        schema.validate(df, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        rows = []
        for fc in exc.failure_cases.to_dict("records"):
            idx = fc.get("index")
            ok = idx is not None and not pd.isna(idx) and int(idx) < len(df)
            rows.append(
                dict(
                    site=site,
                    study_id=df["study_id"].iloc[int(idx)] if ok else None,
                    source_row=int(df["source_row"].iloc[int(idx)]) if ok else None,
                    source_column=None,
                    variable=fc.get("column"),
                    value=str(fc.get("failure_case")),
                    check="schema_conformance",
                    category="conformance",
                    severity="fatal",
                    message=f"{stage}: {table} schema check {fc.get('check')} failed",
                )
            )
        return pd.DataFrame(rows, columns=FINDING_COLUMNS)
    return pd.DataFrame(columns=FINDING_COLUMNS)


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
    for i in out.index[out["source_column"].isna() & out["variable"].notna()]:
        cols: list[str] = []
        for v in str(out.at[i, "variable"]).split(";"):
            for base in DERIVED_FROM.get(v, [v]):
                if base in src and src[base] not in cols:
                    cols.append(src[base])
        out.at[i, "source_column"] = "; ".join(cols) or None
    return out


QUERY_COLUMNS = [
    "site",
    "local_patient_id",
    "row",
    "column",
    "variable",
    "value",
    "check",
    "severity",
    "message",
]


def _write_query_listing(findings: pd.DataFrame, local_of: dict[str, str], out_stem: str) -> None:
    """The site's query listing (CSV and XLSX) with its own local IDs: restricted area only."""
    q = pd.DataFrame(
        {
            "site": findings["site"],
            "local_patient_id": [
                local_of.get(s, "") if isinstance(s, str) else "" for s in findings["study_id"]
            ],
            "row": findings["source_row"],
            "column": findings["source_column"],
            "variable": findings["variable"],
            "value": findings["value"],
            "check": findings["check"],
            "severity": findings["severity"],
            "message": findings["message"],
        },
        columns=QUERY_COLUMNS,
    )
    _write_listing_files(q, f"{out_stem}.csv", f"{out_stem}.xlsx")


def _write_listing_files(q: pd.DataFrame, csv_out: str, xlsx_out: str) -> None:
    write_csv(q, csv_out)
    from .export import write_xlsx

    write_xlsx(
        {"queries": q},
        xlsx_out,
        title="Data queries: please correct at source and resubmit",
        footnotes=[
            "Each row: a record (row number in your file), the column, the value "
            "read, the check it failed and what to fix."
        ],
    )


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
) -> pd.DataFrame:
    """Map, pseudonymise and check one site against the check catalogue.

    ``key`` overrides the study's pseudonymisation key (the pre-submission check uses a
    throwaway key, so a site never needs the coordinating centre's secret).

    Writes the mapped rows, every finding (shareable: study IDs, no local IDs), the per-check
    site status and, in the restricted area, the site's query listing with its local IDs.
    Returns the findings.
    """
    import json

    from .checks import annotate, run_row_checks, site_status

    meta = json.loads(Path(ingest_meta).read_text())
    key = key if key is not None else load_key(demo=demo_key)
    rawdf = pd.read_parquet(raw)
    mapped = apply_mapping(rawdf, mapping, key=key, source_sha256=meta["sha256"])
    df = mapped.data
    keep = df["study_id"].notna()
    kept = df[keep].reset_index(drop=True)
    site = mapping["site"]
    findings = pd.concat(
        [
            mapped.findings,
            _pandera_findings(
                kept[list(dictionary.columns("patients"))], site, "validate", ranges=False
            ),
            run_row_checks(harmonise(kept), cutoff, site),
        ],
        ignore_index=True,
    )
    findings = (
        annotate(_locate_sources(findings, mapping))
        .sort_values(["source_row", "check", "variable"], kind="stable")
        .reset_index(drop=True)
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
    out = findings.copy()
    out.insert(0, "data_label", data_label)
    write_csv(out, findings_out)
    status = site_status(findings, int(len(rawdf)), site)
    if status_out:
        write_csv(status.assign(data_label=data_label), status_out)
    if queries_stem:
        local_of = {
            sid: loc
            for sid, loc in zip(df["study_id"], mapped.local_ids, strict=True)
            if isinstance(sid, str)
        }
        _write_query_listing(findings, local_of, queries_stem)
    summary = {
        "site": site,
        "file": meta["file"],
        "rows_read": int(len(rawdf)),
        "rows_passed_on": int(keep.sum()),
        "rows_set_aside": int((~keep).sum()),
        "set_aside_reason": "local patient ID empty" if (~keep).any() else "",
        "findings_fatal": int((findings["severity"] == "fatal").sum()),
        "findings_warning": int((findings["severity"] == "warning").sum()),
        "checks_failed": sorted(status.loc[status["status"] == "fail", "check"]),
    }
    if summary["rows_read"] != summary["rows_passed_on"] + summary["rows_set_aside"]:
        raise CohortflowError(f"site {site}: row reconciliation failed: {summary}")
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


LONGITUDINAL = ("events", "responses", "treatment_cycles", "transplants")


def harmonise_site(
    validated: str,
    data_out: str,
    tables_out: dict[str, str] | None = None,
    findings: str | None = None,
    policy: str = "quarantine",
    quarantine_out: str | None = None,
    reconciliation_out: str | None = None,
    validate_summary: str | None = None,
) -> None:
    """Canonical tables of one site: patients (derived variables, dictionary dtypes) and the
    longitudinal events, responses, treatment cycles and transplants.

    Under the ``quarantine`` policy, records with a fatal finding are set aside (with their
    reasons) instead of harmonised; under ``strict`` all are kept and the merge stops.
    """
    import json

    from .harmonise import longitudinal

    meta = read_parquet_metadata(validated)
    mapped = pd.read_parquet(validated)
    site = str(meta.get("site"))
    reasons: dict[str, str] = {}
    if findings and policy == "quarantine":
        f = pd.read_csv(findings)
        fatal = f[(f["severity"] == "fatal") & f["study_id"].notna()]
        for sid, g in fatal.groupby("study_id", sort=True):
            reasons[sid] = "; ".join(sorted(set(g["check"])))
    aside = mapped["study_id"].isin(list(reasons))
    set_aside = mapped[aside].reset_index(drop=True)
    mapped = mapped[~aside].reset_index(drop=True)
    df = harmonise(mapped)
    problems = _pandera_findings(df, site, "harmonise")
    if len(problems) and policy == "quarantine":
        raise CohortflowError(
            f"site {site}: {len(problems)} harmonised values break the canonical schema although "
            "no fatal finding was raised; this is a bug in the check catalogue or the mapping"
        )
    prov = {
        "site": meta.get("site"),
        "inputs": {"validated_sha256": sha256_file(validated)},
        "demo_key": meta.get("demo_key"),
        "data_label": meta.get("data_label", ""),
        "dictionary_version": dictionary.dictionary_version(),
        "policy": policy,
    }
    write_parquet(df, data_out, {"stage": "harmonise", "table": "patients", **prov})
    for name, table in longitudinal(mapped).items():
        bad = _pandera_findings(table, site, "harmonise", name)
        if len(bad):
            log.warning("site %s: table %s: %d schema failures", site, name, len(bad))
        if tables_out and name in tables_out:
            write_parquet(table, tables_out[name], {"stage": "harmonise", "table": name, **prov})
    if quarantine_out:
        q = harmonise(set_aside) if len(set_aside) else dictionary.empty_frame()
        q = q.assign(quarantine_reasons=[reasons[s] for s in q["study_id"]])
        write_parquet(q, quarantine_out, {"stage": "quarantine", **prov})
    if reconciliation_out:
        vs = json.loads(Path(validate_summary).read_text()) if validate_summary else {}
        rec = {
            "site": site,
            "file": vs.get("file"),
            "rows_read": vs.get("rows_read"),
            "rows_harmonised": int(len(df)),
            "rows_quarantined": int(len(set_aside)) + int(vs.get("rows_set_aside", 0)),
            "quarantine_reasons": {
                **reasons,
                **({"(no local ID)": "local_id_present"} if vs.get("rows_set_aside") else {}),
            },
            "policy": policy,
        }
        if vs and rec["rows_read"] != rec["rows_harmonised"] + rec["rows_quarantined"]:
            raise CohortflowError(f"site {site}: rows read != harmonised + quarantined: {rec}")
        write_json(rec, reconciliation_out)
    log.info("site %s: %d patients harmonised, %d set aside", site, len(df), len(set_aside))


def merge_sites(
    sites: list[str],
    data_out: str,
    data_label: str,
    tables_in: dict[str, list[str]] | None = None,
    tables_out: dict[str, str] | None = None,
    policy: str = "quarantine",
    statuses: list[str] | None = None,
) -> None:
    """The study's harmonised tables: all sites, sorted by site and study ID.

    Under the ``strict`` policy a fatal check failing at any site stops the run here, before
    anything is merged, with a one-screen summary. Patients sent by two sites are flagged by
    ``find_cross_site_duplicates`` and never merged.
    """
    if policy == "strict" and statuses:
        st = pd.concat([pd.read_csv(p) for p in statuses], ignore_index=True)
        bad = st[(st["severity"] == "fatal") & (st["status"] == "fail")]
        if len(bad):
            lines = [
                f"  {r.site:<8} {r.check:<28} {r.failed:>4} of {r.records} records"
                for r in bad.itertuples()
            ]
            raise CohortflowError(
                "strict policy: fatal data-quality checks failed, nothing was merged.\n"
                f"  {'site':<8} {'check':<28} failing\n" + "\n".join(lines) + "\n"
                "See results/<study>/dq/ for the reports and restricted/<study>/queries/ for "
                "the listings to send to the sites; or set `validation: {policy: quarantine}` "
                "in the study definition to set these records aside and proceed."
            )
    frames = [pd.read_parquet(p) for p in sites]
    df = pd.concat(frames, ignore_index=True) if frames else dictionary.empty_frame()
    df = dictionary.conform(df.sort_values(["site", "study_id"], kind="stable"))
    dup = df["study_id"].duplicated(keep=False)
    if dup.any():
        raise CohortflowError(
            f"{int(dup.sum())} rows share a study ID across the merge; "
            "see the validation findings (duplicate local IDs)"
        )
    meta = {"data_label": data_label, "dictionary_version": dictionary.dictionary_version()}
    write_parquet(
        df,
        data_out,
        {
            "stage": "merge",
            "table": "patients",
            **meta,
            "inputs": {Path(p).name: sha256_file(p) for p in sites},
        },
    )
    for name, paths in (tables_in or {}).items():
        parts = [pd.read_parquet(p) for p in paths]
        t = pd.concat(parts, ignore_index=True) if parts else dictionary.empty_frame(name)
        t = dictionary.conform(t.sort_values(["site", "study_id"], kind="stable"), name)
        write_parquet(
            t,
            tables_out[name],
            {
                "stage": "merge",
                "table": name,
                **meta,
                "inputs": {Path(p).name: sha256_file(p) for p in paths},
            },
        )
    log.info("merged %d sites, %d patients", len(frames), len(df))


def find_cross_site_duplicates(
    sites: list[str], quarantined: list[str], out: str, data_label: str = ""
) -> None:
    """Records of different sites with the same sex, birth date and diagnosis date (harmonised
    and set-aside records alike), for review; nothing is merged."""
    from .checks import DUPLICATE_KEY, cross_site_duplicates

    cols = ["study_id", "site", "source_row", *DUPLICATE_KEY]
    parts = [pd.read_parquet(p, columns=cols).assign(quarantined=False) for p in sites]
    parts += [pd.read_parquet(p, columns=cols).assign(quarantined=True) for p in quarantined]
    every = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)
    dups = cross_site_duplicates(every)
    dups["quarantined"] = dups["study_id"].map(
        dict(zip(every["study_id"], every["quarantined"], strict=True))
    )
    write_csv(dups.assign(data_label=data_label), out)
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
    from .checks import DUPLICATE_KEY

    site = mapping["site"]
    q = pd.read_csv(checks_listing, dtype=str, keep_default_na=False)
    d = _read_csv_or_empty(duplicates)
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
    _write_listing_files(q, csv_out, xlsx_out)


def classify_study(
    patients: str,
    schemes: dict[str, dict[str, Any]],
    groups_out: str,
    explain_out: str,
    data_label: str = "",
) -> None:
    """Risk group per patient and scheme, with the criteria that fired."""
    from .analysis import classify_all

    df = pd.read_parquet(patients)
    risk = classify_all(df, schemes)
    risk.insert(0, "data_label", data_label)
    write_parquet(
        risk,
        groups_out,
        {
            "stage": "classify",
            "schemes": {k: v["version"] for k, v in schemes.items()},
            "inputs": {"patients_sha256": sha256_file(patients)},
        },
    )
    write_csv(risk, explain_out)
    for (scheme, group), n in risk.groupby(["scheme", "group"]).size().items():
        log.info("scheme %s: %s = %d", scheme, group, n)


def _check_adtte(adtte: pd.DataFrame) -> None:
    """Stop with every violation listed when the ADTTE dataset breaks its schema."""
    import pandera.errors

    from .endpoints import adtte_schema

    try:
        adtte_schema().validate(adtte, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        lines = [
            f"  {r.get('column')}: {r.get('check')} (value {r.get('failure_case')})"
            for r in cases.head(20).to_dict("records")
        ]
        raise CohortflowError(
            "the analysis dataset (ADTTE) breaks its schema, e.g. a follow-up date before the "
            "time origin; fix the records (see the data-quality report):\n" + "\n".join(lines)
        ) from None


def analyse_study(
    patients: str,
    risk_groups: str,
    study: dict[str, Any],
    outputs: dict[str, str],
    responses: str | None = None,
    reconciliations: list[str] | None = None,
) -> None:
    """Cohort with eligibility, ADTTE endpoints, KM summaries, tests, responses and the flow."""
    from .analysis import analyse, build_cohort

    resp_spec = study.get("responses") or {}
    cohort = build_cohort(
        pd.read_parquet(patients),
        pd.read_parquet(risk_groups),
        study.get("eligibility", {}),
        pd.read_parquet(responses) if responses else None,
        resp_spec.get("order"),
    )
    res = analyse(cohort, study)
    _check_adtte(res["adtte"])
    prov = {
        "inputs": {
            "patients_sha256": sha256_file(patients),
            "risk_groups_sha256": sha256_file(risk_groups),
        },
        "data_label": study.get("data_label", ""),
    }
    write_parquet(cohort, outputs["cohort"], {"stage": "analyse", **prov})
    write_parquet(res["adtte"], outputs["adtte"], {"stage": "analyse", **prov})
    if reconciliations and "set_aside" in outputs:
        write_csv(
            set_aside_table(reconciliations, study.get("data_label", "")), outputs["set_aside"]
        )
    for name in (
        "survival",
        "strata",
        "tests",
        "flow",
        "response_rates",
        "response_counts",
        "eligibility",
        "cox",
        "cif",
    ):
        if name in outputs:
            write_csv(res[name], outputs[name])
    log.info("analysed %d of %d patients", int(cohort["analysed"].sum()), len(cohort))


def set_aside_table(reconciliations: list[str], data_label: str = "") -> pd.DataFrame:
    """Records received and set aside (quarantined) per site and overall."""
    import json

    rows = []
    for p in reconciliations:
        r = json.loads(Path(p).read_text(encoding="utf-8"))
        rows.append(
            {
                "site": r["site"],
                "records_received": r["rows_read"],
                "set_aside": r["rows_quarantined"],
                "policy": r["policy"],
            }
        )
    df = pd.DataFrame(rows, columns=["site", "records_received", "set_aside", "policy"])
    total = {
        "site": "All",
        "records_received": int(df["records_received"].sum()),
        "set_aside": int(df["set_aside"].sum()),
        "policy": df["policy"].iloc[0] if len(df) else "",
    }
    return pd.concat([df, pd.DataFrame([total])], ignore_index=True).assign(data_label=data_label)


def set_aside_note(path: str | None) -> str:
    """Footnote stating how many records were set aside before the analysis."""
    if not path or not Path(path).exists():
        return ""
    t = pd.read_csv(path)
    tot = t[t["site"] == "All"].iloc[0]
    return (
        f"{int(tot['set_aside'])} of {int(tot['records_received'])} submitted records were "
        f"set aside for fatal data-quality findings ({tot['policy']} policy) and are not "
        "counted here; see dq/study.html."
    )


def report_descriptive_table(
    cohort: str, study: dict[str, Any], table: str, stem: str, set_aside: str | None = None
) -> None:
    """One descriptive table as CSV (machines), Markdown and HTML (people)."""
    from .report import write_descriptive_table

    write_descriptive_table(
        pd.read_parquet(cohort), study, table, stem, extra_notes=[set_aside_note(set_aside)]
    )


def _read_csv_or_empty(path: str) -> pd.DataFrame:
    return pd.read_csv(path) if Path(path).stat().st_size > 1 else pd.DataFrame()


def report_survival_tables(
    survival: str,
    strata_csv: str,
    tests: str,
    flow: str,
    study: dict[str, Any],
    out_dir: str,
    response_rates: str | None = None,
    response_counts: str | None = None,
    set_aside: str | None = None,
) -> None:
    """Readable survival, response-rate and flow tables beside the machine-readable CSVs."""
    study = _with_set_aside(study, set_aside)
    from .report import write_flow, write_response_tables, write_survival_tables

    write_response_tables(
        _read_csv_or_empty(response_rates) if response_rates else pd.DataFrame(),
        _read_csv_or_empty(response_counts) if response_counts else pd.DataFrame(),
        study,
        out_dir,
    )

    write_survival_tables(
        pd.read_csv(survival), pd.read_csv(strata_csv), _read_csv_or_empty(tests), study, out_dir
    )
    write_flow(pd.read_csv(flow), study, out_dir)


def report_figure(
    cohort: str,
    adtte: str,
    tests: str,
    study: dict[str, Any],
    analysis: str,
    stem: str,
    cox: str | None = None,
) -> None:
    """Figure ``analysis`` (km_..., cif_..., forest_..., swimmer) as PNG, PDF and SVG."""
    from .report import any_figure

    any_figure(
        analysis,
        pd.read_parquet(cohort),
        pd.read_parquet(adtte),
        _read_csv_or_empty(tests),
        _read_csv_or_empty(cox) if cox else pd.DataFrame(),
        study,
        stem,
    )


def _with_set_aside(study: dict[str, Any], set_aside: str | None) -> dict[str, Any]:
    """The study with the set-aside count appended to the label every table prints."""
    label = " ".join(x for x in [study.get("data_label", ""), set_aside_note(set_aside)] if x)
    return {**study, "data_label": label}


def report_model_tables(
    cox: str,
    cif: str,
    tests: str,
    study: dict[str, Any],
    out_dir: str,
    set_aside: str | None = None,
) -> None:
    """Cox and competing-risks tables for people (Markdown, HTML)."""
    from .report import write_model_tables

    study = _with_set_aside(study, set_aside)

    write_model_tables(
        _read_csv_or_empty(cox), _read_csv_or_empty(cif), _read_csv_or_empty(tests), study, out_dir
    )


def report_workbook(csvs: dict[str, str], study: dict[str, Any], out: str) -> None:
    """The study's tables in one XLSX workbook (the set-aside counts as a sheet and a note)."""
    from .report import write_workbook

    study = _with_set_aside(study, csvs.get("set_aside"))

    write_workbook(csvs, study, out)


def report_consort(flow: str, study: dict[str, Any], stem: str) -> None:
    """CONSORT-style patient-flow figure as PNG, PDF and SVG."""
    from .consort import consort_figure, save_consort

    fig = consort_figure(
        pd.read_csv(flow),
        title=f"{study['title']}: patient flow",
        footnote=study.get("data_label") or None,
    )
    save_consort(fig, Path(stem))


def report_dq_site(
    findings: str,
    status: str,
    reconciliation: str,
    ingest_meta: str,
    study: dict[str, Any],
    html_out: str,
    csv_out: str,
) -> None:
    """One site's data-quality report (HTML and CSV)."""
    from .dq import load_json, site_report

    site_report(
        pd.read_csv(findings),
        pd.read_csv(status),
        load_json(reconciliation),
        load_json(ingest_meta),
        study,
        html_out,
        csv_out,
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
    from .dq import load_json, study_report

    study_report(
        [pd.read_csv(p) for p in findings],
        [pd.read_csv(p) for p in statuses],
        [load_json(p) for p in reconciliations],
        _read_csv_or_empty(duplicates),
        study,
        html_out,
        csv_out,
    )


def report_run(study: dict[str, Any], manifest: str, out: str) -> None:
    """The study's self-contained HTML run report (tables, figures, data quality, manifest)."""
    import json

    from .runreport import build_run_report

    build_run_report(
        study,
        Path(manifest).parent,
        Path(out),
        manifest=json.loads(Path(manifest).read_text(encoding="utf-8")),
    )


def write_manifest(
    study: dict[str, Any],
    submissions: list[str],
    ingest_meta: list[str],
    summaries: list[str],
    config_files: list[str],
    outputs: list[str],
    out: str,
    superseded: list[dict[str, Any]] | None = None,
) -> None:
    """The study's manifest JSON."""
    import json

    from .manifest import build_manifest

    man = build_manifest(
        study,
        submissions=submissions,
        config_files=config_files,
        outputs=outputs,
        ingest_meta=[json.loads(Path(p).read_text()) for p in ingest_meta],
        site_summaries=[json.loads(Path(p).read_text()) for p in summaries],
        superseded=superseded or [],
    )
    write_json(man, out)
