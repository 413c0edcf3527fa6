"""Checks of survival inputs shared by every estimator of ``stats`` (one place, in the manner
of lifelines' ``utils._preprocess_inputs``): numeric, one-dimensional, finite, non-negative
times; 0/1 event indicators (or 0/cause codes for competing risks); equal lengths.

Private to ``cohortflow.stats``: estimators call these before any arithmetic, so a bad input
is a ``ValueError`` naming the argument, never a wrong number. Also the pieces of output the
estimators share: the per-time event table and the regression coefficient table.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from cohortflow.core.errors import CohortflowError


def as_float_array(
    values: Any, name: str, *, allow_nan: bool = False, nonnegative: bool = False
) -> np.ndarray:
    """``values`` as a one-dimensional float array (None and pd.NA become NaN).

    Raises ValueError when a value is not numeric, the array is not one-dimensional, a value
    is missing (unless ``allow_nan``), infinite, or negative (with ``nonnegative``).

    >>> as_float_array([1, None, 3], "exposure_time", allow_nan=True).tolist()
    [1.0, nan, 3.0]
    >>> as_float_array([1, None], "time")
    Traceback (most recent call last):
    ...
    ValueError: time contains 1 missing (NaN) value(s)
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

    >>> t, e = time_event([5, 8.5], [1, 0])
    >>> t.tolist(), e.tolist()
    ([5.0, 8.5], [1, 0])
    >>> time_event([5, 8], [1, 2])
    Traceback (most recent call last):
    ...
    ValueError: event must be 0 (censored) or 1 (event), found [2.0]
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


