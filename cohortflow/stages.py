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
    df: pd.DataFrame, site: str, stage: str, table: str = "patients"
) -> pd.DataFrame:
    """Findings from a lazy pandera validation of a canonical table (all failures collected)."""
    import pandera.errors

    schema = dictionary.pandera_schema(table)
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
                    check=str(fc.get("check")),
                    category="plausibility"
                    if "min" in str(fc.get("check")) or "max" in str(fc.get("check"))
                    else "conformance",
                    severity="fatal",
                    message=f"{stage}: {fc.get('check')} failed (value {fc.get('failure_case')!r})",
                )
            )
        return pd.DataFrame(rows, columns=FINDING_COLUMNS)
    return pd.DataFrame(columns=FINDING_COLUMNS)


def validate_site(
    raw: str,
    ingest_meta: str,
    mapping: dict[str, Any],
    demo_key: bool,
    data_out: str,
    findings_out: str,
    summary_out: str,
    data_label: str = "",
) -> None:
    """Map, pseudonymise and check one site; rows that cannot be identified are set aside."""
    import json

    meta = json.loads(Path(ingest_meta).read_text())
    key = load_key(demo=demo_key)
    rawdf = pd.read_parquet(raw)
    mapped = apply_mapping(rawdf, mapping, key=key, source_sha256=meta["sha256"])
    df = mapped.data
    keep = df["study_id"].notna()
    findings = pd.concat(
        [
            mapped.findings,
            _pandera_findings(
                df.loc[keep, dictionary.columns("patients").keys()].reset_index(drop=True),
                mapping["site"],
                "validate",
            ),
        ],
        ignore_index=True,
    )
    write_parquet(
        df[keep].reset_index(drop=True),
        data_out,
        {
            "stage": "validate",
            "site": mapping["site"],
            "inputs": {"raw_sha256": meta["sha256"]},
            "demo_key": demo_key,
            "data_label": data_label,
            "dictionary_version": dictionary.dictionary_version(),
        },
    )
    findings.insert(0, "data_label", data_label)
    write_csv(findings, findings_out)
    summary = {
        "site": mapping["site"],
        "file": meta["file"],
        "rows_read": int(len(rawdf)),
        "rows_passed_on": int(keep.sum()),
        "rows_set_aside": int((~keep).sum()),
        "set_aside_reason": "local patient ID empty" if (~keep).any() else "",
        "findings_fatal": int((findings["severity"] == "fatal").sum()),
        "findings_warning": int((findings["severity"] == "warning").sum()),
    }
    if summary["rows_read"] != summary["rows_passed_on"] + summary["rows_set_aside"]:
        raise CohortflowError(f"site {mapping['site']}: row reconciliation failed: {summary}")
    write_json(summary, summary_out)
    log.info(
        "site %s: %d rows in, %d passed on, %d set aside, %d fatal / %d warning findings",
        mapping["site"],
        summary["rows_read"],
        summary["rows_passed_on"],
        summary["rows_set_aside"],
        summary["findings_fatal"],
        summary["findings_warning"],
    )


LONGITUDINAL = ("events", "responses", "treatment_cycles", "transplants")


def harmonise_site(validated: str, data_out: str, tables_out: dict[str, str] | None = None) -> None:
    """Canonical tables of one site: patients (derived variables, dictionary dtypes) and the
    longitudinal events, responses, treatment cycles and transplants."""
    from .harmonise import longitudinal

    meta = read_parquet_metadata(validated)
    mapped = pd.read_parquet(validated)
    df = harmonise(mapped)
    problems = _pandera_findings(df, str(meta.get("site")), "harmonise")
    if len(problems):
        log.warning(
            "site %s: %d schema failures after harmonisation (see validation findings)",
            meta.get("site"),
            len(problems),
        )
    prov = {
        "site": meta.get("site"),
        "inputs": {"validated_sha256": sha256_file(validated)},
        "demo_key": meta.get("demo_key"),
        "data_label": meta.get("data_label", ""),
        "dictionary_version": dictionary.dictionary_version(),
    }
    write_parquet(df, data_out, {"stage": "harmonise", "table": "patients", **prov})
    for name, table in longitudinal(mapped).items():
        bad = _pandera_findings(table, str(meta.get("site")), "harmonise", name)
        if len(bad):
            log.warning(
                "site %s: table %s: %d schema failures: %s",
                meta.get("site"),
                name,
                len(bad),
                "; ".join(sorted(set(bad["message"])))[:2000],
            )
        if tables_out and name in tables_out:
            write_parquet(table, tables_out[name], {"stage": "harmonise", "table": name, **prov})
    log.info("site %s: %d patients harmonised", meta.get("site"), len(df))


def merge_sites(
    sites: list[str],
    data_out: str,
    data_label: str,
    tables_in: dict[str, list[str]] | None = None,
    tables_out: dict[str, str] | None = None,
) -> None:
    """The study's harmonised tables: all sites, sorted by site and study ID."""
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


def analyse_study(
    patients: str,
    risk_groups: str,
    study: dict[str, Any],
    outputs: dict[str, str],
    responses: str | None = None,
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
    prov = {
        "inputs": {
            "patients_sha256": sha256_file(patients),
            "risk_groups_sha256": sha256_file(risk_groups),
        },
        "data_label": study.get("data_label", ""),
    }
    write_parquet(cohort, outputs["cohort"], {"stage": "analyse", **prov})
    write_parquet(res["adtte"], outputs["adtte"], {"stage": "analyse", **prov})
    for name in (
        "survival",
        "strata",
        "tests",
        "flow",
        "response_rates",
        "response_counts",
        "eligibility",
    ):
        if name in outputs:
            write_csv(res[name], outputs[name])
    log.info("analysed %d of %d patients", int(cohort["analysed"].sum()), len(cohort))


def report_descriptive_table(cohort: str, study: dict[str, Any], table: str, stem: str) -> None:
    """One descriptive table as CSV (machines), Markdown and HTML (people)."""
    from .report import write_descriptive_table

    write_descriptive_table(pd.read_parquet(cohort), study, table, stem)


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
) -> None:
    """Readable survival, response-rate and flow tables beside the machine-readable CSVs."""
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
    cohort: str, adtte: str, tests: str, study: dict[str, Any], analysis: str, stem: str
) -> None:
    """Kaplan-Meier figure of one analysis as PNG, PDF and SVG."""
    from .report import km_figures

    t = _read_csv_or_empty(tests)
    km_figures(pd.read_parquet(cohort), pd.read_parquet(adtte), t, study, analysis, stem)


def report_consort(flow: str, study: dict[str, Any], stem: str) -> None:
    """CONSORT-style patient-flow figure as PNG, PDF and SVG."""
    from .consort import consort_figure, save_consort

    fig = consort_figure(
        pd.read_csv(flow),
        title=f"{study['title']}: patient flow",
        footnote=study.get("data_label") or None,
    )
    save_consort(fig, Path(stem))


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
