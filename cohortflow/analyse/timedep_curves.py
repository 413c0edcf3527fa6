"""What the figures of a time-dependent grouping draw, tabulated here so that ``render/`` only
reads it: the landmark data sets (``analyse/landmark.parquet``), the Simon-Makuch curves
(``analyse/simon_makuch.parquet``) and their numbers at risk at each whole year
(``analyse/simon_makuch_at_risk.csv``).

Nothing is estimated here: ``adapters.time_dependent`` computes the landmark data sets and
the Simon-Makuch curves once (for survival.csv and tests.csv) and returns them
(``adapters.TimedepResult``); this module only lays them out as tables.

Rows are keyed by ``analysis`` (the derived analysis ID of ``survival.csv``:
``<analysis>_landmark_<L>m`` or ``<analysis>_simon_makuch``) and ``group`` (``exposed`` or
``unexposed``). The figures use the analysed patients with a usable time of the endpoint.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from cohortflow.analyse.adapters import TimedepResult
from cohortflow.analyse.curves import stack
from cohortflow.analyse.outputs import AT_RISK_MIN_YEARS
from cohortflow.core.timescale import DAYS_PER_YEAR
from cohortflow.stats.timedep import SIMON_MAKUCH_TABLE_COLUMNS, curve_at

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

__all__ = [
    "AT_RISK_COLUMNS",
    "AT_RISK_MIN_YEARS",
    "LANDMARK_COLUMNS",
    "SIMON_MAKUCH_COLUMNS",
    "TIMEDEP_TABLES",
    "timedep_curves",
]


def timedep_curves(results: list[TimedepResult]) -> dict[str, pd.DataFrame]:
    """``{"landmark", "simon_makuch", "simon_makuch_at_risk"}`` tables of the time-dependent
    analyses' ``results`` (``adapters.time_dependent``), in their order (empty tables with
    their columns when there is none)."""
    landmarks, curves, at_risk = [], [], []
    for r in results:
        for months, ld in r.landmarks:
            landmarks.append(
                pd.DataFrame(
                    {
                        "analysis": f"{r.analysis}_landmark_{months:g}m",
                        "study_id": r.study_id[ld.table["index"].to_numpy()],
                        "group": ld.table["group"],
                        "time": ld.table["time"],
                        "event": ld.table["event"],
                    }
                )
            )
        aid = f"{r.analysis}_simon_makuch"
        last = math.ceil(float(np.max(r.time, initial=0.0)) / DAYS_PER_YEAR)
        years = np.arange(max(AT_RISK_MIN_YEARS, last) + 1)
        for key, curve in r.simon_makuch.items():
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
        "landmark": stack(landmarks, LANDMARK_COLUMNS),
        "simon_makuch": stack(curves, SIMON_MAKUCH_COLUMNS),
        "simon_makuch_at_risk": stack(at_risk, AT_RISK_COLUMNS),
    }
