"""Snakemake entry point: lossless ingest of one site's submission."""

from cohortflow.core.runner import run_stage
from cohortflow.ingest.stage import ingest_site

smk = snakemake  # noqa: F821
run_stage(
    smk,
    ingest_site,
    raw_out=smk.output.raw,
    meta_out=smk.output.meta,
)
