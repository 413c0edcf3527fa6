"""Snakemake entry point: merge the harmonised sites of a study (strict policy enforced)."""

from cohortflow.core.runner import run_stage
from cohortflow.harmonise.stage import LONGITUDINAL, merge_sites

smk = snakemake  # noqa: F821
run_stage(
    smk,
    merge_sites,
    data_out=smk.output.data,
    tables_in={t: list(smk.input[t]) for t in LONGITUDINAL},
    tables_out={t: smk.output[t] for t in LONGITUDINAL},
)
