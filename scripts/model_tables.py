"""Snakemake entry point: Cox and competing-risks tables of a study."""

from pathlib import Path

from cohortflow.core.runner import run_stage
from cohortflow.render.stage import report_model_tables

smk = snakemake  # noqa: F821
run_stage(
    smk,
    report_model_tables,
    cox=smk.input.cox,
    cif=smk.input.cif,
    tests=smk.input.tests,
    set_aside=smk.input.set_aside,
    rmst=smk.input.rmst,
    study=smk.params.study,
    out_dir=str(Path(smk.output.cox_md).parent),
)
