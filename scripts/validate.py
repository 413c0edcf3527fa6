"""Snakemake entry point: map, pseudonymise and check one site."""

from cohortflow.core.runner import run_stage
from cohortflow.validate.stage import validate_site

smk = snakemake  # noqa: F821
run_stage(
    smk,
    validate_site,
    raw=smk.input.raw,
    ingest_meta=smk.input.meta,
    mapping=smk.params.mapping,
    demo_key=smk.params.demo_key,
    data_label=smk.params.data_label,
    cutoff=smk.params.cutoff,
    identifiers=smk.params.identifiers,
    data_out=smk.output.data,
    findings_out=smk.output.findings,
    status_out=smk.output.status,
    summary_out=smk.output.summary,
    queries_stem=smk.output.queries_csv[: -len(".csv")],
    previous=(list(smk.input.previous) or [None])[0],
)
