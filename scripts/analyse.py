"""Snakemake entry point: eligibility, endpoints and survival estimates of a study."""

from cohortflow.analyse.stage import analyse_study
from cohortflow.core.runner import run_stage

smk = snakemake  # noqa: F821
run_stage(
    smk,
    analyse_study,
    risk_groups=smk.input.groups,
    outputs=dict(smk.output.items()),
)
