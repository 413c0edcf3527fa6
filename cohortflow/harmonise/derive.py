"""Derived canonical variables (ages, KMT2A status) of mapped site data."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cohortflow.core import dictionary
from cohortflow.core.values import cytogenetics_group, kmt2a_status


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


def relapse_timing(
    diagnosis: pd.Series, relapse: pd.Series, end_of_therapy: pd.Series
) -> pd.Series:
    """BFM relapse timing per patient (very_early / early / late; missing when undecidable).

    very early: < 18 completed months from diagnosis; early: >= 18 months from diagnosis and
    < 6 completed months after the end of front-line therapy (or before it ended); late:
    >= 6 completed months after the end of therapy.
    """
    from_dx = completed_months(diagnosis, relapse)
    from_eot = completed_months(end_of_therapy, relapse)
    dx = from_dx.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    eot = from_eot.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        label = np.select(
            [dx < 18, (dx >= 18) & (eot < 6), (dx >= 18) & (eot >= 6)],
            ["very_early", "early", "late"],
            default="",
        )
    out = pd.Series(label, index=relapse.index, dtype=object)
    out[out == ""] = None
    return out


def harmonise(mapped: pd.DataFrame) -> pd.DataFrame:
    """Canonical patients table of one site: derived variables added, dictionary order/dtypes."""
    df = dictionary.conform(mapped)
    df["age_at_diagnosis_months"] = completed_months(df["birth_date"], df["diagnosis_date"])
    df["age_at_diagnosis_years"] = years_between(df["birth_date"], df["diagnosis_date"])
    df["age_at_rr_years"] = years_between(df["birth_date"], df["rr_diagnosis_date"])
    blasts = pd.to_numeric(df["pb_blasts_day8"], errors="coerce").astype(float)
    df["prednisone_response"] = pd.Series(
        np.where(np.isnan(blasts), None, np.where(blasts < 1000, "good", "poor")),
        index=df.index,
    )
    df["relapse_timing"] = relapse_timing(
        df["diagnosis_date"], df["relapse_date"], df["end_of_therapy_date"]
    )
    # (karyotype, FISH, PCR) combinations repeat: combine each distinct one once
    tests = [df[c].astype(object).where(df[c].notna(), None) for c in KMT2A_INPUTS]
    keys = list(zip(*tests, strict=True))
    status = {k: kmt2a_status(*k) for k in dict.fromkeys(keys)}
    df["kmt2a_status"] = [status[k][0] for k in keys]
    df["kmt2a_partner"] = [status[k][1] for k in keys]
    # cytogenetics_group not given: derived from an ISCN karyotype (None if not ISCN)
    given = df["cytogenetics_group"].notna()
    if (~given & df["karyotype"].notna()).any():
        groups = {k: cytogenetics_group(k) for k in tests[0][~given].unique()}
        derived = tests[0].map(groups)
        df["cytogenetics_group"] = df["cytogenetics_group"].astype(object).where(given, derived)
    return dictionary.conform(df)


#: Inputs of the KMT2A status, in the order ``values.kmt2a_status`` takes them.
KMT2A_INPUTS = ["karyotype", "kmt2a_fish", "kmt2a_pcr"]


LINEAGE = ["source_sha256", "source_sheet", "source_row"]
EVENT_SOURCES = {
    "relapse_date": "relapse",
    "death_date": "death",
    "second_malignancy_date": "second_malignancy",
}


def longitudinal(mapped: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Events, responses, treatment cycles and transplants of one site, derived from the
    patient-level columns (and mapping keys 'transplants.<column>'), with lineage."""
    base = mapped[["study_id", "site", *LINEAGE]]
    ev = []
    for col, kind in EVENT_SOURCES.items():
        sel = mapped[col].notna()
        if sel.any():
            part = base[sel].copy()
            part["event"] = kind
            part["event_date"] = mapped.loc[sel, col]
            part["source_variable"] = col
            ev.append(part)
    events = pd.concat(ev, ignore_index=True) if ev else base.iloc[0:0].copy()
    sel = mapped["induction_response"].notna()
    responses = base[sel].copy()
    is_rr = mapped.loc[sel, "rr_diagnosis_date"].notna()
    responses["assessment"] = is_rr.map({True: "R/R cycle 1", False: "induction"})
    responses["response"] = mapped.loc[sel, "induction_response"]
    agents = mapped["first_cycle_agents"].fillna("").astype(str).str.split(";")
    # one row per patient and agent, in patient order (explode: no per-patient loop)
    one = pd.Series(agents.to_numpy(), index=np.arange(len(agents)), dtype=object).explode()
    one = one[one.notna() & (one != "")]
    cycles = base.iloc[one.index.to_numpy()].reset_index(drop=True)
    cycles = cycles.assign(cycle="R/R cycle 1", agent=one.to_numpy(object))
    cycles = cycles[[*base.columns, "cycle", "agent"]]
    sel = mapped["hsct_date"].notna()
    tx = base[sel].copy()
    tx["transplant"] = 1
    tx["hsct_date"] = mapped.loc[sel, "hsct_date"]
    tx["donor"] = mapped.loc[sel, "hsct_donor"]
    tx["source"] = mapped.loc[sel, "hsct_source"]
    tx["conditioning"] = mapped.loc[sel, "hsct_conditioning"]
    for col in mapped.columns:
        if col.startswith("transplants."):
            tx[col.split(".", 1)[1]] = mapped.loc[sel, col]
    out = {"events": events, "responses": responses, "treatment_cycles": cycles, "transplants": tx}
    return {
        name: dictionary.conform(
            df.sort_values(["study_id"], kind="stable").reset_index(drop=True), name
        )
        for name, df in out.items()
    }
