"""Snakemake entry point: Cox and competing-risks tables of a study."""

from pathlib import Path

from cohortflow.core.runner import run_stage
from cohortflow.render.stage import report_model_tables

smk = snakemake  # noqa: F821
run_stage(
    smk,
    report_model_tables,
    inputs=dict(smk.input.items()),
    study=smk.params.study,
    out_dir=str(Path(smk.output.cox_md).parent),
)
