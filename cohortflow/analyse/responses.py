"""Best response per patient and response rates with exact (Clopper-Pearson) CIs."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import beta

from cohortflow.core.defaults import Responses


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact binomial CI for k successes out of n (NaN when n is 0)."""
    if n == 0:
        return float("nan"), float("nan")
    a = 1 - level
    lo = 0.0 if k == 0 else float(beta.ppf(a / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1 - a / 2, k + 1, n - k))
    return lo, hi


def best_response(responses: pd.DataFrame, order: list[str] | None = None) -> pd.Series:
    """Best response per study ID over every assessment (first in ``order``; a response not
    in ``order`` counts only when a patient has nothing else, the first one recorded), sorted
    by study ID. One stable sort on integer codes, no per-patient work."""
    order = order or Responses().order
    rank = {r: i for i, r in enumerate(order)}
    r = responses.dropna(subset=["response"])
    ids, resp = r["study_id"], r["response"]
    codes, keys = pd.factorize(ids, sort=True)
    ranks = resp.map(rank).astype(float).fillna(np.inf).to_numpy()
    known = codes >= 0
    rows = np.flatnonzero(known)[np.lexsort((ranks[known], codes[known]))]
    first = rows[np.r_[True, codes[rows][1:] != codes[rows][:-1]]] if rows.size else rows
    index = pd.Index(keys.take(codes[first]), name="study_id")
    return pd.Series(resp.array.take(first), index=index, name="response")


def response_rates(
    patients: pd.DataFrame, spec: dict[str, Any], data_label: str = ""
) -> pd.DataFrame:
    """One row per configured rate: definition, numerator, denominator, rate and exact CI.

    ``patients`` must hold the population named in ``spec`` with a ``best_response`` column;
    patients without any assessment count in the denominator (not evaluated).
    """
    n = len(patients)
    rows = []
    for rate in spec["rates"]:
        k = int(patients["best_response"].isin(rate["numerator"]).sum())
        lo, hi = clopper_pearson(k, n)
        pub = rate.get("published_percent")
        rows.append(
            {
                "data_label": data_label,
                "name": rate["name"],
                "label": rate["label"],
                "definition": rate["definition"],
                "numerator_categories": " + ".join(rate["numerator"]),
                "denominator": f"{spec['population']} patients",
                "n": k,
                "N": n,
                "rate": k / n if n else float("nan"),
                "ci_lower": lo,
                "ci_upper": hi,
                "ci_method": "Clopper-Pearson (exact) 95%",
                "published_percent": pub if pub is not None else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def response_counts(patients: pd.DataFrame, order: list[str] | None = None) -> pd.DataFrame:
    """Counts of best response per category, in order, with 'none' for no assessment."""
    order = order or Responses().order
    best = patients["best_response"].fillna("no assessment")
    cats = [*order, *sorted(set(best) - set(order))]
    return pd.DataFrame(
        [{"response": c, "n": int((best == c).sum()), "N": len(best)} for c in cats]
    )
