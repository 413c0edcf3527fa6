"""Snakemake entry point: the study's self-contained HTML run report."""

from cohortflow.core.runner import run_stage
from cohortflow.render.stage import report_run

smk = snakemake  # noqa: F821
run_stage(
    smk,
    report_run,
    out=smk.output.html,
)
