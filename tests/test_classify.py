"""The infant study's risk rule as declarative data: boundaries, dupMLL, missing inputs."""

import pandas as pd
import pytest

from cohortflow.classify.schemes import classify, scheme_inputs
from cohortflow.core.config import load_risk_scheme
from cohortflow.harmonise.derive import completed_months

SCHEME = load_risk_scheme("infant_yonsei_2011")


def patients(rows):
    df = pd.DataFrame(rows, columns=["age_at_diagnosis_months", "wbc", "kmt2a_status"])
    df["age_at_diagnosis_months"] = df["age_at_diagnosis_months"].astype("Int64")
    df["wbc"] = df["wbc"].astype("Float64")
    df["study_id"] = [f"p{i}" for i in range(len(df))]
    return df


def test_inputs_listed():
    assert scheme_inputs(SCHEME) == ["age_at_diagnosis_months", "wbc", "kmt2a_status"]


@pytest.mark.parametrize(
    ("age", "wbc", "kmt2a", "group", "fired"),
    [
        (5, 10.0, "germline", "high", "age_lt_6_months"),
        (6, 10.0, "germline", "standard", ""),  # exactly 6 completed months: not < 6
        (8, 50.0, "germline", "high", "wbc_ge_50k"),  # exactly 50,000/uL is high
        (8, 49.999, "germline", "standard", ""),
        (8, 10.0, "rearranged", "high", "mll_translocation"),
        (8, 10.0, "ptd", "standard", ""),  # dupMLL is NOT a rearrangement
        (5, 123.8, "ptd", "high", "age_lt_6_months;wbc_ge_50k"),
    ],
)
def test_boundaries(age, wbc, kmt2a, group, fired):
    out = classify(patients([(age, wbc, kmt2a)]), SCHEME)
    assert out.loc[0, "group"] == group
    assert out.loc[0, "criteria_fired"] == fired
    assert out.loc[0, "scheme_version"] == "2011.1"


def test_missing_inputs_unclassifiable_unless_a_criterion_fires():
    out = classify(
        patients(
            [(8, None, "germline"), (8, 10.0, "unknown"), (4, None, "unknown"), (None, None, None)]
        ),
        SCHEME,
    )
    assert list(out["group"]) == ["unclassifiable", "unclassifiable", "high", "unclassifiable"]
    assert list(out["missing_inputs"]) == [
        "wbc",
        "kmt2a_status",
        "",
        "age_at_diagnosis_months;kmt2a_status;wbc",
    ]


def test_six_month_convention_is_calendar_months():
    birth = pd.Series(pd.to_datetime(["2001-10-25", "2001-10-25", "2000-08-31"]))
    dx = pd.Series(pd.to_datetime(["2002-04-24", "2002-04-25", "2001-02-28"]))
    # 24 Apr is the day before birth date + 6 months -> 5; 25 Apr -> 6; 31 Aug + 6 m -> 5
    assert list(completed_months(birth, dx)) == [5, 6, 5]
