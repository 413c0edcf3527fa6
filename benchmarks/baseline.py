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

# the package is importable once ROOT is on the path (the script runs from any directory)
from cohortflow.analyse.stage import analyse_study  # noqa: E402
from cohortflow.classify.stage import classify_study  # noqa: E402
from cohortflow.core.config import load_study  # noqa: E402
from cohortflow.core.runner import setup_logging  # noqa: E402
from cohortflow.core.slices import (  # noqa: E402
    analyse_slice,
    figure_slice,
    label_slice,
    report_slice,
    table_slice,
    workbook_sheets,
)
from cohortflow.harmonise.stage import harmonise_site, merge_sites  # noqa: E402
from cohortflow.ingest.stage import ingest_site  # noqa: E402
from cohortflow.onboard.stage import check_site  # noqa: E402
from cohortflow.render.figure_names import figure_stems  # noqa: E402
from cohortflow.render.stage import (  # noqa: E402
    report_consort,
    report_descriptive_table,
    report_figure,
    report_model_tables,
    report_survival_tables,
    report_workbook,
)
from cohortflow.validate.stage import (  # noqa: E402
    find_cross_site_duplicates,
    report_dq_site,
    report_dq_study,
    validate_site,
    write_query_listing,
)

LONGITUDINAL = ("events", "responses", "treatment_cycles", "transplants")


def previous_submission(mapping: dict[str, Any]) -> str | None:
    """The site's submission before the one in use (as rules/common.smk), or None."""
    earlier = [s for s in mapping["superseded"] if s["date"] < (mapping["submission_date"] or "")]
    return max(earlier, key=lambda s: s["date"])["file"] if earlier else None


#: the analyse stage's outputs (as rules/analyse.smk names them); Parquet or CSV
ANALYSE_OUTPUTS = (
    "cohort adtte survival strata tests flow set_aside eligibility response_rates "
    "response_counts cox cif rmst landmark simon_makuch simon_makuch_at_risk curves"
).split()
ANALYSE_PARQUET = {"cohort", "adtte", "landmark", "simon_makuch", "curves"}
RESULT_DIRS = (
    "mapping", "ingest", "validate", "harmonised/sites", "quarantine", "classify", "analyse",
    "tables", "figures", "dq",
)  # fmt: skip
#: the rules' inputs of the figure and model-table stages (``inputs=dict(smk.input.items())``)
FIGURE_INPUTS = "cohort adtte tests cox curves simon_makuch simon_makuch_at_risk".split()
MODEL_INPUTS = ("cox", "cif", "tests", "set_aside", "rmst")


