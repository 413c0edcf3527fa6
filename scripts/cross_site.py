"""Snakemake entry point: flag patients sent by two sites (all sites' records, never merged)."""

from cohortflow.core.runner import run_stage
from cohortflow.validate.stage import find_cross_site_duplicates

smk = snakemake  # noqa: F821
run_stage(
    smk,
    find_cross_site_duplicates,
    out=smk.output.duplicates,
    per_site_dir=smk.output.per_site,
    site_codes=list(smk.params.sites),
)
