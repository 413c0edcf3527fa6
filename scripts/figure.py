"""Snakemake entry point: one figure of a study (KM, landmark, Simon-Makuch, CIF, forest,
swimmer)."""

from cohortflow.core.runner import run_stage
from cohortflow.render.stage import report_figure

smk = snakemake  # noqa: F821
run_stage(
    smk,
    report_figure,
    cohort=smk.input.cohort,
    adtte=smk.input.adtte,
    tests=smk.input.tests,
    cox=smk.input.cox,
    study=smk.params.study,
    analysis=smk.wildcards.figure,
    stem=smk.output.png[: -len(".png")],
)
