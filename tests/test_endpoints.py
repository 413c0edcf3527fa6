"""ADTTE derivation on hand-built patients whose times are worked out here."""

import pandas as pd

from cohortflow.endpoints import derive

EFS = {
    "label": "Event-free survival",
    "origin": "diagnosis_date",
    "events": [
        {"source": "relapse_date", "description": "Relapse"},
        {"source": "death_date", "description": "Death"},
    ],
    "censor": "last_followup_date",
}


def test_efs_rows():
    df = pd.DataFrame(
        {
            "study_id": ["a", "b", "c", "d", "e"],
            "site": "X",
            "diagnosis_date": pd.to_datetime(
                ["2000-01-01", "2000-01-01", "2000-01-01", None, "2000-01-01"]
            ),
            "relapse_date": pd.to_datetime(["2000-03-01", None, None, None, "2012-01-01"]),
            "death_date": pd.to_datetime(["2000-02-01", "2001-01-01", None, None, None]),
            "last_followup_date": pd.to_datetime(
                ["2000-02-01", "2001-01-01", "2000-12-31", "2005-01-01", "2012-06-01"]
            ),
        }
    )
    out = derive(df, "EFS", EFS, "2010-12-31").set_index("study_id")
    # a: death (31 days) precedes relapse (60 days) -> event at 31 days, described as death
    assert out.loc["a", "AVAL"] == 31 and out.loc["a", "CNSR"] == 0
    assert out.loc["a", "EVNTDESC"] == "Death"
    # b: death 2001-01-01 = 366 days (2000 is a leap year)
    assert out.loc["b", "AVAL"] == 366 and out.loc["b", "CNSR"] == 0
    # c: censored at last follow-up, 365 days
    assert out.loc["c", "AVAL"] == 365 and out.loc["c", "CNSR"] == 1
    # d: no origin -> no time, reason given
    assert pd.isna(out.loc["d", "AVAL"]) and out.loc["d", "CNSDTDSC"] == "no diagnosis_date"
    # e: relapse after the cut-off is not counted; censored at the cut-off (4017 days)
    assert out.loc["e", "CNSR"] == 2 and out.loc["e", "AVAL"] == 4017