class Baseline:
    """One study's stages called in order in this process, each timed (seconds by stage in
    ``times``). Paths are relative to the repository root (the working directory while it
    runs), as the workflow's are."""

    def __init__(self, study_id: str, res: Path, rst: Path) -> None:
        self.study_id, self.res, self.rst = study_id, res, rst
        self.study = load_study(study_id, root=Path("."))
        self.sites = list(self.study["sites"])
        self.m = self.study["site_mappings"]
        self.label = self.study.get("data_label", "")
        self.policy = self.study.get("validation", {}).get("policy", "quarantine")
        self.times: dict[str, float] = {}
        self.outputs = {
            n: str(res / "analyse" / f"{n}.{'parquet' if n in ANALYSE_PARQUET else 'csv'}")
            for n in ANALYSE_OUTPUTS
        }
        for d in RESULT_DIRS:
            (res / d).mkdir(parents=True, exist_ok=True)
        for d in ("raw", "queries/checks"):
            (rst / d).mkdir(parents=True, exist_ok=True)

    def timed(self, name: str, fn: Callable[..., Any], **kw: Any) -> None:
        """Call ``fn(**kw)`` and add its seconds to ``times[name]``."""
        t0 = time.perf_counter()
        fn(**kw)
        self.times[name] = self.times.get(name, 0.0) + time.perf_counter() - t0

    def per_site(self, pattern: str) -> list[str]:
        """``pattern`` under the results folder for every site (``{site}`` filled in)."""
        return [str(self.res / pattern.format(site=s)) for s in self.sites]

    def site_chain(self, s: str) -> None:
        """Mapping check, ingest, validation and harmonisation of site ``s``."""
        res, rst, m, study = self.res, self.rst, self.m, self.study
        raw, meta = str(rst / f"raw/{s}.parquet"), str(res / f"ingest/{s}.json")
        summary = str(res / f"validate/{s}.summary.json")
        out = str(res / f"mapping/{s}.check.txt")
        self.timed(
            "check_mapping", check_site, mapping_file=study["sites"][s], out=out,
            study=self.study_id, submission=m[s]["file"],
        )  # fmt: skip
        self.timed(
            "ingest", ingest_site, submission=m[s]["file"], mapping=m[s], raw_out=raw,
            meta_out=meta,
        )  # fmt: skip
        self.timed(
            "validate",
            validate_site,
            raw=raw,
            ingest_meta=meta,
            mapping=m[s],
            demo_key=bool(study["pseudonymisation"].get("demo_key", False)),
            data_label=self.label,
            cutoff=study["cutoff_date"],
            data_out=str(res / f"validate/{s}.parquet"),
            findings_out=str(res / f"validate/{s}.findings.csv"),
            status_out=str(res / f"validate/{s}.status.csv"),
            summary_out=summary,
            queries_stem=str(rst / f"queries/checks/{s}"),
            identifiers=study.get("identifiers", "remove"),
            previous=previous_submission(m[s]),
        )
        self.timed(
            "harmonise",
            harmonise_site,
            validated=str(res / f"validate/{s}.parquet"),
            data_out=str(res / f"harmonised/sites/{s}.parquet"),
            tables_out={t: str(res / f"harmonised/sites/{s}.{t}.parquet") for t in LONGITUDINAL},
            findings=str(res / f"validate/{s}.findings.csv"),
            policy=self.policy,
            quarantine_out=str(res / f"quarantine/{s}.parquet"),
            reconciliation_out=str(res / f"quarantine/{s}.reconciliation.json"),
            validate_summary=summary,
        )

    def cross_site(self) -> None:
        """The cross-site duplicate check over every harmonised site."""
        self.timed(
            "cross_site",
            find_cross_site_duplicates,
            sites=self.per_site("harmonised/sites/{site}.parquet"),
            quarantined=self.per_site("quarantine/{site}.parquet"),
            out=str(self.res / "validate/cross_site_duplicates.csv"),
            data_label=self.label,
            per_site_dir=str(self.res / "validate/duplicates"),
            site_codes=self.sites,
        )

    def site_reports(self, s: str) -> list[tuple[str, Callable[..., Any], dict[str, Any]]]:
        """The per-site stages after the cross-site check: (name, function, the rule's
        inputs, outputs and params for site ``s``)."""
        res, rst = self.res, self.rst
        duplicates = str(res / f"validate/duplicates/{s}.csv")
        listing = {
            "checks_listing": str(rst / f"queries/checks/{s}.csv"),
            "raw": str(rst / f"raw/{s}.parquet"),
            "mapping": self.m[s],
            "csv_out": str(rst / f"queries/{s}.csv"),
            "xlsx_out": str(rst / f"queries/{s}.xlsx"),
        }
        dq = {
            "findings": str(res / f"validate/{s}.findings.csv"),
            "status": str(res / f"validate/{s}.status.csv"),
            "reconciliation": str(res / f"quarantine/{s}.reconciliation.json"),
            "ingest_meta": str(res / f"ingest/{s}.json"),
            "study": label_slice(self.study),
            "html_out": str(res / f"dq/{s}.html"),
            "csv_out": str(res / f"dq/{s}.csv"),
        }
        return [
            ("query_listing", write_query_listing, {**listing, "duplicates": duplicates}),
            ("dq_site", report_dq_site, {**dq, "duplicates": duplicates}),
        ]

    def study_data(self) -> None:
        """The study's data-quality report, the merge, the risk groups and the analysis."""
        res, per_site = self.res, self.per_site
        self.timed(
            "dq_study",
            report_dq_study,
            findings=per_site("validate/{site}.findings.csv"),
            statuses=per_site("validate/{site}.status.csv"),
            reconciliations=per_site("quarantine/{site}.reconciliation.json"),
            duplicates=str(res / "validate/cross_site_duplicates.csv"),
            study=label_slice(self.study),
            html_out=str(res / "dq/study.html"),
            csv_out=str(res / "dq/study.csv"),
        )
        self.timed(
            "merge",
            merge_sites,
            sites=per_site("harmonised/sites/{site}.parquet"),
            data_out=str(res / "harmonised/patients.parquet"),
            data_label=self.label,
            tables_in={t: per_site(f"harmonised/sites/{{site}}.{t}.parquet") for t in LONGITUDINAL},
            tables_out={t: str(res / f"harmonised/{t}.parquet") for t in LONGITUDINAL},
            policy=self.policy,
            statuses=per_site("validate/{site}.status.csv"),
        )
        self.timed(
            "classify",
            classify_study,
            patients=str(res / "harmonised/patients.parquet"),
            schemes=self.study["schemes"],
            data_label=self.label,
            groups_out=str(res / "classify/risk_groups.parquet"),
            explain_out=str(res / "classify/explanations.csv"),
        )
        self.timed(
            "analyse",
            analyse_study,
            patients=str(res / "harmonised/patients.parquet"),
            risk_groups=str(res / "classify/risk_groups.parquet"),
            responses=str(res / "harmonised/responses.parquet"),
            reconciliations=per_site("quarantine/{site}.reconciliation.json"),
            study=analyse_slice(self.study),
            outputs=self.outputs,
        )

    def tables(self) -> None:
        """The descriptive, survival and model tables and the workbook."""
        study, out, tables = self.study, self.outputs, str(self.res / "tables")
        for t in study.get("tables", {}):
            self.timed(
                "descriptive_table", report_descriptive_table, cohort=out["cohort"],
                set_aside=out["set_aside"], study=table_slice(study, t), table=t,
                stem=f"{tables}/{t}",
            )  # fmt: skip
        self.timed(
            "survival_tables",
            report_survival_tables,
            survival=out["survival"],
            strata_csv=out["strata"],
            tests=out["tests"],
            flow=out["flow"],
            response_rates=out["response_rates"],
            response_counts=out["response_counts"],
            set_aside=out["set_aside"],
            study=report_slice(study),
            out_dir=tables,
        )
        self.timed(
            "model_tables", report_model_tables, inputs={k: out[k] for k in MODEL_INPUTS},
            study=report_slice(study), out_dir=tables,
        )  # fmt: skip
        self.timed(
            "workbook", report_workbook, csvs=workbook_sheets(study, str(self.res)),
            study=report_slice(study), out=f"{tables}/tables.xlsx",
        )  # fmt: skip

    def figures(self) -> None:
        """The CONSORT diagram and every figure of the study."""
        study, out = self.study, self.outputs
        self.timed(
            "consort", report_consort, flow=out["flow"], set_aside=out["set_aside"],
            checks="config/checks.yaml", study=label_slice(study),
            stem=str(self.res / "figures/consort"),
        )  # fmt: skip
        for f in figure_stems(study):
            self.timed(
                "figure", report_figure, inputs={k: out[k] for k in FIGURE_INPUTS},
                study=figure_slice(study, f), analysis=f, stem=str(self.res / f"figures/{f}"),
            )  # fmt: skip


def run_baseline(
    root: Path, study_id: str, results: Path, restricted: Path, figures: bool = True
) -> dict[str, float]:
    """Run every stage of ``study_id`` (defined under ``root``) in this process, in the
    workflow's order; returns the seconds per stage."""
    setup_logging(os.devnull)
    cwd = os.getcwd()
    results, restricted = Path(results).resolve(), Path(restricted).resolve()
    os.chdir(root)  # paths in the study and mappings are relative to the repository root
    try:
        # paths relative to the root where possible, as the workflow's are
        rel = lambda p: Path(os.path.relpath(Path(p).resolve(), Path(root).resolve()))  # noqa: E731
        b = Baseline(study_id, rel(results) / study_id, rel(restricted) / study_id)
        for s in b.sites:
            b.site_chain(s)
        b.cross_site()
        for s in b.sites:
            for name, stage, kwargs in b.site_reports(s):
                b.timed(name, stage, **kwargs)
        b.study_data()
        b.tables()
        if figures:
            b.figures()
        return b.times
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
