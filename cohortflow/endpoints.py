"""Time-to-event endpoints in ADTTE shape from canonical patient data."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

ADTTE_COLUMNS = [
    "study_id",
    "site",
    "PARAMCD",
    "PARAM",
    "STARTDT",
    "ADT",
    "AVAL",
    "CNSR",
    "EVNTDESC",
    "CNSDTDSC",
]


def derive(df: pd.DataFrame, code: str, endpoint: dict[str, Any], cutoff: str) -> pd.DataFrame:
    """One ADTTE row per patient with a known origin: AVAL in days from origin to the first
    event (CNSR 0) or to censoring (CNSR 1 = last known alive, 2 = data cut-off).

    Events after the cut-off are censored at the cut-off; patients with no origin or no
    follow-up date get AVAL missing and CNSDTDSC saying why.
    """
    cut = pd.Timestamp(cutoff)
    origin = pd.to_datetime(df[endpoint["origin"]])
    ev_dates = pd.DataFrame(
        {e["source"]: pd.to_datetime(df[e["source"]]) for e in endpoint["events"]}
    )
    ev_dates = ev_dates.where(ev_dates <= cut)
    first = ev_dates.min(axis=1)
    first_src = pd.Series(
        [row.idxmin() if row.notna().any() else None for _, row in ev_dates.iterrows()],
        index=ev_dates.index,
        dtype=object,
    )
    desc = {e["source"]: e["description"] for e in endpoint["events"]}
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
        }
        if pd.isna(o):
            rec.update(
                ADT=pd.NaT,
                AVAL=np.nan,
                CNSR=np.nan,
                EVNTDESC="",
                CNSDTDSC=f"no {endpoint['origin']}",
            )
        elif pd.notna(first.iloc[i]):
            rec.update(ADT=first.iloc[i], CNSR=0, EVNTDESC=desc[first_src.iloc[i]], CNSDTDSC="")
        elif pd.notna(censor.iloc[i]):
            c = censor.iloc[i]
            if c > cut:
                rec.update(ADT=cut, CNSR=2, EVNTDESC="", CNSDTDSC="Data cut-off")
            else:
                rec.update(ADT=c, CNSR=1, EVNTDESC="", CNSDTDSC="Last known alive without event")
        else:
            rec.update(
                ADT=pd.NaT,
                AVAL=np.nan,
                CNSR=np.nan,
                EVNTDESC="",
                CNSDTDSC=f"no {endpoint['censor']}",
            )
        if pd.notna(rec["ADT"]):
            rec["AVAL"] = float((rec["ADT"] - o).days)
        rows.append(rec)
    out = pd.DataFrame(rows, columns=ADTTE_COLUMNS)
    out["CNSR"] = out["CNSR"].astype("Int64")
    return out
