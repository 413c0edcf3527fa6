"""Snakemake entry point: one figure of a study (KM, landmark, Simon-Makuch, CIF, forest,
swimmer)."""

from cohortflow.core.runner import run_stage
from cohortflow.render.stage import report_figure

smk = snakemake  # noqa: F821
run_stage(
    smk,
    report_figure,
    inputs=dict(smk.input.items()),
    study=smk.params.study,
    analysis=smk.wildcards.figure,
    stem=smk.output.png[: -len(".png")],
)
