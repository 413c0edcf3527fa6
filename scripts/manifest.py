"""Snakemake entry point: the study manifest (inputs, config, code, packages, outputs)."""

from cohortflow.core.runner import run_stage
from cohortflow.provenance.stage import write_manifest

smk = snakemake  # noqa: F821
run_stage(
    smk,
    write_manifest,
    study=smk.params.study,
    submissions=list(smk.input.submissions),
    ingest_meta=list(smk.input.ingest_meta),
    summaries=list(smk.input.summaries),
    config_files=list(smk.params.config_files),
    superseded=list(smk.params.superseded),
    outputs=list(smk.input.outputs),
    out=smk.output.manifest,
)
