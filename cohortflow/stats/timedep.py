"""Survival comparisons for an exposure that starts after the time origin (e.g. HSCT).

Comparing "exposed vs never exposed" with Kaplan-Meier curves from the time origin
credits the exposed with the time they had to survive to be exposed (immortal-time
bias). Two remedies are provided:

* :func:`landmark` / :func:`landmark_compare`: landmark analysis;
* :func:`simon_makuch`: Simon-Makuch curves (product-limit over time-dependent risk
  sets), identical to R ``survfit(Surv(start, stop, event) ~ exposed)`` on the
  counting-process data.

Conventions
-----------
* ``exposure_time`` is the time from the origin to exposure, NaN (or None) if the
  subject was never exposed. Negative values are rejected.
* Landmark at ``L``: a subject is included only if ``time > L`` strictly (a subject
  who had the event or was censored at exactly ``L`` is excluded); exposed means
  ``exposure_time <= L`` (exposure at exactly ``L`` counts as exposed); subjects
  exposed after ``L`` stay in the unexposed group for the whole analysis (the
  landmark groups are fixed at ``L``); times are re-based to ``time - L``.
* Simon-Makuch: a subject is in the unexposed risk set on ``(0, e]`` and in the
  exposed risk set on ``(e, time]``, where ``e`` is the exposure time. A subject leaving
  the unexposed curve at ``e`` is counted there as a censoring at ``e`` (as R) and in
  ``n_switch``. Exposure at or after ``time`` (including an event on the day of
  exposure) is ignored: the subject is unexposed throughout. Exposure at time 0 puts
  the subject in the exposed curve from the origin. Subjects in a curve from the origin
  are at risk at time 0 (as :func:`cohortflow.stats.survival.kaplan_meier`; R cannot
  represent a zero-length ``(0, 0]`` interval). With delayed ``entry`` a subject's first
  interval starts at its entry instead of 0 (at risk on ``(entry, ...]``, as R with
  ``Surv(start, stop, event)``); exposure at or before entry puts it in the exposed curve
  from entry.
* Standard errors are Greenwood's, intervals as :mod:`cohortflow.stats.survival`
  (``log-log`` by default, ``log``, ``plain``); where the curve is 0 the SE is 0 and the
  interval NaN.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cohortflow.stats._inputs import as_float_array, entry_times, time_event
from cohortflow.stats.survival import (
    CI_METHODS,
    KMResult,
    LogRankResult,
    confidence_limits,
    interval_options,
    kaplan_meier,
    logrank_test,
    query_times,
)

__all__ = [
    "EXPOSED",
    "SIMON_MAKUCH_TABLE_COLUMNS",
    "UNEXPOSED",
    "LandmarkComparison",
    "LandmarkData",
    "SimonMakuchCurve",
    "curve_at",
    "counting_process",
    "landmark",
    "landmark_compare",
    "simon_makuch",
]

EXPOSED = "exposed"
UNEXPOSED = "unexposed"

ArrayLike = Sequence[Any] | np.ndarray | pd.Series

#: Columns of ``SimonMakuchCurve.table``.
SIMON_MAKUCH_TABLE_COLUMNS = [
    "time",
    "n_risk",
    "n_event",
    "n_censor",
    "n_switch",
    "survival",
    "se",
    "lower",
    "upper",
]


# --------------------------------------------------------------------------- inputs


def _validate(
    time: ArrayLike, event: ArrayLike, exposure_time: ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = as_float_array(exposure_time, "exposure_time", allow_nan=True, nonnegative=True)
    t, e = time_event(time, event)
    if t.shape != x.shape:
        raise ValueError(
            "time, event and exposure_time must have equal lengths, got "
            f"{t.shape[0]}, {e.shape[0]} and {x.shape[0]}"
        )
    return t, e, x


# --------------------------------------------------------------------------- landmark


@dataclass(frozen=True)
class LandmarkData:
    """Subjects still at risk after a landmark, grouped by exposure status at it.

    ``table`` has one row per included subject: ``index`` (position in the input),
    ``time`` (re-based: original time minus ``landmark``), ``event``, ``group``
    (``"exposed"`` or ``"unexposed"``) and the original ``exposure_time``.
    ``n_excluded`` subjects had ``time <= landmark``; ``n_exposed_later`` of the
    unexposed group were exposed after the landmark.
    """

    landmark: float
    table: pd.DataFrame
    n_input: int
    n_excluded: int
    n_exposed_later: int


@dataclass(frozen=True)
class LandmarkComparison:
    """Per-group Kaplan-Meier estimates after a landmark and their log-rank test.

    ``km`` maps ``"exposed"`` / ``"unexposed"`` to the :class:`KMResult` of each
    non-empty group (times re-based to the landmark). ``logrank`` is None unless both
    groups are non-empty.
    """

    landmark: float
    km: dict[str, KMResult]
    logrank: LogRankResult | None
    n: dict[str, int]


def landmark(
    time: ArrayLike, event: ArrayLike, exposure_time: ArrayLike, landmark: float
) -> LandmarkData:
    """Landmark data set at ``landmark`` (same time unit as ``time``).

    Keeps subjects with ``time > landmark``; exposed = ``exposure_time <= landmark``;
    times re-based to the landmark. ``exposure_time`` NaN/None means never exposed.
    Raises ``ValueError`` on invalid input or a negative or non-finite landmark.

    Parameters
    ----------
    time : follow-up times (>= 0).
    event : 1 for an event, 0 for censoring.
    exposure_time : time of exposure (NaN/None: never exposed).
    landmark : the landmark time.

    Returns
    -------
    LandmarkData
        ``table`` (``index`` of the subject in the input, re-based ``time``, ``event``,
        ``group``, ``exposure_time``), ``n_input``, ``n_excluded`` (event or censoring at or
        before the landmark) and ``n_exposed_later`` (analysed as unexposed).

    R equivalent: ``subset(d, time > L)`` with ``exposed <- exposure_time <= L`` and
    ``Surv(time - L, event)`` (checked against R's ``survfit``/``survdiff`` on the Stanford
    heart data in ``tests/test_timedep.py``).

    Example
    -------
    >>> d = landmark(time=[5, 10, 10, 12, 15, 20, 30], event=[1, 1, 0, 1, 0, 1, 0],
    ...              exposure_time=[None, 2, None, 10, 11, None, 9], landmark=10)
    >>> d.n_input, d.n_excluded, d.n_exposed_later
    (7, 3, 1)
    >>> d.table[["index", "time", "group"]]
       index  time      group
    0      3   2.0    exposed
    1      4   5.0  unexposed
    2      5  10.0  unexposed
    3      6  20.0    exposed
    """
    lm = float(landmark)
    if not np.isfinite(lm) or lm < 0:
        raise ValueError(f"landmark must be a finite time >= 0, got {landmark!r}")
    t, e, x = _validate(time, event, exposure_time)
    keep = t > lm
    exposed = ~np.isnan(x) & (x <= lm)
    later = ~np.isnan(x) & (x > lm)
    idx = np.flatnonzero(keep)
    table = pd.DataFrame(
        {
            "index": idx,
            "time": t[idx] - lm,
            "event": e[idx],
            "group": np.where(exposed[idx], EXPOSED, UNEXPOSED),
            "exposure_time": x[idx],
        }
    )
    return LandmarkData(
        landmark=lm,
        table=table,
        n_input=int(t.size),
        n_excluded=int((~keep).sum()),
        n_exposed_later=int((keep & later).sum()),
    )


def landmark_compare(
    data: LandmarkData, ci_method: str = "log-log", alpha: float = 0.05
) -> LandmarkComparison:
    """Kaplan-Meier per landmark group and the log-rank test between them.

    Uses :func:`cohortflow.stats.survival.kaplan_meier` and
    :func:`cohortflow.stats.survival.logrank_test` on the re-based times. Raises
    ``ValueError`` if no subject is left after the landmark.

    Parameters
    ----------
    data : the landmark data set (see :func:`landmark`).
    ci_method : confidence interval transform of the Kaplan-Meier curves.
    alpha : 1 - confidence level.

    Returns
    -------
    LandmarkComparison
        ``km`` and ``n`` per group present, and ``logrank`` (None with one group).

    R equivalent: ``survfit(Surv(time - L, event) ~ exposed)`` and ``survdiff`` on the
    landmark subset.

    Example
    -------
    >>> d = landmark(time=[5, 10, 10, 12, 15, 20, 30], event=[1, 1, 0, 1, 0, 1, 0],
    ...              exposure_time=[None, 2, None, 10, 11, None, 9], landmark=10)
    >>> cmp = landmark_compare(d)
    >>> cmp.n, cmp.km["exposed"].table["survival"].tolist()
    ({'exposed': 2, 'unexposed': 2}, [1.0, 0.5, 0.5])
    >>> cmp.logrank.df, cmp.logrank.p
    (1, 1.0)
    """
    tab = data.table
    if tab.empty:
        raise ValueError(f"no subject is still at risk after the landmark {data.landmark}")
    km: dict[str, KMResult] = {}
    n: dict[str, int] = {}
    for label in (EXPOSED, UNEXPOSED):
        sub = tab[tab["group"] == label]
        n[label] = int(len(sub))
        if len(sub):
            km[label] = kaplan_meier(sub["time"], sub["event"], ci_method=ci_method, alpha=alpha)
    lr = logrank_test(tab["time"], tab["event"], tab["group"]) if len(km) == 2 else None
    return LandmarkComparison(landmark=data.landmark, km=km, logrank=lr, n=n)


# --------------------------------------------------------------------------- Simon-Makuch


@dataclass(frozen=True)
class SimonMakuchCurve:
    """One Simon-Makuch curve (Kaplan-Meier-like, over time-dependent risk sets).

    ``table`` has a row for time 0 and one per distinct time at which an interval of
    this curve ends: ``time``, ``n_risk`` (subjects in this curve's risk set at t),
    ``n_event``, ``n_censor`` (intervals ending at t without an event, switches
    included), ``n_switch`` (subjects leaving the unexposed curve at t because they
    were exposed), ``survival``, ``se`` (Greenwood), ``lower``, ``upper``.
    ``intervals`` holds the counting-process rows of this curve (``index``, ``start``,
    ``stop``, ``event``, ``switch``). ``n`` is the number of subjects contributing.
    """

    label: str
    table: pd.DataFrame
    intervals: pd.DataFrame
    ci_method: str
    alpha: float
    n: int
    events: int


def counting_process(
    time: ArrayLike,
    event: ArrayLike,
    exposure_time: ArrayLike,
    *,
    entry: ArrayLike | None = None,
) -> pd.DataFrame:
    """Counting-process (start, stop] rows, one or two per subject.

    A subject's first row starts at 0, or at its ``entry`` (delayed entry, each strictly
    before its ``time``); exposure at or before that start makes its only row exposed.

    Columns: ``index`` (position in the input), ``start``, ``stop``, ``event``,
    ``exposed`` (0/1), ``switch`` (1 on an unexposed row that ends at exposure). This
    is the data R's ``survfit(Surv(start, stop, event) ~ exposed)`` is given.

    R equivalent: ``survival::tmerge(d, d, id = id, event = event(time, status),
    exposed = tdc(exposure_time))`` (the same rows, without ``switch``).

    Example
    -------
    Never exposed; exposed at 3 (split there); exposed at the origin:

    >>> counting_process([2, 5, 8], [1, 1, 0], [None, 3, 0])
       index  start  stop  event  exposed  switch
    0      0    0.0   2.0      1        0       0
    1      1    0.0   3.0      0        0       1
    2      1    3.0   5.0      1        1       0
    3      2    0.0   8.0      0        1       0
    """
    t, e, x = _validate(time, event, exposure_time)
    s = np.zeros(t.size) if entry is None else entry_times(entry, t)
    idx = np.arange(t.size)
    never = np.isnan(x) | (x >= t)
    at_start = ~never & (x <= s)  # exposed at the origin, or before/at a delayed entry
    split = ~never & ~at_start
    parts = [
        pd.DataFrame(
            {"index": idx[never], "start": s[never], "stop": t[never], "event": e[never]}
        ).assign(exposed=0, switch=0),
        pd.DataFrame(
            {
                "index": idx[at_start],
                "start": s[at_start],
                "stop": t[at_start],
                "event": e[at_start],
            }
        ).assign(exposed=1, switch=0),
        pd.DataFrame({"index": idx[split], "start": s[split], "stop": x[split], "event": 0}).assign(
            exposed=0, switch=1
        ),
        pd.DataFrame(
            {"index": idx[split], "start": x[split], "stop": t[split], "event": e[split]}
        ).assign(exposed=1, switch=0),
    ]
    out = pd.concat(parts, ignore_index=True)
    out = out.sort_values(["index", "start"], kind="stable").reset_index(drop=True)
    types = {"start": float, "stop": float, "event": np.int64, "exposed": np.int64}
    return out.astype({"index": np.int64, "switch": np.int64, **types})


def _risk_counts(start: np.ndarray, stop: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Number of intervals at risk at each time: ``start < t <= stop``, closed at 0."""
    eff_start = np.sort(np.where(start == 0.0, -1.0, start))
    stops = np.sort(stop)
    entered = np.searchsorted(eff_start, at, side="left")  # eff_start < t
    left = np.searchsorted(stops, at, side="left")  # stop < t
    return (entered - left).astype(np.int64)


