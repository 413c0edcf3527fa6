"""Time-to-event endpoints in CDISC ADTTE shape from canonical patient data."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from cohortflow.core.defaults import Endpoint, InductionFailure
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


def _first_event(
    df: pd.DataFrame, specs: list[dict[str, Any]], origin: pd.Series, cut: pd.Timestamp
) -> tuple[pd.Series, pd.Series]:
    """Per patient the first date among the event sources ``specs`` (after the origin, up to
    the cut-off) and the description of the source that gave it."""
    dates = pd.DataFrame({e["source"]: pd.to_datetime(df[e["source"]]) for e in specs})
    dates = dates.where(dates <= cut)
    # only events after the origin count (e.g. a relapse before HSCT is not an event of
    # "relapse after HSCT")
    dates = dates.where(dates.ge(origin, axis=0))
    first = dates.min(axis=1)
    # the first source holding the earliest date names the event (ties: the first listed)
    arr = dates.to_numpy("datetime64[ns]")
    filled = np.where(np.isnat(arr), np.datetime64("NaT", "ns"), arr)
    big = np.where(np.isnat(filled), np.datetime64("2262-01-01", "ns"), filled)
    pick = np.argmin(big, axis=1) if len(specs) else np.zeros(len(df), int)
    descs = np.array([e["description"] for e in specs], dtype=object)
    which = pd.Series(
        np.where(first.notna().to_numpy(), descs[pick] if len(specs) else None, None),
        dtype=object,
    )
    return first, which


def _induction_failure(
    df: pd.DataFrame,
    endpoint: dict[str, Any],
    origin: pd.Series,
    ev_date: pd.Series,
    ev_desc: pd.Series,
) -> tuple[pd.Series, pd.Series]:
    """Event dates and descriptions with an event at origin + ``at_day`` for patients whose
    ``induction_failure`` expression holds."""
    ind = endpoint["induction_failure"]
    r = evaluate(ind["expr"], df)
    failed = r.value & r.known
    spec = InductionFailure.of(ind)
    at = pd.to_timedelta(spec.at_day, unit="D")
    ev_date = ev_date.where(~failed, origin + at)
    ev_desc = ev_desc.where(
        ~failed, spec.description or f"Induction failure (assigned day {spec.at_day})"
    )
    return ev_date, ev_desc


def derive(df: pd.DataFrame, code: str, endpoint: dict[str, Any], cutoff: str) -> pd.DataFrame:
    """One ADTTE row per patient: AVAL in days from the endpoint's origin to its first event
    (CNSR 0), to a competing event (CNSR 3) or to censoring (CNSR 1 last known alive, 2 data
    cut-off).

    Events after the cut-off are ignored and follow-up is censored at the cut-off; an origin
    after the cut-off counts as no origin (the patient is not at risk yet). With
    ``induction_failure`` configured, patients whose expression holds have an event at
    origin + ``at_day`` (conventionally day 0). Patients with no origin, or with no event and
    no follow-up date, get AVAL missing and CNSDTDSC saying why.
    """
    cut = pd.Timestamp(cutoff)
    origin = pd.to_datetime(df[endpoint["origin"]]).reset_index(drop=True)
    df = df.reset_index(drop=True)

    ev_date, ev_desc = _first_event(df, endpoint["events"], origin, cut)
    comp = Endpoint.of(endpoint).competing
    cp_date, cp_desc = (
        _first_event(df, comp, origin, cut)
        if comp
        else (pd.Series(pd.NaT, index=df.index), pd.Series(None, index=df.index, dtype=object))
    )
    if endpoint.get("induction_failure"):
        ev_date, ev_desc = _induction_failure(df, endpoint, origin, ev_date, ev_desc)
    censor = pd.to_datetime(df[endpoint["censor"]]).reset_index(drop=True)
    n = len(df)
    # an origin after the cut-off (e.g. HSCT in January for a December cut-off) has not
    # happened as of the cut-off: the patient is not in this endpoint's risk set yet
    late_origin = (origin > cut).to_numpy()
    no_origin = origin.isna().to_numpy() | late_origin
    e_ok = ev_date.notna().to_numpy()
    c_ok = cp_date.notna().to_numpy()
    is_event = ~no_origin & e_ok & (~c_ok | (ev_date <= cp_date).to_numpy())
    is_comp = ~no_origin & ~is_event & c_ok
    rest = ~no_origin & ~is_event & ~is_comp
    has_censor = censor.notna().to_numpy()
    after_cut = (censor > cut).to_numpy()
    is_cut = rest & has_censor & after_cut
    is_alive = rest & has_censor & ~after_cut
    no_fu = rest & ~has_censor
    adt = pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns]")
    adt[is_event] = ev_date[is_event]
    adt[is_comp] = cp_date[is_comp]
    adt[is_cut] = cut
    adt[is_alive] = censor[is_alive]
    cnsr = np.select([is_event, is_comp, is_cut, is_alive], [0, 3, 2, 1], -1)
    etype = np.select([is_event, is_comp, is_cut | is_alive], [1, 2, 0], -1)
    evdesc = np.full(n, "", dtype=object)
    evdesc[is_event] = ev_desc.to_numpy(object)[is_event]
    evdesc[is_comp] = cp_desc.to_numpy(object)[is_comp]
    cdesc = np.full(n, "", dtype=object)
    cdesc[no_origin] = f"no {endpoint['origin']}"
    cdesc[late_origin] = f"{endpoint['origin']} after the data cut-off"
    cdesc[is_comp] = CNSR_CODES[3]
    cdesc[is_cut] = "Data cut-off"
    cdesc[is_alive] = "Last known alive without event"
    cdesc[no_fu] = f"no {endpoint['censor']}"
    aval = (adt - origin.astype("datetime64[ns]")).dt.days.astype(float)
    out = pd.DataFrame(
        {
            "study_id": df["study_id"].to_numpy(object),
            "site": df["site"].to_numpy(object),
            "PARAMCD": code,
            "PARAM": endpoint["label"],
            "STARTDT": origin.astype("datetime64[ns]").to_numpy(),
            "ADT": adt.to_numpy(),
            "AVAL": aval.to_numpy(),
            "CNSR": pd.array(np.where(cnsr >= 0, cnsr, 0), dtype="Int64"),
            "EVENTTYPE": pd.array(np.where(etype >= 0, etype, 0), dtype="Int64"),
            "EVNTDESC": evdesc,
            "CNSDTDSC": cdesc,
        },
        columns=ADTTE_COLUMNS,
    )
    out.loc[cnsr < 0, "CNSR"] = pd.NA
    out.loc[etype < 0, "EVENTTYPE"] = pd.NA
    return out


def adtte_schema() -> object:
    """pandera schema of the ADTTE analysis dataset (checked before any estimate is made)."""
    # lazy: pandera costs 0.6 s of import (python -X importtime) and core.dictionary is
    # imported by every Snakemake start-up; only schema checks need it
    import pandera.pandas as pa

    def text(s: pd.Series) -> pd.Series | bool:
        # pandera's `str` dtype check calls a Python function per cell (4.6 s on the three
        # text columns of a 1,000,000-patient ADTTE); this checks the whole column in C and
        # falls back to a per-cell answer only when a cell is not text
        if pd.api.types.infer_dtype(s, skipna=False) == "string":
            return True
        return s.map(lambda v: isinstance(v, str))

    def text_column() -> object:
        return pa.Column(object, pa.Check(text, name="is text"), nullable=False)

    return pa.DataFrameSchema(
        {
            "study_id": text_column(),
            "site": text_column(),
            "PARAMCD": text_column(),
            "AVAL": pa.Column(float, pa.Check.ge(0), nullable=True),
            "CNSR": pa.Column("Int64", pa.Check.isin([0, 1, 2, 3]), nullable=True),
            "EVENTTYPE": pa.Column("Int64", pa.Check.isin([0, 1, 2]), nullable=True),
        },
        unique=["study_id", "PARAMCD"],
        name="adtte",
    )
