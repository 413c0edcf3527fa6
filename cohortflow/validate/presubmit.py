"""Pre-submission check: the same ingest and validation a coordinating centre runs, on a site's
own machine, before anything is sent."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from cohortflow.core.config import load_study
from cohortflow.core.defaults import Study
from cohortflow.core.dictionary import REPO_ROOT
from cohortflow.core.errors import CohortflowError
from cohortflow.ingest.stage import ingest_site
from cohortflow.validate.stage import validate_site


def validate_file(
    path: str | Path,
    mapping: dict[str, Any],
    out: str | Path,
    *,
    demo_key: bool,
    data_label: str = "",
    cutoff: str = "2100-12-31",
    key: bytes | None = None,
    identifiers: str = "remove",
) -> pd.DataFrame:
    """Ingest and validate one site file with its ``mapping`` as the workflow's ``ingest`` and
    ``validate`` rules do, writing into the folder ``out``: ``raw.parquet``, ``ingest.json``,
    ``mapped.parquet``, ``findings.csv``, ``summary.json``, ``status.csv`` and the query listing
    ``queries.{csv,xlsx}``. Returns the findings."""
    o = Path(out)
    o.mkdir(parents=True, exist_ok=True)
    ingest_site(str(path), mapping, str(o / "raw.parquet"), str(o / "ingest.json"))
    return validate_site(
        str(o / "raw.parquet"),
        str(o / "ingest.json"),
        mapping,
        demo_key,
        str(o / "mapped.parquet"),
        str(o / "findings.csv"),
        str(o / "summary.json"),
        data_label,
        cutoff,
        str(o / "status.csv"),
        str(o / "queries"),
        key=key,
        identifiers=identifiers,
    )


def check_file(
    study: str, site: str, out: str, *, file: str | None = None, root: Path = REPO_ROOT
) -> int:
    """Run ingest and validation of one site's file with the study's mapping; write the
    findings and the query listing to ``out`` and print a summary. Returns 0 when there is no
    fatal finding, 2 otherwise."""
    st = load_study(study, root)
    if site not in st["site_mappings"]:
        raise CohortflowError(f"study {study} has no site {site!r}; sites: {sorted(st['sites'])}")
    mapping = dict(st["site_mappings"][site])
    path = Path(file) if file else root / mapping["file"]
    demo = bool(st["pseudonymisation"].get("demo_key"))
    findings = validate_file(
        path,
        mapping,
        out,
        demo_key=demo,
        data_label=Study.of(st).data_label,
        cutoff=st["cutoff_date"],
        # a throwaway key: the site needs no secret, and its study IDs here mean nothing
        key=None if demo else secrets.token_bytes(32),
    )
    o = Path(out)
    fatal = int((findings["severity"] == "fatal").sum())
    print(
        f"{site}: {path.name}: {fatal} fatal finding(s), "
        f"{int((findings['severity'] == 'warning').sum())} warning(s)"
    )
    for (check, sev), g in findings.groupby(["check", "severity"], sort=True):
        print(f"  {sev:<8} {check:<28} {len(g)} record(s)")
    print(f"query listing: {o / 'queries.xlsx'} (and .csv)")
    return 2 if fatal else 0


if __name__ == "__main__":
    sys.exit(check_file(*sys.argv[1:4]))
