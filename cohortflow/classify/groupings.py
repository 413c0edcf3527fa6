"""Patients grouped as an analysis's grouping says: a risk scheme's groups (in the grouping's
words) or configured levels (expressions), in the configured order."""

from __future__ import annotations

from typing import Any

import pandas as pd

from cohortflow.classify.schemes import UNCLASSIFIABLE
from cohortflow.core.expr import evaluate


def strata(
    cohort: pd.DataFrame, grouping: dict[str, Any] | None, schemes: dict[str, Any]
) -> tuple[pd.Series, list[str]]:
    """Stratum label per patient and the ordered list of labels (a scheme's group codes in
    the words of the grouping's ``group_labels`` where it gives them)."""
    if grouping is None:
        return pd.Series("All", index=cohort.index), ["All"]
    if "scheme" in grouping:
        sch = schemes[grouping["scheme"]]
        words = grouping.get("group_labels", {})
        codes = [g["group"] for g in sch["groups"]] + [sch["otherwise"], UNCLASSIFIABLE]
        order = [words.get(c, c) for c in codes]
        s = cohort[f"risk_{grouping['scheme']}"].astype(object).replace(words)
        return s, [o for o in dict.fromkeys(order) if (s == o).any()]
    labels = pd.Series("unknown", index=cohort.index, dtype=object)
    unset = pd.Series(True, index=cohort.index)
    for lvl in grouping["levels"]:
        r = evaluate(lvl["expr"], cohort)
        hit = r.value & r.known & unset
        labels[hit] = lvl["label"]
        unset &= ~hit
    order = [lvl["label"] for lvl in grouping["levels"]] + ["unknown"]
    return labels, [o for o in order if (labels == o).any()]
