"""Snakemake entry point: merge the harmonised sites of a study."""

from cohortflow.runner import run_stage
from cohortflow.stages import merge_sites

smk = snakemake  # noqa: F821
run_stage(
    smk,
    merge_sites,
    sites=list(smk.input.sites),
    data_out=smk.output.data,
    data_label=smk.params.data_label,
)
