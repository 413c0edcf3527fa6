"""Snakemake entry point: check one site's mapping against its file before any data job."""

from cohortflow.core.runner import run_stage
from cohortflow.onboard.stage import check_site

smk = snakemake  # noqa: F821
run_stage(
    smk,
    check_site,
    out=smk.output.report,
)
