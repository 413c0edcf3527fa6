"""Snakemake entry point: Kaplan-Meier figure of one analysis."""

from cohortflow.runner import run_stage
from cohortflow.stages import report_figure

smk = snakemake  # noqa: F821
run_stage(
    smk,
    report_figure,
    cohort=smk.input.cohort,
    adtte=smk.input.adtte,
    tests=smk.input.tests,
    study=smk.params.study,
    analysis=smk.wildcards.analysis,
    stem=smk.output.png[: -len(".png")],
)
