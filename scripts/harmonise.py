"""Snakemake entry point: harmonise one site into the canonical model."""

from cohortflow.runner import run_stage
from cohortflow.stages import LONGITUDINAL, harmonise_site

smk = snakemake  # noqa: F821
run_stage(
    smk,
    harmonise_site,
    validated=smk.input.data,
    data_out=smk.output.data,
    tables_out={t: smk.output[t] for t in LONGITUDINAL},
)
