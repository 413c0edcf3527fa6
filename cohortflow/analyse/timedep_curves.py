"""What the figures of a time-dependent grouping draw, computed here so that ``render/`` only
reads it: the landmark data sets (``analyse/landmark.parquet``), the Simon-Makuch curves
(``analyse/simon_makuch.parquet``) and their numbers at risk at each whole year
(``analyse/simon_makuch_at_risk.csv``).

Rows are keyed by ``analysis`` (the derived analysis ID of ``survival.csv``:
``<analysis>_landmark_<L>m`` or ``<analysis>_simon_makuch``) and ``group`` (``exposed`` or
``unexposed``). The figures use the analysed patients with a usable time of the endpoint
(``analysis.endpoint_data``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from cohortflow.analyse.adapters import DAYS_PER_MONTH, DAYS_PER_YEAR, exposure_days
from cohortflow.analyse.analysis import endpoint_data
from cohortflow.core.defaults import Analysis, Study
from cohortflow.stats.timedep import SIMON_MAKUCH_TABLE_COLUMNS, curve_at, landmark, simon_makuch

#: Landmark data sets: one row per patient still at risk after the landmark; ``time`` in days
#: from the landmark, ``event`` 1 for an event.
LANDMARK_COLUMNS = ["analysis", "study_id", "group", "time", "event"]
#: Simon-Makuch curves: the step table of ``stats.timedep.simon_makuch`` per group.
SIMON_MAKUCH_COLUMNS = ["analysis", "group", *SIMON_MAKUCH_TABLE_COLUMNS]
#: Number in each Simon-Makuch risk set at 0, 1, 2, ... years, up to the last follow-up (or
#: ``AT_RISK_MIN_YEARS``); nobody is at risk after the last year listed.
AT_RISK_COLUMNS = ["analysis", "group", "time_years", "time_days", "n_risk"]
#: The tables, by their name in the analyse rule's outputs.
TIMEDEP_TABLES = ("landmark", "simon_makuch", "simon_makuch_at_risk")
#: The at-risk table covers at least these years (the figure's default axis).
AT_RISK_MIN_YEARS = 8


def timedep_curves(
    analysed: pd.DataFrame, adtte: pd.DataFrame, study: dict[str, Any]
) -> dict[str, pd.DataFrame]:
    """``{"landmark", "simon_makuch", "simon_makuch_at_risk"}`` tables of every analysis
    whose grouping is time-dependent (empty tables with their columns when there is none)."""
    landmarks, curves, at_risk = [], [], []
    for a in study["analyses"]:
        grouping = Study.of(study).groupings.get(Analysis.of(a).by) or {}
        if not grouping.get("time_dependent"):
            continue
        ep = study["endpoints"][a["endpoint"]]
        data = endpoint_data(analysed, adtte, a["endpoint"])
        t = data["AVAL"].to_numpy(float)
        e = (data["CNSR"] == 0).to_numpy(int)
        x = exposure_days(data, grouping["time_dependent"], ep["origin"])
        for months in Analysis.of(a).landmarks_months:
            ld = landmark(t, e, x, months * DAYS_PER_MONTH).table
            landmarks.append(
                pd.DataFrame(
                    {
                        "analysis": f"{a['id']}_landmark_{months:g}m",
                        "study_id": data["study_id"].to_numpy()[ld["index"].to_numpy()],
                        "group": ld["group"],
                        "time": ld["time"],
                        "event": ld["event"],
                    }
                )
            )
        aid = f"{a['id']}_simon_makuch"
        sm = simon_makuch(t, e, x, ci_method=Analysis.of(a).ci_method)
        last = math.ceil(float(np.max(t, initial=0.0)) / DAYS_PER_YEAR)
        years = np.arange(max(AT_RISK_MIN_YEARS, last) + 1)
        for key, curve in sm.items():
            curves.append(curve.table.assign(analysis=aid, group=key))
            n_risk = curve_at(curve, years * DAYS_PER_YEAR)["n_risk"].to_numpy()
            at_risk.append(
                pd.DataFrame(
                    {
                        "analysis": aid,
                        "group": key,
                        "time_years": years,
                        "time_days": years * DAYS_PER_YEAR,
                        "n_risk": n_risk,
                    }
                )
            )
    return {
        "landmark": _frame(landmarks, LANDMARK_COLUMNS),
        "simon_makuch": _frame(curves, SIMON_MAKUCH_COLUMNS),
        "simon_makuch_at_risk": _frame(at_risk, AT_RISK_COLUMNS),
    }


def _frame(parts: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    """The parts stacked with ``columns`` in order (an empty table with them if none)."""
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True)[columns]
