"""Snakemake entry point: risk groups by the study's declarative schemes."""

from cohortflow.classify.stage import classify_study
from cohortflow.core.runner import run_stage

smk = snakemake  # noqa: F821
run_stage(
    smk,
    classify_study,
    groups_out=smk.output.groups,
    explain_out=smk.output.explain,
)
