"""Checks of survival inputs shared by every estimator of ``stats`` (one place, in the manner
of lifelines' ``utils._preprocess_inputs``): numeric, one-dimensional, finite, non-negative
times; 0/1 event indicators (or 0/cause codes for competing risks); equal lengths.

Private to ``cohortflow.stats``: estimators call these before any arithmetic, so a bad input
is a ``ValueError`` naming the argument, never a wrong number.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def as_float_array(
    values: Any, name: str, *, allow_nan: bool = False, nonnegative: bool = False
) -> np.ndarray:
    """``values`` as a one-dimensional float array (None and pd.NA become NaN).

    Raises ValueError when a value is not numeric, the array is not one-dimensional, a value
    is missing (unless ``allow_nan``), infinite, or negative (with ``nonnegative``).
    """
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        try:
            arr = np.asarray(
                [
                    np.nan if v is None or v is pd.NA else v
                    for v in np.asarray(values, dtype=object)
                ],
                dtype=float,
            )
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must be numeric: {exc}") from None
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if not allow_nan and np.isnan(arr).any():
        raise ValueError(f"{name} contains {int(np.isnan(arr).sum())} missing (NaN) value(s)")
    if np.isinf(arr).any():
        raise ValueError(f"{name} contains infinite value(s)")
    if nonnegative and (arr[~np.isnan(arr)] < 0).any():
        raise ValueError(
            f"{name} contains {int((arr[~np.isnan(arr)] < 0).sum())} negative value(s)"
        )
    return arr


def time_event(
    time: Any, event: Any, *, event_name: str = "event", causes: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Checked times (float) and event codes (int64) of equally many subjects.

    ``event`` is 0 (censored) or 1 (event); with ``causes`` (competing risks) 0 or a positive
    integer cause. Raises ValueError naming the argument otherwise.
    """
    t = as_float_array(time, "time")
    e = as_float_array(event, event_name)
    if t.shape != e.shape:
        raise ValueError(
            f"time and {event_name} must have equal lengths, got {t.shape[0]} and {e.shape[0]}"
        )
    if t.size == 0:
        raise ValueError(f"time and {event_name} are empty: at least one subject is needed")
    if (t < 0).any():
        raise ValueError(f"time contains {int((t < 0).sum())} negative value(s)")
    if causes:
        bad = (e < 0) | (e != np.round(e))
        if bad.any():
            raise ValueError(
                f"{event_name} must be 0 (censored) or a positive integer cause, "
                f"found {sorted(set(e[bad].tolist()))[:5]}"
            )
    elif not np.isin(e, (0.0, 1.0)).all():
        bad_values = sorted(set(e[~np.isin(e, (0.0, 1.0))].tolist()))[:5]
        raise ValueError(f"{event_name} must be 0 (censored) or 1 (event), found {bad_values}")
    return t, e.astype(np.int64)
