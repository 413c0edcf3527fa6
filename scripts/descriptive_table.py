"""Snakemake entry point: one descriptive table (Table 1 style) of a study."""

from cohortflow.core.runner import run_stage
from cohortflow.render.stage import report_descriptive_table

smk = snakemake  # noqa: F821
run_stage(
    smk,
    report_descriptive_table,
    stem=smk.output.csv[: -len(".csv")],
)
