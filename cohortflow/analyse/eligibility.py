"""Eligibility: screened -> excluded by each criterion -> eligible -> analysed, with reasons."""

from __future__ import annotations

from typing import Any

import pandas as pd

from cohortflow.core.expr import evaluate


def eligibility(df: pd.DataFrame, rules: dict[str, Any]) -> pd.DataFrame:
    """Per patient: eligible, analysed, every failed criterion and the first (counting) reason.

    An inclusion criterion fails when it is false or unknown (inputs missing: noted as such);
    an exclusion criterion excludes only when it is known to be true (an unrecorded exclusion
    is taken as absent, as on a CRF). An eligible patient is analysed when every ``analysed``
    condition is known and true; all reasons not to analyse are recorded.
    """
    n = len(df)
    failed: list[list[str]] = [[] for _ in range(n)]
    for c in rules.get("inclusion", []):
        r = evaluate(c["expr"], df)
        for i, (v, k) in enumerate(zip(r.value, r.known, strict=True)):
            if not (v and k):
                failed[i].append(c["name"] + ("" if k else " (missing)"))
    for c in rules.get("exclusion", []):
        r = evaluate(c["expr"], df)
        for i, (v, k) in enumerate(zip(r.value, r.known, strict=True)):
            if v and k:
                failed[i].append(c["name"])
    eligible = [not f for f in failed]
    not_analysed: list[list[str]] = [[] for _ in range(n)]
    for c in rules.get("analysed", []):
        r = evaluate(c["expr"], df)
        for i, (v, k) in enumerate(zip(r.value, r.known, strict=True)):
            if eligible[i] and not (v and k):
                not_analysed[i].append(c["name"])
    return pd.DataFrame(
        {
            "study_id": df["study_id"].to_numpy(),
            "site": df["site"].to_numpy(),
            "eligible": eligible,
            "analysed": [e and not na for e, na in zip(eligible, not_analysed, strict=True)],
            "failed_criteria": [";".join(f) for f in failed],
            "exclusion_reason": [f[0] if f else "" for f in failed],
            "not_analysed_reason": [";".join(x) for x in not_analysed],
        }
    )


def flow_table(elig: pd.DataFrame, rules: dict[str, Any]) -> pd.DataFrame:
    """CONSORT-style counts overall and per site; exclusions counted by first failed criterion
    in the order listed (so screened = excluded + eligible). A patient not analysed for several
    reasons is counted under each of them; the analysed count is exact."""
    rows = []
    for site, g in [("All", elig), *sorted(elig.groupby("site"))]:
        rows.append({"site": site, "step": "screened", "n": len(g)})
        for c in [*rules.get("inclusion", []), *rules.get("exclusion", [])]:
            k = int(
                g["exclusion_reason"].str.replace(" (missing)", "", regex=False).eq(c["name"]).sum()
            )
            rows.append({"site": site, "step": f"excluded: {c.get('label', c['name'])}", "n": k})
        rows.append({"site": site, "step": "eligible", "n": int(g["eligible"].sum())})
        for c in rules.get("analysed", []):
            k = int(
                g["not_analysed_reason"].str.split(";").apply(lambda x, n=c["name"]: n in x).sum()
            )
            rows.append(
                {"site": site, "step": f"not analysed: {c.get('label', c['name'])}", "n": k}
            )
        rows.append({"site": site, "step": "analysed", "n": int(g["analysed"].sum())})
    return pd.DataFrame(rows)
