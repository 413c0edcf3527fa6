"""Eligibility and the patient flow on hand-built patients (counts worked out by hand)."""

import numpy as np
import pandas as pd

from cohortflow.analyse.eligibility import eligibility, flow_table

RULES = {
    "inclusion": [
        {"name": "blasts", "label": "Blasts >= 25 %", "expr": "marrow_blasts_pct >= 25"},
        {"name": "age", "label": "Age 1-21", "expr": "age_at_diagnosis_years >= 1"},
    ],
    "exclusion": [{"name": "clo", "label": "Clofarabine", "expr": "clofarabine_exposed"}],
    "analysed": [
        {"name": "data", "label": "No treatment data", "expr": "treatment_data_available"},
        {"name": "fu", "label": "No follow-up", "expr": "followup_days > 0"},
    ],
}

# id: site, blasts, age, clofarabine, treatment data, follow-up days
PATIENTS = {
    "a": ("S1", 80, 5.0, False, True, 300),  # analysed
    "b": ("S1", 10, 0.5, True, True, 300),  # fails blasts, age and clo: counted under blasts
    "c": ("S1", np.nan, 4.0, False, True, 300),  # blasts unknown: fails inclusion (missing)
    "d": ("S2", 60, 0.5, False, True, 300),  # fails age only
    "e": ("S2", 60, 3.0, True, True, 300),  # excluded: clofarabine
    "f": ("S2", 60, 3.0, None, True, 300),  # clofarabine unrecorded: not excluded
    "g": ("S2", 60, 3.0, False, False, 0),  # eligible, not analysed for two reasons
    "h": ("S2", 60, 3.0, False, True, np.nan),  # eligible, follow-up unknown: not analysed
}


def _df():
    cols = [
        "site",
        "marrow_blasts_pct",
        "age_at_diagnosis_years",
        "clofarabine_exposed",
        "treatment_data_available",
        "followup_days",
    ]
    df = pd.DataFrame.from_dict(PATIENTS, orient="index", columns=cols)
    df["clofarabine_exposed"] = df["clofarabine_exposed"].astype("boolean")
    df["treatment_data_available"] = df["treatment_data_available"].astype("boolean")
    return df.rename_axis("study_id").reset_index()


def test_every_failed_criterion_recorded_first_one_counts():
    e = eligibility(_df(), RULES).set_index("study_id")
    assert e.loc["b", "failed_criteria"] == "blasts;age;clo"
    assert e.loc["b", "exclusion_reason"] == "blasts"
    assert e.loc["c", "failed_criteria"] == "blasts (missing)"
    assert e.loc["d", "exclusion_reason"] == "age"
    assert e.loc["e", "exclusion_reason"] == "clo"
    assert e.loc["f", "eligible"] and e.loc["f", "analysed"]  # unknown exclusion: kept
    assert e.loc["g", "eligible"] and not e.loc["g", "analysed"]
    assert e.loc["g", "not_analysed_reason"] == "data;fu"
    assert e.loc["h", "not_analysed_reason"] == "fu"
    assert list(e.index[e["analysed"]]) == ["a", "f"]


def test_flow_counts_in_the_order_listed_overall_and_per_site():
    flow = flow_table(eligibility(_df(), RULES), RULES)
    n = {(r.site, r.step): r.n for r in flow.itertuples()}
    assert n[("All", "screened")] == 8
    assert n[("All", "excluded: Not met: Blasts >= 25 %")] == 2  # b (also fails age, clo) and c
    assert n[("All", "excluded: Not met: Age 1-21")] == 1  # d only: b counted once, under blasts
    assert n[("All", "excluded: Clofarabine")] == 1  # e
    assert n[("All", "eligible")] == 4  # a, f, g, h
    assert n[("All", "not analysed: No treatment data")] == 1  # g
    assert n[("All", "not analysed: No follow-up")] == 2  # g (also above) and h
    assert n[("All", "analysed")] == 2
    assert (n[("S1", "screened")], n[("S1", "eligible")], n[("S1", "analysed")]) == (3, 1, 1)
    assert (n[("S2", "screened")], n[("S2", "eligible")], n[("S2", "analysed")]) == (5, 3, 1)
    for site in ("All", "S1", "S2"):  # screened = excluded + eligible, at every level
        excluded = sum(v for (s, step), v in n.items() if s == site and step.startswith("excl"))
        assert n[(site, "screened")] == excluded + n[(site, "eligible")]
