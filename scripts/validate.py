"""Snakemake entry point: map, pseudonymise and check one site."""

from cohortflow.core.runner import run_stage
from cohortflow.validate.stage import validate_site

smk = snakemake  # noqa: F821
run_stage(
    smk,
    validate_site,
    ingest_meta=smk.input.meta,
    data_out=smk.output.data,
    findings_out=smk.output.findings,
    status_out=smk.output.status,
    summary_out=smk.output.summary,
    queries_stem=smk.output.queries_csv[: -len(".csv")],
    previous=(list(smk.input.previous) or [None])[0],
)
