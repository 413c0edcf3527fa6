"""Derived canonical variables (ages, KMT2A status) of mapped site data."""

from __future__ import annotations

import pandas as pd

from . import dictionary
from .values import parse_kmt2a


def completed_months(birth: pd.Series, when: pd.Series) -> pd.Series:
    """Completed calendar months between two dates (e.g. 2001-10-25 -> 2002-04-24 is 5).

    With this convention "age < 6 months" is exactly "date < birth date + 6 calendar months".
    """
    b = pd.to_datetime(birth)
    w = pd.to_datetime(when)
    months = (w.dt.year - b.dt.year) * 12 + (w.dt.month - b.dt.month)
    months = months - (w.dt.day < b.dt.day).astype("Int64")
    return months.astype("Int64")


def years_between(start: pd.Series, end: pd.Series) -> pd.Series:
    """Exact day count divided by 365.25."""
    return ((pd.to_datetime(end) - pd.to_datetime(start)).dt.days / 365.25).astype("Float64")


def harmonise(mapped: pd.DataFrame) -> pd.DataFrame:
    """Canonical patients table of one site: derived variables added, dictionary order/dtypes."""
    df = mapped.copy()
    df["age_at_diagnosis_months"] = completed_months(df["birth_date"], df["diagnosis_date"])
    df["age_at_diagnosis_years"] = years_between(df["birth_date"], df["diagnosis_date"])
    df["age_at_rr_years"] = years_between(df["birth_date"], df["rr_diagnosis_date"])
    parsed = [parse_kmt2a(None if pd.isna(k) else str(k)) for k in df["karyotype"]]
    df["kmt2a_status"] = [p[0] for p in parsed]
    df["kmt2a_partner"] = [p[1] for p in parsed]
    return dictionary.conform(df)
