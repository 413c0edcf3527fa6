"""Snakemake entry point: the study manifest (inputs, config, code, packages, outputs)."""

from cohortflow.core.runner import run_stage
from cohortflow.provenance.stage import write_manifest

smk = snakemake  # noqa: F821
run_stage(
    smk,
    write_manifest,
    config_files=list(smk.params.config_files),
    out=smk.output.manifest,
)
