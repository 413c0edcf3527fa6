"""Snakemake entry point: harmonise one site into the canonical model (quarantine applied)."""

from cohortflow.core.runner import run_stage
from cohortflow.harmonise.stage import LONGITUDINAL, harmonise_site

smk = snakemake  # noqa: F821
run_stage(
    smk,
    harmonise_site,
    validated=smk.input.data,
    data_out=smk.output.data,
    tables_out={t: smk.output[t] for t in LONGITUDINAL},
    quarantine_out=smk.output.quarantine,
    reconciliation_out=smk.output.reconciliation,
    validate_summary=smk.input.summary,
)
