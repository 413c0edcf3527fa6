"""Snakemake entry point: the study's tables as one XLSX workbook."""

from cohortflow.core.runner import run_stage
from cohortflow.render.stage import report_workbook

smk = snakemake  # noqa: F821
run_stage(
    smk,
    report_workbook,
    csvs=dict(smk.input.items()),
    out=smk.output.xlsx,
)
