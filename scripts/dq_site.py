"""Snakemake entry point: one site's data-quality report."""

from cohortflow.core.runner import run_stage
from cohortflow.validate.stage import report_dq_site

smk = snakemake  # noqa: F821
run_stage(
    smk,
    report_dq_site,
    ingest_meta=smk.input.meta,
    html_out=smk.output.html,
    csv_out=smk.output.csv,
)
