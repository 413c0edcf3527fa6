"""Monolithic baseline: the workflow's package functions called in ONE Python process, in the
workflow's order, without Snakemake (no per-job start-up, no DAG, no scheduling).

It writes the same files as the workflow (under ``--results``/``--restricted``) except the
manifest and the run report, so its data outputs can be compared byte for byte with the
workflow's (``tests/test_registry.py``), and it is the yardstick of ``make bench-scale``:

```sh
.venv/bin/python benchmarks/baseline.py --root DIR --study registry [--figures/--no-figures]
```

prints the seconds each stage took and the total.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

LONGITUDINAL = ("events", "responses", "treatment_cycles", "transplants")


def previous_submission(mapping: dict[str, Any]) -> str | None:
    """The site's submission before the one in use (as rules/common.smk), or None."""
    earlier = [s for s in mapping["superseded"] if s["date"] < (mapping["submission_date"] or "")]
    return max(earlier, key=lambda s: s["date"])["file"] if earlier else None


def run_baseline(
    root: Path, study_id: str, results: Path, restricted: Path, figures: bool = True
) -> dict[str, float]:
    """Run every stage of ``study_id`` (defined under ``root``) in this process; returns the
    seconds per stage."""
    from cohortflow.analyse.stage import analyse_study
    from cohortflow.classify.stage import classify_study
    from cohortflow.core.config import load_study
    from cohortflow.core.runner import setup_logging
    from cohortflow.core.slices import (
        analyse_slice,
        figure_slice,
        label_slice,
        report_slice,
        table_slice,
        workbook_sheets,
    )
    from cohortflow.harmonise.stage import harmonise_site, merge_sites
    from cohortflow.ingest.stage import ingest_site
    from cohortflow.onboard.stage import check_site
    from cohortflow.render.figure_names import figure_stems
    from cohortflow.render.stage import (
        report_consort,
        report_descriptive_table,
        report_figure,
        report_model_tables,
        report_survival_tables,
        report_workbook,
    )
    from cohortflow.validate.stage import (
        find_cross_site_duplicates,
        report_dq_site,
        report_dq_study,
        validate_site,
        write_query_listing,
    )

    setup_logging(os.devnull)
    cwd = os.getcwd()
    results, restricted = Path(results).resolve(), Path(restricted).resolve()
    os.chdir(root)  # paths in the study and mappings are relative to the repository root
    try:
        study = load_study(study_id, root=Path("."))
        sites = list(study["sites"])
        m = study["site_mappings"]
        # paths relative to the root where possible, as the workflow's are
        rel = lambda p: Path(os.path.relpath(Path(p).resolve(), Path(root).resolve()))  # noqa: E731
        res, rst = rel(results) / study_id, rel(restricted) / study_id
        for d in (
            "mapping",
            "ingest",
            "validate",
            "harmonised/sites",
            "quarantine",
            "classify",
            "analyse",
            "tables",
            "figures",
            "dq",
        ):
            (res / d).mkdir(parents=True, exist_ok=True)
        for d in ("raw", "queries/checks"):
            (rst / d).mkdir(parents=True, exist_ok=True)
        demo = bool(study["pseudonymisation"].get("demo_key", False))
        label = study.get("data_label", "")
        policy = study.get("validation", {}).get("policy", "quarantine")
        times: dict[str, float] = {}

        def timed(name: str, fn: Callable[..., Any], **kw: Any) -> None:
            t0 = time.perf_counter()
            fn(**kw)
            times[name] = times.get(name, 0.0) + time.perf_counter() - t0

        for s in sites:
            f = {  # this site's files, by what they hold
                "raw": str(rst / f"raw/{s}.parquet"),
                "ingest_meta": str(res / f"ingest/{s}.json"),
                "validated": str(res / f"validate/{s}.parquet"),
                "findings": str(res / f"validate/{s}.findings.csv"),
                "status": str(res / f"validate/{s}.status.csv"),
                "summary": str(res / f"validate/{s}.summary.json"),
                "reconciliation": str(res / f"quarantine/{s}.reconciliation.json"),
            }
            timed(
                "check_mapping",
                check_site,
                mapping_file=study["sites"][s],
                out=str(res / f"mapping/{s}.check.txt"),
                study=study_id,
                submission=m[s]["file"],
            )
            timed(
                "ingest",
                ingest_site,
                submission=m[s]["file"],
                mapping=m[s],
                raw_out=f["raw"],
                meta_out=f["ingest_meta"],
            )
            timed(
                "validate",
                validate_site,
                raw=f["raw"],
                ingest_meta=f["ingest_meta"],
                mapping=m[s],
                demo_key=demo,
                data_label=label,
                cutoff=study["cutoff_date"],
                data_out=f["validated"],
                findings_out=f["findings"],
                status_out=f["status"],
                summary_out=f["summary"],
                queries_stem=str(rst / f"queries/checks/{s}"),
                identifiers=study.get("identifiers", "remove"),
                previous=previous_submission(m[s]),
            )
            timed(
                "harmonise",
                harmonise_site,
                validated=f["validated"],
                data_out=str(res / f"harmonised/sites/{s}.parquet"),
                tables_out={
                    t: str(res / f"harmonised/sites/{s}.{t}.parquet") for t in LONGITUDINAL
                },
                findings=f["findings"],
                policy=policy,
                quarantine_out=str(res / f"quarantine/{s}.parquet"),
                reconciliation_out=f["reconciliation"],
                validate_summary=f["summary"],
            )
        per_site = lambda pattern: [str(res / pattern.format(site=s)) for s in sites]  # noqa: E731
        timed(
            "cross_site",
            find_cross_site_duplicates,
            sites=per_site("harmonised/sites/{site}.parquet"),
            quarantined=per_site("quarantine/{site}.parquet"),
            out=str(res / "validate/cross_site_duplicates.csv"),
            data_label=label,
            per_site_dir=str(res / "validate/duplicates"),
            site_codes=sites,
        )

        def site_reports(s: str) -> list[tuple[str, Callable[..., Any], dict[str, Any]]]:
            """The per-site stages after the cross-site check: (name, function, the rule's
            inputs, outputs and params for site ``s``)."""
            duplicates = str(res / f"validate/duplicates/{s}.csv")
            listing = {
                "checks_listing": str(rst / f"queries/checks/{s}.csv"),
                "raw": str(rst / f"raw/{s}.parquet"),
                "mapping": m[s],
                "csv_out": str(rst / f"queries/{s}.csv"),
                "xlsx_out": str(rst / f"queries/{s}.xlsx"),
            }
            dq = {
                "findings": str(res / f"validate/{s}.findings.csv"),
                "status": str(res / f"validate/{s}.status.csv"),
                "reconciliation": str(res / f"quarantine/{s}.reconciliation.json"),
                "ingest_meta": str(res / f"ingest/{s}.json"),
                "study": label_slice(study),
                "html_out": str(res / f"dq/{s}.html"),
                "csv_out": str(res / f"dq/{s}.csv"),
            }
            return [
                ("query_listing", write_query_listing, {**listing, "duplicates": duplicates}),
                ("dq_site", report_dq_site, {**dq, "duplicates": duplicates}),
            ]

        for s in sites:
            for name, stage, kwargs in site_reports(s):
                timed(name, stage, **kwargs)
        timed(
            "dq_study",
            report_dq_study,
            findings=per_site("validate/{site}.findings.csv"),
            statuses=per_site("validate/{site}.status.csv"),
            reconciliations=per_site("quarantine/{site}.reconciliation.json"),
            duplicates=str(res / "validate/cross_site_duplicates.csv"),
            study=label_slice(study),
            html_out=str(res / "dq/study.html"),
            csv_out=str(res / "dq/study.csv"),
        )
        timed(
            "merge",
            merge_sites,
            sites=per_site("harmonised/sites/{site}.parquet"),
            data_out=str(res / "harmonised/patients.parquet"),
            data_label=label,
            tables_in={t: per_site(f"harmonised/sites/{{site}}.{t}.parquet") for t in LONGITUDINAL},
            tables_out={t: str(res / f"harmonised/{t}.parquet") for t in LONGITUDINAL},
            policy=policy,
            statuses=per_site("validate/{site}.status.csv"),
        )
        timed(
            "classify",
            classify_study,
            patients=str(res / "harmonised/patients.parquet"),
            schemes=study["schemes"],
            data_label=label,
            groups_out=str(res / "classify/risk_groups.parquet"),
            explain_out=str(res / "classify/explanations.csv"),
        )
        a = res / "analyse"
        names = (
            "cohort adtte survival strata tests flow set_aside eligibility response_rates "
            "response_counts cox cif rmst landmark simon_makuch simon_makuch_at_risk curves"
        ).split()
        ext = {n: "parquet" for n in ("cohort", "adtte", "landmark", "simon_makuch", "curves")}
        outputs = {n: str(a / f"{n}.{ext.get(n, 'csv')}") for n in names}
        timed(
            "analyse",
            analyse_study,
            patients=str(res / "harmonised/patients.parquet"),
            risk_groups=str(res / "classify/risk_groups.parquet"),
            responses=str(res / "harmonised/responses.parquet"),
            reconciliations=per_site("quarantine/{site}.reconciliation.json"),
            study=analyse_slice(study),
            outputs=outputs,
        )
        for t in study.get("tables", {}):
            timed(
                "descriptive_table",
                report_descriptive_table,
                cohort=outputs["cohort"],
                set_aside=outputs["set_aside"],
                study=table_slice(study, t),
                table=t,
                stem=str(res / f"tables/{t}"),
            )
        timed(
            "survival_tables",
            report_survival_tables,
            survival=outputs["survival"],
            strata_csv=outputs["strata"],
            tests=outputs["tests"],
            flow=outputs["flow"],
            response_rates=outputs["response_rates"],
            response_counts=outputs["response_counts"],
            set_aside=outputs["set_aside"],
            study=report_slice(study),
            out_dir=str(res / "tables"),
        )
        # the rules' inputs, as the entry scripts pass them (`inputs=dict(smk.input.items())`)
        model_inputs = ("cox", "cif", "tests", "set_aside", "rmst")
        timed(
            "model_tables",
            report_model_tables,
            inputs={k: outputs[k] for k in model_inputs},
            study=report_slice(study),
            out_dir=str(res / "tables"),
        )
        timed(
            "workbook",
            report_workbook,
            csvs=workbook_sheets(study, str(res)),
            study=report_slice(study),
            out=str(res / "tables/tables.xlsx"),
        )
        if figures:
            timed(
                "consort",
                report_consort,
                flow=outputs["flow"],
                set_aside=outputs["set_aside"],
                checks="config/checks.yaml",
                study=label_slice(study),
                stem=str(res / "figures/consort"),
            )
            figure_inputs = "cohort adtte tests cox curves simon_makuch simon_makuch_at_risk"
            for f in figure_stems(study):
                timed(
                    "figure",
                    report_figure,
                    inputs={k: outputs[k] for k in figure_inputs.split()},
                    study=figure_slice(study, f),
                    analysis=f,
                    stem=str(res / f"figures/{f}"),
                )
        return times
    finally:
        os.chdir(cwd)


def main(argv: list[str] | None = None) -> None:
    """Command line: see the module docstring."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", type=Path, default=ROOT, help="repository root holding the study")
    ap.add_argument("--study", default="registry")
    ap.add_argument("--results", type=Path, default=None, help="default: ROOT/baseline/results")
    ap.add_argument("--restricted", type=Path, default=None)
    ap.add_argument("--figures", action=argparse.BooleanOptionalAction, default=True)
    a = ap.parse_args(argv)
    root = a.root.resolve()
    results = (a.results or root / "baseline" / "results").resolve()
    restricted = (a.restricted or root / "baseline" / "restricted").resolve()
    t0 = time.perf_counter()
    times = run_baseline(root, a.study, results, restricted, a.figures)
    total = time.perf_counter() - t0
    for name, sec in sorted(times.items(), key=lambda kv: -kv[1]):
        print(f"{name:<20} {sec:8.2f} s")
    print(f"{'total':<20} {total:8.2f} s")


if __name__ == "__main__":
    main()