def _curve(
    label: str, rows: pd.DataFrame, ci_method: str, alpha: float, z: float
) -> SimonMakuchCurve:
    start = rows["start"].to_numpy(dtype=float)
    stop = rows["stop"].to_numpy(dtype=float)
    ev = rows["event"].to_numpy(dtype=np.int64)
    sw = rows["switch"].to_numpy(dtype=np.int64)
    times = np.unique(np.concatenate(([0.0], stop)))
    pos = np.searchsorted(times, stop)
    n_event = np.bincount(pos, weights=ev, minlength=times.size)
    n_end = np.bincount(pos, minlength=times.size).astype(float)
    n_switch = np.bincount(pos, weights=sw, minlength=times.size)
    n_risk = _risk_counts(start, stop, times).astype(float)
    d, n = n_event, n_risk
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(np.where(d > 0, 1.0 - d / n, 1.0))
        gw = np.cumsum(np.where(d > 0, d / (n * (n - d)), 0.0))  # inf where d == n
        se = surv * np.sqrt(gw)
    se[surv == 0.0] = np.nan  # S = 0: SE undefined (R: NA)
    lower, upper = confidence_limits(surv, gw, z, ci_method)
    table = pd.DataFrame(
        {
            "time": times,
            "n_risk": n_risk.astype(np.int64),
            "n_event": n_event.astype(np.int64),
            "n_censor": (n_end - n_event).astype(np.int64),
            "n_switch": n_switch.astype(np.int64),
            "survival": surv,
            "se": se,
            "lower": lower,
            "upper": upper,
        },
        columns=SIMON_MAKUCH_TABLE_COLUMNS,
    )
    return SimonMakuchCurve(
        label=label,
        table=table,
        intervals=rows[["index", "start", "stop", "event", "switch"]].reset_index(drop=True),
        ci_method=ci_method,
        alpha=float(alpha),
        n=int(rows["index"].nunique()),
        events=int(ev.sum()),
    )


