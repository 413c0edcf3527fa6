"""Snakemake entry point: CONSORT-style patient-flow figure of a study."""

from cohortflow.core.runner import run_stage
from cohortflow.render.stage import report_consort

smk = snakemake  # noqa: F821
run_stage(
    smk,
    report_consort,
    stem=smk.output.png[: -len(".png")],
)