def z_quantile(alpha: float) -> float:
    """The standard normal quantile ``z`` of two-sided ``1 - alpha`` confidence limits;
    ValueError when ``alpha`` is not in (0, 1).

    >>> round(z_quantile(0.05), 4)
    1.96
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    return float(stats.norm.ppf(1.0 - alpha / 2.0))


def cause_code(cause: Any) -> int:
    """A competing-risks cause as a positive integer; ValueError otherwise (``True`` too).

    >>> cause_code(2.0)
    2
    """
    if isinstance(cause, bool) or int(cause) != cause or cause < 1:
        raise ValueError(f"cause must be a positive integer, got {cause!r}")
    return int(cause)


def entry_times(entry: Any, t: np.ndarray) -> np.ndarray:
    """Delayed-entry times of the subjects with exit times ``t``: numeric, non-negative, one
    per subject, each strictly before its exit (a subject is at risk on (entry, exit]);
    ValueError otherwise.

    >>> entry_times([0, 2], np.array([5.0, 2.0]))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: 1 subject(s) have entry >= exit time; a subject is at risk on (entry, exit], ...
    """
    s = as_float_array(entry, "entry")
    if s.shape != t.shape:
        raise ValueError(f"entry must have the same length as time ({t.size}), got {s.size}")
    if (s < 0).any():
        raise ValueError(f"entry contains {int((s < 0).sum())} negative value(s)")
    bad = int((s >= t).sum())
    if bad:
        raise ValueError(
            f"{bad} subject(s) have entry >= exit time; a subject is at risk on (entry, exit], "
            "so entry must be strictly before the event or censoring time"
        )
    return s


def plain_value(value: Any) -> Any:
    """A label as a plain Python value (numpy scalars unwrapped).

    >>> plain_value(np.int64(3)), plain_value("a")
    (3, 'a')
    """
    return value.item() if isinstance(value, np.generic) else value


def group_codes(values: Any, n: int, name: str) -> tuple[list[Any], np.ndarray]:
    """Sorted distinct labels of ``n`` group (or stratum) values and the integer code of each
    value. Raises ValueError when the length is not ``n``, a value is missing or the labels
    cannot be sorted together.

    >>> group_codes(["b", "a", "b"], 3, "group")
    (['a', 'b'], array([1, 0, 1]))
    """
    v = np.asarray(values, dtype=object)
    if v.ndim != 1 or v.shape[0] != n:
        raise ValueError(f"{name} must have the same length as time ({n}), got {v.shape[0]}")
    if pd.isna(v).any():
        raise ValueError(f"{name} contains missing value(s)")
    # distinct values first (a hash pass), so Python touches each label once, not each subject
    codes, uniques = pd.factorize(v)
    distinct = [plain_value(x) for x in uniques]
    try:
        labels = sorted(set(distinct))
    except TypeError as exc:
        raise ValueError(f"{name} labels must be mutually sortable: {exc}") from None
    index = {lab: i for i, lab in enumerate(labels)}
    remap = np.array([index[x] for x in distinct], dtype=np.int64)
    return labels, remap[codes] if codes.size else np.zeros(0, dtype=np.int64)


def event_table(
    time: np.ndarray,
    counts: dict[str, np.ndarray],
    values: dict[str, np.ndarray],
    columns: list[str],
) -> pd.DataFrame:
    """An estimator's table, one row per time: ``time`` as float, the ``counts`` (at risk,
    events, ...) as int64, then the ``values`` (estimates, SE, limits) as given, in
    ``columns`` order.

    >>> event_table(np.array([0, 5]), {"n_risk": np.array([2.0, 2.0])},
    ...             {"survival": np.array([1.0, 0.5])}, ["time", "n_risk", "survival"])
       time  n_risk  survival
    0   0.0       2       1.0
    1   5.0       2       0.5
    """
    data: dict[str, np.ndarray] = {"time": np.asarray(time).astype(float)}
    data.update({k: np.asarray(v).astype(np.int64) for k, v in counts.items()})
    data.update(values)
    return pd.DataFrame(data, columns=columns)


class Coefficients:
    """What a regression result (``CoxResult``, ``FineGrayResult``) derives from its
    ``table`` of coefficients."""

    table: pd.DataFrame

    @property
    def coef(self) -> dict[str, float]:
        """Coefficient per covariate: the log hazard ratio (Cox) or log subdistribution
        hazard ratio (Fine-Gray)."""
        return {k: float(v) for k, v in self.table["coef"].items()}


def model_arguments(
    df: pd.DataFrame, covariates: Any, alpha: float, min_events_per_parameter: float
) -> list[str]:
    """The covariate names of a regression model (Cox, Fine-Gray) after the checks both share:
    ``alpha`` in (0, 1), a non-negative events-per-parameter threshold, at least one covariate,
    no duplicates, non-empty data (ValueError otherwise).

    >>> model_arguments(pd.DataFrame({"x": [1]}), ("x",), 0.05, 5)
    ['x']
    >>> model_arguments(pd.DataFrame({"x": [1]}), ["x", "x"], 0.05, 5)
    Traceback (most recent call last):
    ...
    ValueError: covariates contain duplicates: ['x', 'x']
    """
    z_quantile(alpha)  # checks alpha
    if min_events_per_parameter < 0:
        raise ValueError("min_events_per_parameter must not be negative")
    covariates = list(covariates)
    if not covariates:
        raise ValueError("at least one covariate is needed")
    if len(set(covariates)) != len(covariates):
        raise ValueError(f"covariates contain duplicates: {covariates}")
    if len(df) == 0:
        raise ValueError("the data are empty")
    return covariates


def coefficient_table(
    beta: np.ndarray, se: np.ndarray, covariates: list[str], alpha: float, ratio: str
) -> pd.DataFrame:
    """Per covariate: coefficient, SE, the ratio ``exp(coef)`` (column ``ratio``: ``hr`` or
    ``shr``) with its Wald CI at level 1 - ``alpha``, z and two-sided P.

    A log hazard ratio of 0.5 with SE 0.25: HR 1.6487 (1.0101-2.6912), z 2, P 0.0455 (the
    Wald limits and P of R's ``summary(coxph(...))``):

    >>> t = coefficient_table(np.array([0.5]), np.array([0.25]), ["x"], 0.05, "hr")
    >>> t.columns.tolist()
    ['coef', 'se', 'hr', 'lower', 'upper', 'z', 'p']
    >>> t.loc["x"].round(4).tolist()
    [0.5, 0.25, 1.6487, 1.0101, 2.6912, 2.0, 0.0455]
    """
    z = beta / se
    zcrit = z_quantile(alpha)
    return pd.DataFrame(
        {
            "coef": beta,
            "se": se,
            ratio: np.exp(beta),
            "lower": np.exp(beta - zcrit * se),
            "upper": np.exp(beta + zcrit * se),
            "z": z,
            "p": 2.0 * stats.norm.sf(np.abs(z)),
        },
        index=pd.Index(covariates, name="covariate"),
    )


def numeric_column(df: pd.DataFrame, col: str, role: str) -> np.ndarray:
    """Column ``col`` of ``df`` as floats; ValueError naming its ``role`` (duration, event,
    start, covariate) when it is absent, not numeric (categories must be 0/1 indicator
    columns), missing or infinite anywhere.

    >>> numeric_column(pd.DataFrame({"age": [3, 5]}), "age", "covariate").tolist()
    [3.0, 5.0]
    >>> numeric_column(pd.DataFrame({"risk": ["SR", "HR"]}), "risk", "covariate")
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: covariate column 'risk' must be numeric (dtype object); encode categories ...
    """
    if col not in df.columns:
        raise ValueError(f"{role} column {col!r} is not in the data")
    ser = df[col]
    if not (pd.api.types.is_numeric_dtype(ser) or pd.api.types.is_bool_dtype(ser)):
        raise ValueError(
            f"{role} column {col!r} must be numeric (dtype {ser.dtype}); "
            "encode categories as 0/1 indicator columns"
        )
    arr = ser.to_numpy(dtype=float)
    n_missing = int(np.isnan(arr).sum())
    if n_missing:
        raise ValueError(f"{role} column {col!r} has {n_missing} missing value(s)")
    if np.isinf(arr).any():
        raise ValueError(f"{role} column {col!r} has infinite value(s)")
    return arr


def refuse_few_events(
    model: str, events: str, n_events: int, n_par: int, min_events_per_parameter: float
) -> None:
    """CohortflowError ("<model> refused: ...") when there are no ``events`` or fewer than
    ``min_events_per_parameter`` per parameter, with the counts.

    >>> refuse_few_events("Cox model", "events", 8, 2, 5)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    cohortflow.core.errors.CohortflowError: Cox model refused: 8 events for 2 parameters; ...
    """
    if n_events == 0:
        raise CohortflowError(f"{model} refused: there are no {events}")
    needed = min_events_per_parameter * n_par
    if n_events < needed:
        raise CohortflowError(
            f"{model} refused: {n_events} {events} for {n_par} "
            f"parameter{'s' if n_par != 1 else ''}; need at least {needed:g} "
            f"({min_events_per_parameter:g} per parameter)"
        )
