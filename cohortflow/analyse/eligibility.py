"""Eligibility: screened -> excluded by each criterion -> eligible -> analysed, with reasons."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from cohortflow.core.defaults import Eligibility
from cohortflow.core.expr import evaluate
from cohortflow.core.vectors import first_part, join_parts, label_where


def eligibility(df: pd.DataFrame, rules: dict[str, Any]) -> pd.DataFrame:
    """Per patient: eligible, analysed, every failed criterion and the first (counting) reason.

    An inclusion criterion fails when it is false or unknown (inputs missing: noted as such);
    an exclusion criterion excludes only when it is known to be true (an unrecorded exclusion
    is taken as absent, as on a CRF). An eligible patient is analysed when every ``analysed``
    condition is known and true; all reasons not to analyse are recorded.
    """
    n = len(df)
    crit = Eligibility.of(rules)
    failed: list[np.ndarray] = []
    for c in crit.inclusion:
        r = evaluate(c["expr"], df)
        v, k = np.asarray(r.value, bool), np.asarray(r.known, bool)
        failed.append(
            np.where(~(v & k), np.where(k, c["name"], c["name"] + " (missing)"), "").astype(object)
        )
    for c in crit.exclusion:
        r = evaluate(c["expr"], df)
        failed.append(label_where(np.asarray(r.value, bool) & np.asarray(r.known, bool), c["name"]))
    failed_criteria = join_parts(failed, n)
    eligible = failed_criteria == ""
    not_analysed: list[np.ndarray] = []
    for c in crit.analysed:
        r = evaluate(c["expr"], df)
        ok = np.asarray(r.value, bool) & np.asarray(r.known, bool)
        not_analysed.append(label_where(eligible & ~ok, c["name"]))
    not_analysed_reason = join_parts(not_analysed, n)
    return pd.DataFrame(
        {
            "study_id": df["study_id"].to_numpy(),
            "site": df["site"].to_numpy(),
            "eligible": eligible.astype(bool),
            "analysed": (eligible & (not_analysed_reason == "")).astype(bool),
            "failed_criteria": failed_criteria,
            "exclusion_reason": first_part(failed, n),
            "not_analysed_reason": not_analysed_reason,
        }
    )


def exclusion_label(criterion: dict[str, Any], rules: dict[str, Any]) -> str:
    """The reason a patient failing ``criterion`` is excluded, as the flow names it: its
    ``exclusion_label`` ("Age outside 1-21 years"), else for an exclusion criterion its
    label ("Any clofarabine"), else "Not met: <inclusion label>"."""
    if criterion.get("exclusion_label"):
        return str(criterion["exclusion_label"])
    label = criterion.get("label", criterion["name"])
    if any(c is criterion for c in Eligibility.of(rules).exclusion):
        return str(label)
    return f"Not met: {label}"


def flow_table(elig: pd.DataFrame, rules: dict[str, Any]) -> pd.DataFrame:
    """CONSORT-style counts overall and per site; exclusions counted by first failed criterion
    in the order listed (so screened = excluded + eligible). A patient not analysed for several
    reasons is counted under each of them; the analysed count is exact."""
    crit = Eligibility.of(rules)
    steps = _flow_steps(elig, rules)
    per_site = steps.groupby(elig["site"], sort=True).sum()
    rows = []
    for site, counts in [("All", steps.sum()), *per_site.iterrows()]:
        rows.append({"site": site, "step": "screened", "n": int(counts["screened"])})
        for c in [*crit.inclusion, *crit.exclusion]:
            k = int(counts[f"x{c['name']}"])
            rows.append({"site": site, "step": f"excluded: {exclusion_label(c, rules)}", "n": k})
        rows.append({"site": site, "step": "eligible", "n": int(counts["eligible"])})
        for c in crit.analysed:
            rows.append(
                {
                    "site": site,
                    "step": f"not analysed: {c.get('label', c['name'])}",
                    "n": int(counts[f"n{c['name']}"]),
                }
            )
        rows.append({"site": site, "step": "analysed", "n": int(counts["analysed"])})
    return pd.DataFrame(rows)


def _flow_steps(elig: pd.DataFrame, rules: dict[str, Any]) -> pd.DataFrame:
    """Per patient, 0/1 for each step of the flow (``x<criterion>``: excluded by it first,
    ``n<criterion>``: not analysed for it); text is tested once per distinct value."""
    crit = Eligibility.of(rules)
    out = {"screened": np.ones(len(elig), dtype=np.int64)}
    codes, reasons = pd.factorize(elig["exclusion_reason"].astype(object).to_numpy())
    first = pd.Series(reasons, dtype=object).str.replace(" (missing)", "", regex=False)
    for c in [*crit.inclusion, *crit.exclusion]:
        hit = np.append(first.eq(c["name"]).to_numpy(bool), False)
        out[f"x{c['name']}"] = hit[codes].astype(np.int64)
    out["eligible"] = elig["eligible"].to_numpy(bool).astype(np.int64)
    codes, reasons = pd.factorize(elig["not_analysed_reason"].astype(object).to_numpy())
    listed = ";" + pd.Series(reasons, dtype=object) + ";"
    for c in crit.analysed:
        hit = np.append(listed.str.contains(f";{c['name']};", regex=False).to_numpy(bool), False)
        out[f"n{c['name']}"] = hit[codes].astype(np.int64)
    out["analysed"] = elig["analysed"].to_numpy(bool).astype(np.int64)
    return pd.DataFrame(out, index=elig.index)
