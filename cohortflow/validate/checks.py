"""The data-quality check catalogue (config/checks.yaml): row checks, findings, site status."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from cohortflow.core.catalogue import load_catalogue
from cohortflow.core.dictionary import REPO_ROOT
from cohortflow.core.errors import CohortflowError
from cohortflow.core.expr import evaluate, names
from cohortflow.core.findings import FINDING_COLUMNS

CATALOGUE = Path("config") / "checks.yaml"


def catalogue(root: Path = REPO_ROOT) -> dict[str, dict[str, Any]]:
    """Checks by name, validated against schemas/checks.schema.json."""
    return {c["name"]: c for c in load_catalogue(str(root / CATALOGUE))["checks"]}


def catalogue_version(root: Path = REPO_ROOT) -> str:
    """Version of the check catalogue."""
    return str(load_catalogue(str(root / CATALOGUE))["version"])


def _text(v: Any) -> str:
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return ""
    if isinstance(v, pd.Timestamp):
        return v.date().isoformat()
    return str(v)


def run_row_checks(df: pd.DataFrame, cutoff: str, site: str) -> pd.DataFrame:
    """Findings of every row check (one per failing record and check), with the values read."""
    frame = df.copy()
    frame["cutoff_date"] = pd.Timestamp(cutoff)
    parts = []
    for c in catalogue().values():
        if "expr" not in c:
            continue
        r = evaluate(c["expr"], frame)
        failing = (~r.value & r.known).to_numpy(dtype=bool)
        if not failing.any():
            continue
        used = [n for n in names(c["expr"]) if n != "cutoff_date"]
        hit = frame[failing]
        value = pd.Series("", index=hit.index, dtype=object)
        for k, n in enumerate(used):
            value = value + ("; " if k else "") + f"{n}=" + hit[n].map(_text).astype(object)
        parts.append(
            pd.DataFrame(
                {
                    "site": site,
                    "study_id": hit["study_id"].to_numpy(object),
                    "source_row": hit["source_row"].astype(int).to_numpy(),
                    "source_column": None,
                    "variable": ";".join(used),
                    "value": value.to_numpy(object),
                    "check": c["name"],
                    "category": c["category"],
                    "severity": c["severity"],
                    "message": c["message"],
                },
                columns=FINDING_COLUMNS,
            )
        )
    if not parts:
        return pd.DataFrame(columns=FINDING_COLUMNS)
    return pd.concat(parts, ignore_index=True)


def annotate(findings: pd.DataFrame) -> pd.DataFrame:
    """Category and severity of each finding taken from the catalogue (unknown check: error)."""
    cat = catalogue()
    unknown = sorted(set(findings["check"]) - set(cat))
    if unknown:
        raise CohortflowError(f"findings name checks missing from config/checks.yaml: {unknown}")
    out = findings.copy()
    out["category"] = [cat[c]["category"] for c in out["check"]]
    out["severity"] = [cat[c]["severity"] for c in out["check"]]
    return out


#: Checks that need every site's records: run after all sites are validated (see
#: ``cross_site_duplicates``), reported in the study report and the sites' query listings.
STUDY_LEVEL_CHECKS = frozenset({"cross_site_duplicate"})


def site_status(findings: pd.DataFrame, n_records: int, site: str) -> pd.DataFrame:
    """Per check: records failing, share, tolerated threshold and pass/fail for the site
    ("study level" for checks that compare sites, which one site's data cannot decide)."""
    rows = []
    for c in catalogue().values():
        f = findings[findings["check"] == c["name"]]
        failed = int(f["study_id"].fillna(f["source_row"].astype(str)).nunique()) if len(f) else 0
        # a site-level finding on a submission without records (site_has_data) fails outright
        share = failed / n_records if n_records else float(failed > 0)
        rows.append(
            {
                "site": site,
                "check": c["name"],
                "category": c["category"],
                "severity": c["severity"],
                "records": n_records,
                "failed": failed,
                "share": share,
                "threshold": c["threshold"],
                "status": (
                    "study level"
                    if c["name"] in STUDY_LEVEL_CHECKS
                    else ("fail" if share > c["threshold"] else "pass")
                ),
            }
        )
    return pd.DataFrame(rows)


DUPLICATE_KEY = ["sex", "birth_date", "diagnosis_date"]


def cross_site_duplicates(patients: pd.DataFrame) -> pd.DataFrame:
    """Pairs of records from different sites with the same sex, birth date and diagnosis date
    (one row per record in a group, with a group number), for review; nothing is merged."""
    cols = ["duplicate_group", "site", "study_id", "source_row", "check", "severity", "message"]
    known = patients.dropna(subset=DUPLICATE_KEY)
    n_sites = known.groupby(DUPLICATE_KEY, sort=False)["site"].transform("nunique")
    d = known[n_sites.to_numpy() >= 2]
    d = d.sort_values([*DUPLICATE_KEY, "site", "study_id"], kind="stable")
    out = pd.DataFrame(
        {
            "duplicate_group": d.groupby(DUPLICATE_KEY, sort=True).ngroup().to_numpy() + 1,
            "site": d["site"].to_numpy(),
            "study_id": d["study_id"].to_numpy(),
            "source_row": d["source_row"].astype(int).to_numpy(),
            "check": "cross_site_duplicate",
            "severity": catalogue()["cross_site_duplicate"]["severity"],
            "message": catalogue()["cross_site_duplicate"]["message"],
        },
        columns=cols,
    )
    return out.reset_index(drop=True)
