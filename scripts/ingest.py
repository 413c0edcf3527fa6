"""Snakemake entry point: lossless ingest of one site's submission."""

from cohortflow.core.runner import run_stage
from cohortflow.ingest.stage import ingest_site

smk = snakemake  # noqa: F821
run_stage(
    smk,
    ingest_site,
    submission=smk.input.submission,
    mapping=smk.params.mapping,
    raw_out=smk.output.raw,
    meta_out=smk.output.meta,
)
