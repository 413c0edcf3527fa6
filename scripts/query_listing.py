"""Snakemake entry point: one site's query listing (restricted), cross-site checks included."""

from cohortflow.core.runner import run_stage
from cohortflow.validate.stage import write_query_listing

smk = snakemake  # noqa: F821
run_stage(
    smk,
    write_query_listing,
    checks_listing=smk.input.checks,
    csv_out=smk.output.csv,
    xlsx_out=smk.output.xlsx,
)
