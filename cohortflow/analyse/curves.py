"""The curves the Kaplan-Meier and cumulative-incidence figures draw, tabulated once in the
analyse stage (``analyse/curves.parquet``, schema ``analyse.outputs.CURVE_COLUMNS``), so
that ``render/`` only reads them: the estimators' step tables as the analyses computed them,
and the numbers under observation at whole years for the number-at-risk tables.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from cohortflow.analyse.outputs import CURVE_COLUMNS
from cohortflow.core.timescale import DAYS_PER_YEAR
from cohortflow.stats.survival import number_at_risk

#: Columns of ``CURVE_COLUMNS`` holding whole numbers that a row may leave empty (<NA>).
_NULLABLE_INT = ("cause", "events", "n_event", "n_censor")
#: Columns of ``CURVE_COLUMNS`` holding estimates (NaN on ``at_risk`` rows).
_ESTIMATES = ("estimate", "lower", "upper")


def year_times(last_days: float) -> np.ndarray:
    """Whole years 0, 1, 2, ... in days, up to the first one after the last follow-up
    ``last_days`` (where nobody is under observation any more): the at-risk times of a
    figure with a tick each year (it prints 0 for any later tick)."""
    return np.arange(math.ceil(last_days / DAYS_PER_YEAR) + 2) * DAYS_PER_YEAR


def under_observation(
    time: np.ndarray, at: np.ndarray, entry: np.ndarray | None = None
) -> list[int]:
    """Number still under observation (``time >= t``) at each time of ``at``; with delayed
    entry only those already entered (``entry <= t``)."""
    return number_at_risk(time, at, entry)


def curve_table(
    key: dict[str, Any], result: Any, at: np.ndarray | None = None, counts: list[int] | None = None
) -> pd.DataFrame:
    """The ``step`` rows of one estimate (``result``: ``stats`` ``KMResult`` or
    ``CIFResult``), then, when ``at`` is given, its ``at_risk`` rows (``counts`` at ``at``).

    ``key`` holds ``analysis``, ``kind``, ``group``, ``cause``, ``n`` and ``events``."""
    tab = result.table
    steps = pd.DataFrame(
        {
            "row": "step",
            "time": tab["time"].to_numpy(float),
            "n_risk": tab["n_risk"].to_numpy(),
            "n_event": tab["n_event"].to_numpy(),
            "n_censor": tab["n_censor"].to_numpy(),
            "estimate": tab["survival" if key["kind"] == "km" else "cif"].to_numpy(float),
            "lower": tab["lower"].to_numpy(float),
            "upper": tab["upper"].to_numpy(float),
        }
    )
    parts = [steps.assign(**key)]
    if at is not None:
        parts.append(at_risk_table(key, at, counts or []))
    return curves_frame(parts)


def at_risk_table(key: dict[str, Any], at: np.ndarray, counts: list[int]) -> pd.DataFrame:
    """The ``at_risk`` rows of a curve or group ``key``: ``counts`` under observation at the
    times ``at`` (days)."""
    return pd.DataFrame(
        {"row": "at_risk", "time": np.asarray(at, dtype=float), "n_risk": counts}
    ).assign(**key)


def stack(parts: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    """The parts stacked with ``columns`` in order (an empty table with them if none)."""
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True).reindex(columns=columns)


def curves_frame(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Curve tables stacked as ``analyse/curves.parquet`` (``CURVE_COLUMNS``): counts as
    integers, those a row may leave empty as nullable integers."""
    typed = dict.fromkeys(_NULLABLE_INT, "Int64") | dict.fromkeys(_ESTIMATES, "float64")
    parts = [p.reindex(columns=CURVE_COLUMNS).astype(typed) for p in parts]
    out = stack(parts, CURVE_COLUMNS)
    return out if out.empty else out.astype({"n": "int64", "n_risk": "int64"})