def simon_makuch(
    time: ArrayLike,
    event: ArrayLike,
    exposure_time: ArrayLike,
    *,
    entry: ArrayLike | None = None,
    ci_method: str = "log-log",
    alpha: float = 0.05,
) -> dict[str, SimonMakuchCurve]:
    """Simon-Makuch survival curves for unexposed and exposed subjects.

    Returns ``{"unexposed": curve, "exposed": curve}`` (a curve is left out if no
    subject ever contributes to it). ``exposure_time`` NaN/None means never exposed.
    Raises ``ValueError`` on invalid input, an unknown ``ci_method`` or ``alpha``
    outside (0, 1).

    Parameters
    ----------
    time : follow-up times (>= 0).
    event : 1 for an event, 0 for censoring.
    exposure_time : time of exposure (NaN/None: never exposed); a subject moves from the
        unexposed to the exposed risk set at it.
    entry : optional delayed-entry times (each strictly before its ``time``); keyword only,
        as the options below.
    ci_method : ``"log-log"`` (default), ``"log"`` or ``"plain"``.
    alpha : 1 - confidence level.

    Returns
    -------
    dict of SimonMakuchCurve
        Each with ``table`` (time, at risk, events, censored, switched, survival, SE,
        limits), its ``intervals``, ``n`` and ``events``.

    R equivalent: ``survfit(Surv(start, stop, event) ~ exposed)`` on the counting-process
    data (``counting_process``; with ``entry``, the rows R's ``tmerge(..., tstart = entry)``
    builds).

    Example
    -------
    R gives the exposed curve 0.3333 (95 % CI 0.0090-0.7741, log-log) at time 8:

    >>> c = simon_makuch([2, 3, 4, 5, 6, 7, 8, 9], [1, 0, 1, 1, 0, 1, 1, 0],
    ...                  [None, 1, None, 3, 4, None, 3, 5])
    >>> curve_at(c["exposed"], [8])[["time", "n_risk", "survival", "lower", "upper"]].round(4)
       time  n_risk  survival  lower   upper
    0   8.0       2    0.3333  0.009  0.7741
    """
    z = interval_options(ci_method, CI_METHODS, alpha)
    cp = counting_process(time, event, exposure_time, entry=entry)
    out: dict[str, SimonMakuchCurve] = {}
    for label, flag in ((UNEXPOSED, 0), (EXPOSED, 1)):
        rows = cp[cp["exposed"] == flag]
        if len(rows):
            out[label] = _curve(label, rows, ci_method, alpha, z)
    return out


