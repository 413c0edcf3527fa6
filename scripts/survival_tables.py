"""Snakemake entry point: readable survival tables and the patient-flow table of a study."""

from pathlib import Path

from cohortflow.core.runner import run_stage
from cohortflow.render.stage import report_survival_tables

smk = snakemake  # noqa: F821
run_stage(
    smk,
    report_survival_tables,
    strata_csv=smk.input.strata,
    out_dir=str(Path(smk.output.md).parent),
)
