"""Stage functions of the onboarding phase that the workflow runs (see docs/architecture.md)."""

from __future__ import annotations

from pathlib import Path

from cohortflow.core.config import load_site
from cohortflow.onboard.check import (
    MappingCheckError,
    check_mapping,
    report,
    study_for_check,
)


def check_site(
    mapping_file: str,
    out: str,
    *,
    study: str,
    submission: str,
    studies_dir: str = "config/studies",
    root: str | Path = ".",
) -> None:
    """Stage (before ingest): check one site's mapping against its submission and its study,
    write the report to ``out`` and raise MappingCheckError (the report) on any error."""
    base = Path(root).resolve()
    definition = study_for_check(study, base, studies_dir)
    problems = check_mapping(mapping_file, study=definition, root=base, submission=submission)
    site = load_site(mapping_file, base)["site"]
    text = report(problems, site=site, mapping_file=mapping_file)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(text, encoding="utf-8")
    if any(p.severity == "error" for p in problems):
        raise MappingCheckError("\n" + text)