def curve_at(curve: SimonMakuchCurve, times: Sequence[float] | np.ndarray) -> pd.DataFrame:
    """A Simon-Makuch curve evaluated at the given times.

    Columns: ``time``, ``n_risk`` (subjects in the curve's risk set at t, i.e. under
    observation in this exposure state), ``events`` (cumulative, up to and including
    t), ``survival``, ``se``, ``lower``, ``upper`` (right-continuous). Beyond the last
    time of the curve the estimate columns are NaN unless the curve has reached 0.

    R equivalent: ``summary(survfit(Surv(start, stop, event) ~ exposed, conf.type =
    "log-log"), times = times)`` on the ``counting_process`` data (R prints NA limits where
    the curve is 1, and between event times the number at risk of the next event time).

    Example
    -------
    The unexposed curve of the ``simon_makuch`` example: R gives 0.6429 (0.1515-0.9017) at
    times 4 and 6, with 4 and 1 at risk; the curve reaches 0 at 7, so it is 0 at 8:

    >>> c = simon_makuch([2, 3, 4, 5, 6, 7, 8, 9], [1, 0, 1, 1, 0, 1, 1, 0],
    ...                  [None, 1, None, 3, 4, None, 3, 5])
    >>> at = curve_at(c["unexposed"], [4, 6, 8])
    >>> at[["time", "n_risk", "survival", "lower", "upper"]].round(4)
       time  n_risk  survival   lower   upper
    0   4.0       4    0.6429  0.1515  0.9017
    1   6.0       1    0.6429  0.1515  0.9017
    2   8.0       0    0.0000     NaN     NaN
    """
    tq = query_times(times)
    tab = curve.table
    t = tab["time"].to_numpy(dtype=float)
    idx = np.searchsorted(t, tq, side="right") - 1  # t[0] == 0
    iv = curve.intervals
    out = pd.DataFrame(
        {
            "time": tq,
            "n_risk": _risk_counts(
                iv["start"].to_numpy(dtype=float), iv["stop"].to_numpy(dtype=float), tq
            ),
            "events": np.cumsum(tab["n_event"].to_numpy())[idx].astype(np.int64),
        }
    )
    beyond = (tq > t[-1]) & (tab["survival"].to_numpy()[-1] > 0)
    for col in ("survival", "se", "lower", "upper"):
        vals = tab[col].to_numpy(dtype=float)[idx]
        vals[beyond] = np.nan
        out[col] = vals
    return out
