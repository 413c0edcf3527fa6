"""Time-to-event endpoints in CDISC ADTTE shape from canonical patient data."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from cohortflow.core.expr import evaluate

ADTTE_COLUMNS = [
    "study_id", "site", "PARAMCD", "PARAM", "STARTDT", "ADT", "AVAL", "CNSR", "EVENTTYPE",
    "EVNTDESC", "CNSDTDSC",
]  # fmt: skip
#: CNSR codes: 0 = event of interest; a positive code = censored, for the reason given.
CNSR_CODES = {
    0: "Event of interest",
    1: "Censored: last known alive without event",
    2: "Censored: data cut-off (event or follow-up after it)",
    3: "Competing event (censored for cause-specific analyses)",
}
#: EVENTTYPE: 1 = event of interest, 2 = competing event, 0 = censored.


def derive(df: pd.DataFrame, code: str, endpoint: dict[str, Any], cutoff: str) -> pd.DataFrame:
    """One ADTTE row per patient: AVAL in days from the endpoint's origin to its first event
    (CNSR 0), to a competing event (CNSR 3) or to censoring (CNSR 1 last known alive, 2 data
    cut-off).

    Events after the cut-off are ignored and follow-up is censored at the cut-off. With
    ``induction_failure`` configured, patients whose expression holds have an event at
    origin + ``at_day`` (conventionally day 0). Patients with no origin, or with no event and
    no follow-up date, get AVAL missing and CNSDTDSC saying why.
    """
    cut = pd.Timestamp(cutoff)
    origin = pd.to_datetime(df[endpoint["origin"]]).reset_index(drop=True)
    df = df.reset_index(drop=True)

    def first_of(specs: list[dict[str, Any]]) -> tuple[pd.Series, pd.Series]:
        dates = pd.DataFrame({e["source"]: pd.to_datetime(df[e["source"]]) for e in specs})
        dates = dates.where(dates <= cut)
        # only events after the origin count (e.g. a relapse before HSCT is not an event of
        # "relapse after HSCT")
        dates = dates.where(dates.ge(origin, axis=0))
        first = dates.min(axis=1)
        desc = {e["source"]: e["description"] for e in specs}
        which = pd.Series(
            [desc[row.idxmin()] if row.notna().any() else None for _, row in dates.iterrows()],
            dtype=object,
        )
        return first, which

    ev_date, ev_desc = first_of(endpoint["events"])
    comp = endpoint.get("competing", [])
    cp_date, cp_desc = first_of(comp) if comp else (pd.Series(pd.NaT, index=df.index), None)
    ind = endpoint.get("induction_failure")
    if ind:
        r = evaluate(ind["expr"], df)
        failed = r.value & r.known
        at = pd.to_timedelta(ind.get("at_day", 0), unit="D")
        ev_date = ev_date.where(~failed, origin + at)
        ev_desc = ev_desc.where(
            ~failed,
            ind.get("description", f"Induction failure (assigned day {ind.get('at_day', 0)})"),
        )
    censor = pd.to_datetime(df[endpoint["censor"]])
    rows = []
    for i in range(len(df)):
        o = origin.iloc[i]
        rec = {
            "study_id": df["study_id"].iloc[i],
            "site": df["site"].iloc[i],
            "PARAMCD": code,
            "PARAM": endpoint["label"],
            "STARTDT": o,
            "ADT": pd.NaT,
            "AVAL": np.nan,
            "CNSR": np.nan,
            "EVENTTYPE": np.nan,
            "EVNTDESC": "",
            "CNSDTDSC": "",
        }
        e, c = ev_date.iloc[i], cp_date.iloc[i]
        if pd.isna(o):
            rec["CNSDTDSC"] = f"no {endpoint['origin']}"
        elif pd.notna(e) and (pd.isna(c) or e <= c):
            rec.update(ADT=e, CNSR=0, EVENTTYPE=1, EVNTDESC=ev_desc.iloc[i])
        elif pd.notna(c):
            rec.update(ADT=c, CNSR=3, EVENTTYPE=2, EVNTDESC=cp_desc.iloc[i], CNSDTDSC=CNSR_CODES[3])
        elif pd.notna(censor.iloc[i]):
            if censor.iloc[i] > cut:
                rec.update(ADT=cut, CNSR=2, EVENTTYPE=0, CNSDTDSC="Data cut-off")
            else:
                rec.update(
                    ADT=censor.iloc[i],
                    CNSR=1,
                    EVENTTYPE=0,
                    CNSDTDSC="Last known alive without event",
                )
        else:
            rec["CNSDTDSC"] = f"no {endpoint['censor']}"
        if pd.notna(rec["ADT"]):
            rec["AVAL"] = float((rec["ADT"] - o).days)
        rows.append(rec)
    out = pd.DataFrame(rows, columns=ADTTE_COLUMNS)
    out["CNSR"] = out["CNSR"].astype("Int64")
    out["EVENTTYPE"] = out["EVENTTYPE"].astype("Int64")
    return out


def adtte_schema() -> object:
    """pandera schema of the ADTTE analysis dataset (checked before any estimate is made)."""
    # lazy: pandera costs 0.6 s of import (python -X importtime) and core.dictionary is
    # imported by every Snakemake start-up; only schema checks need it
    import pandera.pandas as pa

    return pa.DataFrameSchema(
        {
            "study_id": pa.Column(str, nullable=False),
            "site": pa.Column(str, nullable=False),
            "PARAMCD": pa.Column(str, nullable=False),
            "AVAL": pa.Column(float, pa.Check.ge(0), nullable=True),
            "CNSR": pa.Column("Int64", pa.Check.isin([0, 1, 2, 3]), nullable=True),
            "EVENTTYPE": pa.Column("Int64", pa.Check.isin([0, 1, 2]), nullable=True),
        },
        unique=["study_id", "PARAMCD"],
        name="adtte",
    )
