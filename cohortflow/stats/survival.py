"""Kaplan-Meier estimation, median survival and the log-rank test.

A small, exact and deterministic implementation (numpy/scipy only) whose results
agree with R ``survival`` (``survfit``, ``quantile.survfit``, ``survdiff``) and with
lifelines (``KaplanMeierFitter``, ``logrank_test``).

Conventions
-----------
* Times are used exactly as given: there is no merging of floating-point near-ties
  (R's ``timefix``). Pass times as exact day counts.
* A subject censored at time ``t`` is still at risk at ``t`` (events precede
  censorings at tied times).
* Variance is Greenwood's: ``var(S) = S^2 * sum d / (n (n - d))``.
* Confidence interval transforms (``CI_METHODS``):

  - ``"log-log"`` (SAS and lifelines default):
    ``exp(-exp(log(-log S) +/- z * sqrt(sum d/(n(n-d))) / |log S|))``;
  - ``"log"`` (R ``survfit`` default): ``S * exp(+/- z * sqrt(sum d/(n(n-d))))``, upper
    limit clipped at 1;
  - ``"plain"``: ``S +/- z * se``, clipped to [0, 1].

* Where ``S = 1`` (before the first event) the standard error is 0 and the interval
  is (1, 1) for every transform. R reports NA for the log-log interval there.
* Where ``S = 0`` (all subjects still at risk fail at the same time, ``d == n``,
  which can only happen at the last time) the Greenwood sum is infinite. The
  standard error and both interval limits are undefined and reported as NaN
  (missing), as R reports NA for them: an SE of 0 would read as certainty.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from cohortflow.stats._inputs import (
    as_float_array,
    entry_times,
    event_table,
    group_codes,
    time_event,
    z_quantile,
)

__all__ = [
    "CI_METHODS",
    "KMResult",
    "LogRankResult",
    "kaplan_meier",
    "logrank_test",
    "median_survival",
    "number_at_risk",
    "survival_at",
]

CI_METHODS = ("log-log", "log", "plain")

#: Tolerance used by R ``quantile.survfit`` to decide that a curve is exactly at 0.5.
_QUANTILE_TOL = math.sqrt(np.finfo(float).eps)

_TABLE_COLUMNS = ["time", "n_risk", "n_event", "n_censor", "survival", "se", "lower", "upper"]


@dataclass(frozen=True)
class KMResult:
    """A Kaplan-Meier estimate.

    ``table`` has one row per distinct observed time, plus time 0 (always the first
    row): ``time``, ``n_risk``, ``n_event``, ``n_censor``, ``survival``, ``se``
    (Greenwood, on the survival scale), ``lower`` and ``upper`` (pointwise
    ``1 - alpha`` confidence limits using ``ci_method``).
    """

    table: pd.DataFrame
    ci_method: str
    alpha: float
    n: int
    events: int
    #: delayed entry: the sorted entry and exit times (None without entry)
    entry_exit: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class LogRankResult:
    """An unweighted (Mantel-Haenszel) log-rank test across k >= 2 groups.

    ``observed`` and ``expected`` map each group label (in sorted order) to its
    observed and expected number of events.
    """

    chi2: float
    df: int
    p: float
    observed: dict
    expected: dict


# --------------------------------------------------------------------------- inputs


# --------------------------------------------------------------------------- Kaplan-Meier


def interval_options(ci_method: str, methods: tuple[str, ...], alpha: float) -> float:
    """Checked confidence-interval options of a curve estimator (Kaplan-Meier, Simon-Makuch,
    cumulative incidence): ``ci_method`` one of ``methods`` (``CI_METHODS``, or the
    estimator's own set) and ``alpha`` in (0, 1), else ValueError naming the argument.
    Returns the normal quantile of the limits.

    Example
    -------
    >>> round(interval_options("log-log", CI_METHODS, 0.05), 4)
    1.96
    >>> interval_options("logit", CI_METHODS, 0.05)
    Traceback (most recent call last):
    ...
    ValueError: ci_method must be one of ('log-log', 'log', 'plain'), got 'logit'
    """
    if ci_method not in methods:
        raise ValueError(f"ci_method must be one of {methods}, got {ci_method!r}")
    return z_quantile(alpha)


def query_times(times: Any) -> np.ndarray:
    """The times at which a fitted curve is evaluated (``survival_at``, ``cif_at``,
    ``curve_at``) as floats: numeric, finite, non-negative; ValueError otherwise.

    Example
    -------
    >>> query_times([0, 12, 24.5]).tolist()
    [0.0, 12.0, 24.5]
    >>> query_times([12, -1])
    Traceback (most recent call last):
    ...
    ValueError: times contains 1 negative value(s)
    """
    return as_float_array(list(np.asarray(times, dtype=float)), "times", nonnegative=True)


def confidence_limits(
    surv: np.ndarray, gw: np.ndarray, z: float, ci_method: str
) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise limits from survival and the Greenwood sum ``sum d/(n(n-d))``.

    ``ci_method`` is one of ``CI_METHODS``; ``z`` the normal quantile. Where the survival is
    1 both limits are 1; where it is 0 they are NaN.

    R equivalent: the limits of ``survfit(..., conf.type = ci_method)``.

    Example
    -------
    R's ``aml`` (Maintained) at 9 months: S = 10/11, Greenwood sum 1/(11 * 10), log-log
    limits 0.5081-0.9867:

    >>> import numpy as np
    >>> lower, upper = confidence_limits(np.array([1.0, 10 / 11]), np.array([0.0, 1 / 110]),
    ...                                  1.959964, "log-log")
    >>> lower.round(4).tolist(), upper.round(4).tolist()
    ([1.0, 0.5081], [1.0, 0.9867])
    """
    lower = np.full_like(surv, np.nan)
    upper = np.full_like(surv, np.nan)
    one = surv >= 1.0
    lower[one] = upper[one] = 1.0
    mid = (surv > 0.0) & ~one  # S == 0 keeps NaN limits
    s, g = surv[mid], gw[mid]
    if ci_method == "log-log":
        log_s = np.log(s)
        theta = np.log(-log_s)
        half = z * np.sqrt(g) / np.abs(log_s)
        lower[mid] = np.exp(-np.exp(theta + half))
        upper[mid] = np.exp(-np.exp(theta - half))
    elif ci_method == "log":
        half = z * np.sqrt(g)
        lower[mid] = s * np.exp(-half)
        upper[mid] = np.minimum(s * np.exp(half), 1.0)
    elif ci_method == "plain":
        half = z * s * np.sqrt(g)
        lower[mid] = np.maximum(s - half, 0.0)
        upper[mid] = np.minimum(s + half, 1.0)
    else:  # pragma: no cover - checked by the caller
        raise ValueError(ci_method)
    return lower, upper


def kaplan_meier(
    time: Sequence[float] | np.ndarray | pd.Series,
    event: Sequence[int] | np.ndarray | pd.Series,
    ci_method: str = "log-log",
    alpha: float = 0.05,
    *,
    entry: Sequence[float] | np.ndarray | pd.Series | None = None,
) -> KMResult:
    """Kaplan-Meier survival estimate with Greenwood standard errors and pointwise CIs.

    ``event`` is 1 for an event and 0 for a censored observation. With ``entry`` (delayed
    entry, left truncation) a subject is at risk at ``t`` only when ``entry < t <= time``, as R
    ``survfit(Surv(entry, time, event) ~ 1)``; the time-0 row then counts the subjects entered
    at 0. Raises ``ValueError`` for unequal lengths, empty input, NaN, negative times, event
    codes other than 0/1, an entry not before its exit time, an unknown ``ci_method`` or
    ``alpha`` outside (0, 1).

    Parameters
    ----------
    time : follow-up times (>= 0, any unit), one per subject.
    event : 1 = event, 0 = censored, one per subject.
    ci_method : ``"log-log"`` (default), ``"log"`` or ``"plain"`` pointwise intervals.
    alpha : 1 - confidence level of the intervals.
    entry : optional delayed-entry times (each strictly before its ``time``); keyword only.

    Returns
    -------
    KMResult
        ``table`` with one row per distinct time (and time 0): ``time``, ``n_risk``,
        ``n_event``, ``n_censor``, ``survival``, ``se`` (Greenwood), ``lower``, ``upper``;
        plus ``n`` and ``events``.

    R equivalent: ``survival::survfit(Surv(time, event) ~ 1, conf.type = "log-log")``.

    Example
    -------
    >>> time = [9, 13, 13, 18, 23, 28, 31, 34, 45, 48, 161]  # R survival::aml, Maintained
    >>> event = [1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0]
    >>> km = kaplan_meier(time, event)
    >>> km.table.loc[1:3, ["time", "n_risk", "survival", "se", "lower"]].round(4)
       time  n_risk  survival      se   lower
    1   9.0      11    0.9091  0.0867  0.5081
    2  13.0      10    0.8182  0.1163  0.4474
    3  18.0       8    0.7159  0.1397  0.3502
    """
    z = interval_options(ci_method, CI_METHODS, alpha)
    t, e = time_event(time, event)
    s = None if entry is None else entry_times(entry, t)

    uniq, inverse = np.unique(t, return_inverse=True)
    n_event = np.bincount(inverse, weights=e, minlength=uniq.size).astype(np.int64)
    n_total = np.bincount(inverse, minlength=uniq.size).astype(np.int64)
    n_censor = n_total - n_event
    # at risk at each time: everyone whose time is >= it (and, with entry, entered before it)
    n_risk = np.cumsum(n_total[::-1])[::-1]
    if s is not None:
        s_sorted = np.sort(s)
        n_risk = n_risk - (s.size - np.searchsorted(s_sorted, uniq, side="left"))

    if uniq[0] > 0.0:  # a row for time 0 with nobody having left yet
        uniq = np.concatenate(([0.0], uniq))
        n_event = np.concatenate(([0], n_event))
        n_censor = np.concatenate(([0], n_censor))
        n_risk = np.concatenate(([t.size if s is None else int((s <= 0).sum())], n_risk))

    d = n_event.astype(float)
    n = n_risk.astype(float)
    # no one at risk (delayed entry: before the first entry) is no event, not 0/0
    surv = np.cumprod(1.0 - np.divide(d, n, out=np.zeros_like(d), where=n > 0))
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(d > 0, d / (n * (n - d)), 0.0)  # inf where d == n
    gw = np.cumsum(term)
    with np.errstate(invalid="ignore"):
        se = surv * np.sqrt(gw)
    se[surv == 0.0] = np.nan  # S = 0: SE undefined (R: NA), never 0
    lower, upper = confidence_limits(surv, gw, z, ci_method)

    table = event_table(
        uniq,
        {"n_risk": n_risk, "n_event": n_event, "n_censor": n_censor},
        {"survival": surv, "se": se, "lower": lower, "upper": upper},
        _TABLE_COLUMNS,
    )
    return KMResult(
        table=table,
        ci_method=ci_method,
        alpha=float(alpha),
        n=int(t.size),
        events=int(e.sum()),
        entry_exit=None if s is None else (np.sort(s), np.sort(t)),
    )


def survival_at(km: KMResult, times: Sequence[float]) -> pd.DataFrame:
    """The Kaplan-Meier step function evaluated at the given times.

    Columns: ``time``, ``n_risk`` (subjects with follow-up >= t; with delayed entry only
    those entered before t, ``entry < t <= exit``, or at 0 for t = 0), ``events``
    (cumulative events up to and including t), ``survival``, ``se``, ``lower``,
    ``upper``. Values are right-continuous (an event at t is already counted at t).
    Beyond the last observed time nothing is extrapolated: survival, se and CI are
    NaN and ``n_risk`` is 0, except when the curve has already reached 0, where it stays 0
    (SE and CI undefined, NaN, as at the time it reached 0).

    Parameters
    ----------
    km : a ``kaplan_meier`` result.
    times : times (>= 0, the unit of ``km``) to read the curve at.

    Returns
    -------
    pandas.DataFrame
        One row per requested time, in the order given.

    R equivalent: ``summary(survfit(...), times = times)``.

    Example
    -------
    >>> time = [9, 13, 13, 18, 23, 28, 31, 34, 45, 48, 161]  # R survival::aml, Maintained
    >>> event = [1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0]
    >>> survival_at(kaplan_meier(time, event), [12, 24])[["time", "n_risk", "survival"]].round(4)
       time  n_risk  survival
    0  12.0      10    0.9091
    1  24.0       6    0.6136
    """
    tq = query_times(times)
    tab = km.table
    t = tab["time"].to_numpy()
    leaving = (tab["n_event"] + tab["n_censor"]).to_numpy()
    # number still under observation at or after each table time
    remaining_from = np.cumsum(leaving[::-1])[::-1]
    cum_events = np.cumsum(tab["n_event"].to_numpy())

    idx = np.searchsorted(t, tq, side="right") - 1  # last table time <= tq (t[0] == 0)
    first_ge = np.searchsorted(t, tq, side="left")  # first table time >= tq
    n_risk = np.where(first_ge < t.size, remaining_from[np.minimum(first_ge, t.size - 1)], 0)
    if km.entry_exit is not None:  # delayed entry: entry < t <= exit
        ent, ext = km.entry_exit
        n_risk = (ext.size - np.searchsorted(ext, tq, side="left")) - (
            ent.size - np.searchsorted(ent, tq, side="left")
        )
        n_risk = n_risk + np.where(tq == 0, np.searchsorted(ent, 0.0, side="right"), 0)
    beyond = (tq > t[-1]) & (tab["survival"].to_numpy()[-1] > 0)

    out = pd.DataFrame(
        {
            "time": tq,
            "n_risk": n_risk.astype(np.int64),
            "events": cum_events[idx].astype(np.int64),
        }
    )
    for col in ("survival", "se", "lower", "upper"):
        vals = tab[col].to_numpy()[idx].astype(float)
        vals[beyond] = np.nan
        out[col] = vals
    return out


# --------------------------------------------------------------------------- median


def _findq(x: np.ndarray, y: np.ndarray, p: float, tol: float) -> float:
    """Where the non-decreasing step curve ``y`` (a cumulative probability) reaches ``p``.

    A transcription of R ``survival:::findq`` (survival 3.5): a curve that sits
    exactly at ``p`` over a stretch gives the midpoint of that stretch; NaN points are
    ignored; NaN if ``p`` is not reached.
    """
    if np.all(np.isnan(y)) or np.nanmax(y) < p:
        return math.nan
    xmax = x[-1]
    # drop duplicated y values (R duplicated(): NaN counts as a value)
    keep = np.ones(y.size, dtype=bool)
    seen_nan = False
    seen: set[float] = set()
    for i, v in enumerate(y):
        if np.isnan(v):
            keep[i] = not seen_nan
            seen_nan = True
        else:
            keep[i] = v not in seen
            seen.add(float(v))
    x, y = x[keep], y[keep]
    ok = ~np.isnan(y)

    def first_reaching(threshold: float) -> int | None:
        # R approx(y, 1:n, p, "constant", f = 1): index of the smallest y >= threshold
        cand = np.flatnonzero(ok & (y >= threshold))
        if cand.size == 0:
            return None
        return int(cand[np.argmin(y[cand])])

    i1 = first_reaching(p - tol)
    i2 = first_reaching(p + tol)
    quant = math.nan if i1 is None or i2 is None else (x[i1] + x[i2]) / 2.0
    if not np.isnan(y[-1]) and abs(p - y[-1]) < tol and i1 is not None:
        quant = (x[i1] + xmax) / 2.0
    return float(quant)


def median_survival(km: KMResult) -> tuple[float, float, float]:
    """Median survival time and its confidence limits ``(median, lower, upper)``.

    As R ``survfit``: the median is the first time the curve drops to 0.5 or below
    (the midpoint of a flat stretch at exactly 0.5); the lower/upper limits are where
    the lower/upper confidence band drops to 0.5. NaN where not reached. The limits
    use the transform and ``alpha`` of ``km``.

    Parameters
    ----------
    km : a ``kaplan_meier`` result.

    Returns
    -------
    tuple of float
        ``(median, lower, upper)``, NaN where the curve or band never reaches 0.5.

    R equivalent: the ``median``, ``0.95LCL`` and ``0.95UCL`` of ``print(survfit(...))``.

    Example
    -------
    >>> time = [9, 13, 13, 18, 23, 28, 31, 34, 45, 48, 161]  # R survival::aml, Maintained
    >>> event = [1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0]
    >>> median_survival(kaplan_meier(time, event))
    (31.0, 13.0, nan)
    """
    tab = km.table
    x = np.concatenate(([0.0], tab["time"].to_numpy(dtype=float)))

    def q(curve: str) -> float:
        y = np.concatenate(([0.0], 1.0 - tab[curve].to_numpy(dtype=float)))
        return _findq(x, y, 0.5, _QUANTILE_TOL)

    return q("survival"), q("lower"), q("upper")


# --------------------------------------------------------------------------- log-rank


def logrank_test(
    time: Sequence[float] | np.ndarray | pd.Series,
    event: Sequence[int] | np.ndarray | pd.Series,
    group: Sequence[Any] | np.ndarray | pd.Series,
) -> LogRankResult:
    """Unweighted log-rank test of equal survival across k >= 2 groups.

    ``chi2 = (O - E)' V^- (O - E)`` on ``df = k - 1`` degrees of freedom, as R
    ``survdiff(rho = 0)``. Groups whose expected count is 0 (no follow-up at any event
    time) are left out of the statistic and of ``df``, as in R. With no events at all
    chi2 and p are NaN and df is 0. Raises ``ValueError`` on invalid input or fewer
    than two groups.

    Parameters
    ----------
    time : follow-up times (>= 0), one per subject.
    event : 1 = event, 0 = censored.
    group : group label of each subject (any mutually sortable labels).

    Returns
    -------
    LogRankResult
        ``chi2``, ``df``, ``p`` and ``observed`` / ``expected`` events per group.

    R equivalent: ``survival::survdiff(Surv(time, event) ~ group)``.

    Example
    -------
    R's ``aml`` data: ``survdiff`` prints Chisq = 3.4 on 1 df, p = 0.07.

    >>> time = [9, 13, 13, 18, 23, 28, 31, 34, 45, 48, 161, 5, 5, 8, 8, 12, 16, 23, 27, 30,
    ...         33, 43, 45]
    >>> event = [1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1]
    >>> group = ["Maintained"] * 11 + ["Nonmaintained"] * 12
    >>> r = logrank_test(time, event, group)
    >>> round(r.chi2, 4), r.df, round(r.p, 4), r.observed
    (3.3964, 1, 0.0653, {'Maintained': 7.0, 'Nonmaintained': 11.0})
    """
    t, e = time_event(time, event)
    labels, code = group_codes(group, t.size, "group")
    if len(labels) < 2:
        raise ValueError(f"log-rank test needs at least 2 groups, got {len(labels)}")
    return logrank_result(labels, *logrank_parts(t, e, code, len(labels)))


def logrank_parts(
    t: np.ndarray, e: np.ndarray, code: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The log-rank kernel: observed and expected events of k groups (codes 0..k-1) and their
    hypergeometric covariance, summed over the distinct event times of one stratum.

    R equivalent: ``survdiff(Surv(t, e) ~ group)``'s ``obs``, ``exp`` and ``var``.

    Example
    -------
    R gives obs 1 and 2, exp 0.8333 and 2.1667, var 0.4722 (-0.4722 off the diagonal):

    >>> import numpy as np
    >>> o, x, v = logrank_parts(np.array([1.0, 2, 3, 4]), np.array([1, 1, 0, 1]),
    ...                         np.array([0, 1, 0, 1]), 2)
    >>> o.tolist(), x.round(4).tolist(), v.round(4).tolist()
    ([1.0, 2.0], [0.8333, 2.1667], [[0.4722, -0.4722], [-0.4722, 0.4722]])
    """
    event_times = np.unique(t[e == 1])
    # at risk per group (rows: event times, cols: groups) and events per group
    at_risk = np.empty((event_times.size, k))
    deaths = np.empty((event_times.size, k))
    for j in range(k):
        tj, ej = t[code == j], e[code == j]
        tj_sorted = np.sort(tj)
        at_risk[:, j] = tj.size - np.searchsorted(tj_sorted, event_times, side="left")
        ev_sorted = np.sort(tj[ej == 1])
        deaths[:, j] = np.searchsorted(ev_sorted, event_times, side="right") - np.searchsorted(
            ev_sorted, event_times, side="left"
        )
    n = at_risk.sum(axis=1)
    d = deaths.sum(axis=1)
    observed = deaths.sum(axis=0)
    expected = (at_risk * (d / n)[:, None]).sum(axis=0)

    # hypergeometric covariance, summed over event times with n > 1
    var = np.zeros((k, k))
    multi = n > 1
    if multi.any():
        frac = at_risk[multi] / n[multi, None]
        w = d[multi] * (n[multi] - d[multi]) / (n[multi] - 1.0)
        var = np.einsum("t,ti,ij->ij", w, frac, np.eye(k)) - np.einsum("t,ti,tj->ij", w, frac, frac)
    return observed, expected, var


def logrank_result(
    labels: list[Any], observed: np.ndarray, expected: np.ndarray, var: np.ndarray
) -> LogRankResult:
    """``chi2 = (O - E)' V^- (O - E)`` over the groups with expected > 0 (as R ``survdiff``);
    NaN chi2 and p with df 0 when fewer than two such groups remain.

    R equivalent: ``survdiff``'s ``chisq`` (R: 0.0588 for the ``logrank_parts`` example).

    Example
    -------
    >>> import numpy as np
    >>> o, x, v = logrank_parts(np.array([1.0, 2, 3, 4]), np.array([1, 1, 0, 1]),
    ...                         np.array([0, 1, 0, 1]), 2)
    >>> r = logrank_result(["a", "b"], o, x, v)
    >>> round(r.chi2, 4), r.df, round(r.p, 4)
    (0.0588, 1, 0.8084)
    """
    use = np.flatnonzero(expected > 0)
    if use.size < 2:
        chi2, df, p = math.nan, 0, math.nan
    else:
        diff = (observed - expected)[use][1:]
        v = var[np.ix_(use, use)][1:, 1:]
        df = int(np.linalg.matrix_rank(v))
        chi2 = float(diff @ np.linalg.pinv(v) @ diff) if df > 0 else math.nan
        p = float(stats.chi2.sf(chi2, df)) if df > 0 else math.nan
    return LogRankResult(
        chi2=float(chi2),
        df=df,
        p=p,
        observed={lab: float(o) for lab, o in zip(labels, observed, strict=True)},
        expected={lab: float(x) for lab, x in zip(labels, expected, strict=True)},
    )


# --------------------------------------------------------------------------- at risk


def number_at_risk(
    time: Sequence[float] | np.ndarray | pd.Series,
    at_times: Sequence[float] | np.ndarray,
    entry: Sequence[float] | np.ndarray | pd.Series | None = None,
) -> list[int]:
    """Number of subjects still under observation (time >= t) at each of ``at_times``; with
    delayed ``entry``, only those already entered (entry <= t).

    R equivalent: ``summary(survfit(Surv(time, event) ~ 1), times = at_times)$n.risk``
    (before the last time).

    Example
    -------
    R's ``aml`` (Maintained): 11, 10 and 7 at risk at 0, 13 and 20 months:

    >>> number_at_risk([9, 13, 13, 18, 23, 28, 31, 34, 45, 48, 161], [0, 13, 20])
    [11, 10, 7]

    Followed from 0, 0, 5 and 15 to 30, 12, 25 and 40: at 10 the fourth subject has not
    entered yet, at 20 the second has left:

    >>> number_at_risk([30, 12, 25, 40], [10, 20], entry=[0, 0, 5, 15])
    [3, 3]
    """
    t = as_float_array(time, "time")
    at = as_float_array(list(np.asarray(at_times, dtype=float)), "at_times")
    followed = t.size - np.searchsorted(np.sort(t), at, side="left")
    if entry is None:
        return [int(v) for v in followed]
    e = as_float_array(entry, "entry")
    if e.size != t.size:
        raise ValueError(f"entry has {e.size} values, time {t.size}")
    if (e <= t).all():  # a subject not yet entered at t (entry > t) is still followed at t
        later = e.size - np.searchsorted(np.sort(e), at, side="right")
        return [int(v) for v in followed - later]
    return [int(((e <= x) & (t >= x)).sum()) for x in at]  # per time point, not per subject
