"""Competing risks: cumulative incidence (Aalen-Johansen) and Gray's K-sample test.

Exact and deterministic (numpy/scipy only); results agree with R ``cmprsk::cuminc``
(estimates, variances and ``$Tests``) to floating-point precision. lifelines'
``AalenJohansenFitter`` is not used: it breaks tied times by random jitter, so its
answer depends on the random seed whenever an event is tied with a censoring.

Conventions
-----------
* ``event_type`` is 0 for a censored observation and a positive integer cause code
  (1, 2, ...) for a failure. Any cause other than ``cause`` is a competing event.
* Times are used exactly as given (no merging of near-ties). At a tied time all
  failures (of every cause) happen together, before the censorings at that time: a
  subject censored at ``t`` is still at risk at ``t``. This is ``cuminc``'s handling.
* ``cif(t) = sum_{s <= t} S(s-) d1(s) / n(s)`` with ``S`` the all-cause Kaplan-Meier.
* ``variance`` is the one ``cuminc`` reports (Gray's delta-method/Aalen-type
  estimator, with the ``1 - (d - 1)/(n - 1)`` correction for tied failures). It is
  constant between failure times of the cause of interest.
* Confidence limits (``ci_method="log-log"``, the default; as ``tidycmprsk`` and
  Pintilie 2006): ``cif ** exp(+/- z * se / (cif * log(cif)))`` (the ``-`` sign gives the
  lower limit, ``se = sqrt(variance)``). Where ``cif == 0`` the interval is (0, 0); where
  ``cif == 1`` it is undefined (NaN). ``ci_method="plain"``: ``cif +/- z * se`` clipped to
  [0, 1]. ``cuminc`` itself reports no interval.
* Beyond the largest observed time nothing is extrapolated (``cif_at`` gives NaN), as
  ``cmprsk::timepoints``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from cohortflow.stats._inputs import cause_code, entry_times, event_table, group_codes, time_event
from cohortflow.stats.survival import interval_options, query_times

__all__ = [
    "CIF_CI_METHODS",
    "CIFResult",
    "GrayResult",
    "cif_at",
    "cumulative_incidence",
    "gray_test",
]

CIF_CI_METHODS = ("log-log", "plain")

_TABLE_COLUMNS = [
    "time",
    "n_risk",
    "n_event",
    "n_competing",
    "n_censor",
    "cif",
    "variance",
    "se",
    "lower",
    "upper",
]

ArrayLike = Sequence[Any] | np.ndarray | pd.Series


@dataclass(frozen=True)
class CIFResult:
    """A cumulative incidence estimate for one cause.

    ``table`` has one row per distinct observed time, plus time 0 (always the first
    row): ``time``, ``n_risk`` (subjects with time >= t), ``n_event`` (failures from
    ``cause`` at t), ``n_competing`` (failures from other causes at t), ``n_censor``,
    ``cif``, ``variance`` (as ``cmprsk::cuminc``), ``se`` (its square root), ``lower`` and
    ``upper`` (pointwise ``1 - alpha`` limits using ``ci_method``).
    """

    table: pd.DataFrame
    cause: int
    ci_method: str
    alpha: float
    n: int
    events: int
    competing: int


@dataclass(frozen=True)
class GrayResult:
    """Gray's K-sample test of equal cumulative incidence of one cause.

    ``statistic`` is chi-square on ``df = k - 1`` degrees of freedom. ``score`` holds
    the scores of the first ``k - 1`` groups (in ``groups`` order) and ``variance``
    their covariance matrix. Where that matrix is singular the statistic and p are NaN
    (``cuminc`` reports statistic -1 and p 1).
    """

    statistic: float
    df: int
    p: float
    cause: int
    rho: float
    groups: tuple
    score: np.ndarray = field(repr=False)
    variance: np.ndarray = field(repr=False)


# --------------------------------------------------------------------------- inputs


def _validate(time: ArrayLike, event_type: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    return time_event(time, event_type, event_name="event_type", causes=True)


# --------------------------------------------------------------------------- CIF


def _tie_factor(d: np.ndarray, n: np.ndarray) -> np.ndarray:
    """``1 - (d - 1)/(n - 1)`` for ``d > 1`` tied failures among ``n`` at risk, else 1."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(d > 1, 1.0 - (d - 1.0) / (n - 1.0), 1.0)


def _cif_limits(
    cif: np.ndarray, se: np.ndarray, z: float, ci_method: str
) -> tuple[np.ndarray, np.ndarray]:
    lower = np.full_like(cif, np.nan)
    upper = np.full_like(cif, np.nan)
    zero = cif <= 0.0
    lower[zero] = upper[zero] = 0.0
    mid = ~zero & (cif < 1.0)
    f, s = cif[mid], se[mid]
    if ci_method == "log-log":
        a = z * s / (f * np.log(f))  # <= 0
        lower[mid] = f ** np.exp(-a)
        upper[mid] = f ** np.exp(a)
    elif ci_method == "plain":
        lower[mid] = np.maximum(f - z * s, 0.0)
        upper[mid] = np.minimum(f + z * s, 1.0)
    else:  # pragma: no cover - checked by the caller
        raise ValueError(ci_method)
    return lower, upper


def _aj_variance(
    d1: np.ndarray, d2: np.ndarray, n_risk: np.ndarray, s_now: np.ndarray, cif: np.ndarray
) -> np.ndarray:
    """``cuminc``'s variance of the cumulative incidence at each distinct time: the sum over
    failure times s <= t of w(s) * (a(s) - cif(t) * b(s))^2, accumulated as
    v1 - 2 cif v2 + cif^2 v3 (the cause and competing terms); ``d1``/``d2`` events of the cause
    and of the competing causes, ``s_now`` the all-cause Kaplan-Meier at each time."""
    s_prev = np.concatenate(([1.0], s_now[:-1]))
    pos = s_now > 0.0
    inv_s = np.divide(1.0, s_now, out=np.zeros_like(s_now), where=pos)
    w1 = np.where(d1 > 0, s_prev**2 * _tie_factor(d1, n_risk) * d1 / n_risk**2, 0.0)
    a1 = 1.0 + inv_s * cif
    use2 = (d2 > 0) & pos
    w2 = np.where(use2, s_prev**2 * _tie_factor(d2, n_risk) * d2 / n_risk**2, 0.0)
    a2 = inv_s * cif
    v1 = np.cumsum(w1 * a1**2 + w2 * a2**2)
    v2 = np.cumsum((w1 * a1 + w2 * a2) * inv_s)
    v3 = np.cumsum((w1 + w2) * inv_s**2)
    var_at_cause = v1 + cif**2 * v3 - 2.0 * cif * v2
    # reported only where the cause occurs; constant (carried forward) in between
    last_cause = np.maximum.accumulate(np.where(d1 > 0, np.arange(d1.size), -1))
    variance = np.where(last_cause >= 0, var_at_cause[np.maximum(last_cause, 0)], 0.0)
    return variance


def cumulative_incidence(
    time: ArrayLike,
    event_type: ArrayLike,
    cause: int = 1,
    ci_method: str = "log-log",
    alpha: float = 0.05,
    *,
    entry: ArrayLike | None = None,
) -> CIFResult:
    """Aalen-Johansen cumulative incidence of ``cause`` with ``cuminc``'s variance and CIs.

    ``event_type`` is 0 for censored and a positive integer cause code otherwise.
    With ``entry`` (delayed entry) a subject is at risk at ``t`` only when
    ``entry < t <= time``: the estimate then equals R's multi-state
    ``survfit(Surv(entry, time, factor(event_type)) ~ 1)`` (``pstate``). ``cuminc`` has no
    delayed entry; the variance is its formula evaluated on the (entry, time] risk sets, an
    approximation not checked against R (R's multi-state survfit uses another variance).
    Deterministic: tied times are handled exactly (see the module docstring), never by
    jitter. Raises ``ValueError`` for unequal lengths, empty input, NaN, negative times,
    invalid event codes, a non-positive ``cause``, an unknown ``ci_method`` or ``alpha``
    outside (0, 1). A ``cause`` that never occurs gives a CIF of 0 throughout.

    Parameters
    ----------
    time : follow-up times (>= 0), one per subject.
    event_type : 0 = censored, else the cause code (1, 2, ...).
    cause : the cause whose cumulative incidence is estimated.
    ci_method : ``"log-log"`` (default) or another of ``CIF_CI_METHODS``.
    alpha : 1 - confidence level.

    Returns
    -------
    CIFResult
        ``table`` with one row per distinct time (and 0): at risk, events of ``cause``,
        competing events, ``cif``, ``variance``, ``se``, ``lower``, ``upper``.

    R equivalent: ``cmprsk::cuminc(time, event_type)`` (estimates and variances).

    Example
    -------
    >>> time = [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
    >>> event_type = [1, 2, 1, 0, 2, 1, 0, 1, 2, 0]
    >>> r = cumulative_incidence(time, event_type, cause=1)
    >>> cif_at(r, [5, 10])[["time", "cif", "se"]].round(4)
       time     cif      se
    0   5.0  0.2000  0.1344
    1  10.0  0.4722  0.2063
    """
    z = interval_options(ci_method, CIF_CI_METHODS, alpha)
    cause = cause_code(cause)
    t, e = _validate(time, event_type)

    uniq, inverse = np.unique(t, return_inverse=True)
    d1 = np.bincount(inverse, weights=(e == cause), minlength=uniq.size)
    d2 = np.bincount(inverse, weights=(e != cause) & (e != 0), minlength=uniq.size)
    total = np.bincount(inverse, minlength=uniq.size).astype(float)
    n_censor = total - d1 - d2
    n_risk = np.cumsum(total[::-1])[::-1]
    n_start = float(t.size)
    if entry is not None:
        s = entry_times(entry, t)
        n_risk = n_risk - (s.size - np.searchsorted(np.sort(s), uniq, side="left"))
        n_start = float((s <= 0).sum())

    # all-cause Kaplan-Meier just before (s_prev) and at (s_now) each time
    s_now = np.cumprod(1.0 - (d1 + d2) / n_risk)
    s_prev = np.concatenate(([1.0], s_now[:-1]))
    cif = np.cumsum(s_prev * d1 / n_risk)

    variance = _aj_variance(d1, d2, n_risk, s_now, cif)
    n_event, n_competing = d1, d2
    if uniq[0] > 0.0:  # a row for time 0 with nobody having left yet
        uniq = np.concatenate(([0.0], uniq))
        n_risk = np.concatenate(([n_start], n_risk))
        n_event = np.concatenate(([0.0], n_event))
        n_competing = np.concatenate(([0.0], n_competing))
        n_censor = np.concatenate(([0.0], n_censor))
        cif = np.concatenate(([0.0], cif))
        variance = np.concatenate(([0.0], variance))
    se = np.sqrt(np.maximum(variance, 0.0))
    lower, upper = _cif_limits(cif, se, z, ci_method)

    counts = {"n_risk": n_risk, "n_event": n_event, "n_competing": n_competing}
    table = event_table(
        uniq,
        {**counts, "n_censor": n_censor},
        {"cif": cif, "variance": variance, "se": se, "lower": lower, "upper": upper},
        _TABLE_COLUMNS,
    )
    return CIFResult(
        table=table,
        cause=cause,
        ci_method=ci_method,
        alpha=float(alpha),
        n=int(t.size),
        events=int((e == cause).sum()),
        competing=int(((e != cause) & (e != 0)).sum()),
    )


def cif_at(result: CIFResult, times: Sequence[float] | np.ndarray) -> pd.DataFrame:
    """The cumulative incidence step function evaluated at the given times.

    Columns: ``time``, ``n_risk`` (subjects with time >= t), ``events`` and
    ``competing`` (cumulative failures from the cause and from other causes up to and
    including t), ``cif``, ``variance``, ``se``, ``lower``, ``upper``. Right-continuous.
    Beyond the largest observed time ``n_risk`` is 0 and the estimate columns are NaN
    (as ``cmprsk::timepoints``).

    R equivalent: ``cmprsk::timepoints(cuminc(time, status), times)`` (``est``, ``var``).

    Example
    -------
    R gives 0 and 0.2 (SE 0.1344) at times 0 and 4, NA at 12 (past the last time):

    >>> r = cumulative_incidence([2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
    ...                          [1, 2, 1, 0, 2, 1, 0, 1, 2, 0], cause=1)
    >>> cif_at(r, [0, 4, 12])[["time", "n_risk", "events", "competing", "cif", "se"]].round(4)
       time  n_risk  events  competing  cif      se
    0   0.0      10       0          0  0.0  0.0000
    1   4.0       8       2          1  0.2  0.1344
    2  12.0       0       4          3  NaN     NaN
    """
    tq = query_times(times)
    tab = result.table
    t = tab["time"].to_numpy(dtype=float)
    leaving = (tab["n_event"] + tab["n_competing"] + tab["n_censor"]).to_numpy()
    remaining_from = np.cumsum(leaving[::-1])[::-1]
    idx = np.searchsorted(t, tq, side="right") - 1  # last table time <= tq (t[0] == 0)
    first_ge = np.searchsorted(t, tq, side="left")
    n_risk = np.where(first_ge < t.size, remaining_from[np.minimum(first_ge, t.size - 1)], 0)
    beyond = tq > t[-1]
    out = pd.DataFrame(
        {
            "time": tq,
            "n_risk": n_risk.astype(np.int64),
            "events": np.cumsum(tab["n_event"].to_numpy())[idx].astype(np.int64),
            "competing": np.cumsum(tab["n_competing"].to_numpy())[idx].astype(np.int64),
        }
    )
    for col in ("cif", "variance", "se", "lower", "upper"):
        vals = tab[col].to_numpy(dtype=float)[idx]
        vals[beyond] = np.nan
        out[col] = vals
    return out


# --------------------------------------------------------------------------- Gray's test


def _gray_stratum(
    t: np.ndarray, m: np.ndarray, g: np.ndarray, k: int, rho: float
) -> tuple[np.ndarray, np.ndarray]:
    """Score (first k-1 groups) and its covariance within one stratum.

    ``m`` is 0 censored, 1 failure from the cause of interest, 2 other failure; ``g``
    codes groups 0..k-1 (some may be empty in this stratum). Gray (1988), as computed
    by ``cmprsk``.
    """
    k1 = k - 1
    score = np.zeros(k1)
    var = np.zeros((k1, k1))
    uniq, inverse = np.unique(t, return_inverse=True)
    # counts per (time, group) of censored / cause / other failures, and leaving
    counts = np.zeros((3, uniq.size, k))
    np.add.at(counts, (m, inverse, g), 1.0)
    at_risk = np.bincount(g, minlength=k).astype(float)
    leaving = counts.sum(axis=0)

    f1m = np.zeros(k)  # per group: cause-specific CIF just before t
    skmm = np.ones(k)  # per group: all-cause KM just before t
    fm = 0.0  # pooled CIF just before t
    c = np.zeros((k, k))
    v2 = np.zeros((k1, k))
    v3 = np.zeros(k)
    for j in range(uniq.size):
        dc1, dc2 = counts[1, j], counts[2, j]
        nd1, nd2 = dc1.sum(), dc2.sum()
        if nd1 > 0 or nd2 > 0:
            rs = at_risk
            live = rs > 0
            rsl = np.where(live, rs, 1.0)
            skm = np.where(live, skmm * (rs - dc1 - dc2) / rsl, skmm)
            f1 = np.where(live, f1m + skmm * dc1 / rsl, f1m)
            h = np.where(live, rs / np.where(live, skmm, 1.0), 0.0)
            tr = h.sum()
            tq = (h * (1.0 - f1m)).sum()
            f = fm + nd1 / tr
            fb = (1.0 - fm) ** rho
            a = -fb * np.outer(h, h) / tr
            a[np.diag_indices(k)] = fb * h * (1.0 - h / tr)
            c += a * nd1 / (tr * (1.0 - fm))
            score += np.where(live, fb * (dc1 - nd1 * h * (1.0 - f1m) / tq), 0.0)[:k1]
            if nd1 > 0:
                ks = np.flatnonzero(live)
                sk = skm[ks]
                t4 = np.where(sk > 0, 1.0 - (1.0 - f) / np.where(sk > 0, sk, 1.0), 1.0)
                t5 = 1.0 - (nd1 - 1.0) / (tr * skmm[ks] - 1.0) if nd1 > 1 else 1.0
                t3 = t5 * skmm[ks] * nd1 / (tr * rs[ks])
                v3[ks] += t4**2 * t3
                t1 = a[:k1, ks] - t4 * c[:k1, ks]
                v2[:, ks] += t1 * (t4 * t3)
                var += (t1 * t3) @ t1.T
            if nd2 > 0:
                ks = np.flatnonzero((skm > 0) & (dc2 > 0))
                d2k, rsk = dc2[ks], rs[ks]
                t4 = (1.0 - f) / skm[ks]
                t5 = _tie_factor(d2k, rsk)
                t3 = t5 * skmm[ks] ** 2 * d2k / rsk**2
                v3[ks] += t4**2 * t3
                t1 = t4 * c[:k1, ks]
                v2[:, ks] -= t1 * (t4 * t3)
                var += (t1 * t3) @ t1.T
            fm, f1m, skmm = f, f1, skm
        at_risk = at_risk - leaving[j]
    var += (c[:k1] * v3) @ c[:k1].T + c[:k1] @ v2.T + v2 @ c[:k1].T
    return score, var


def gray_test(
    time: ArrayLike,
    event_type: ArrayLike,
    group: ArrayLike,
    cause: int = 1,
    strata: ArrayLike | None = None,
    rho: float = 0.0,
) -> GrayResult:
    """Gray's test of equal cumulative incidence of ``cause`` across k >= 2 groups.

    As ``cmprsk::cuminc(time, event_type, group, strata, rho)$Tests``: weight
    ``(1 - F(t-))**rho`` (``rho = 0``, the default, is the usual test), chi-square on
    ``k - 1`` df. With ``strata`` the scores and variances are summed over strata.
    Groups are ordered by sorted label. Raises ``ValueError`` on invalid input or fewer
    than two groups.

    Parameters
    ----------
    time : follow-up times (>= 0), one per subject.
    event_type : 0 = censored, else the cause code (1, 2, ...).
    group : group label per subject (mutually sortable, no missing values).
    cause : the cause whose cumulative incidences are compared.
    strata : optional stratum per subject (scores and variances summed over strata).
    rho : weight exponent (``(1 - F(t-))**rho``).

    Returns
    -------
    GrayResult
        ``statistic`` (chi-square), ``df`` (k - 1), ``p``, the ``groups`` in order, the
        ``score`` vector and its ``variance`` (NaN statistic and p when the variance is
        singular, where ``cuminc`` prints -1 and 1).

    R equivalent: ``cmprsk::cuminc(time, event_type, group, strata, rho = rho)$Tests``.

    Example
    -------
    The ``infant_all`` demo: death without relapse (cause 2) by age at diagnosis; R's
    ``cuminc`` gives stat 8.425822, p 0.003699 (``tests/fixtures/competing/infant_gray.R``).

    >>> time = [364, 675, 3458, 1558, 219, 1375, 2743, 3900, 1138]
    >>> event_type = [2, 2, 0, 0, 1, 0, 0, 0, 0]
    >>> group = ["lt6", "lt6", "ge6", "ge6", "ge6", "ge6", "ge6", "ge6", "ge6"]
    >>> r = gray_test(time, event_type, group, cause=2)
    >>> round(r.statistic, 4), r.df, round(r.p, 4), r.groups
    (8.4258, 1, 0.0037, ('ge6', 'lt6'))
    """
    cause = cause_code(cause)
    t, e = _validate(time, event_type)
    labels, g = group_codes(group, t.size, "group")
    k = len(labels)
    if k < 2:
        raise ValueError(f"Gray's test needs at least 2 groups, got {k}")
    if not math.isfinite(rho):
        raise ValueError(f"rho must be finite, got {rho}")
    if strata is None:
        s = np.zeros(t.size, dtype=np.int64)
        n_strata = 1
    else:
        strata_labels, s = group_codes(strata, t.size, "strata")
        n_strata = len(strata_labels)
    m = np.where(e == 0, 0, np.where(e == cause, 1, 2))

    score = np.zeros(k - 1)
    var = np.zeros((k - 1, k - 1))
    for st in range(n_strata):
        sel = s == st
        sc, vv = _gray_stratum(t[sel], m[sel], g[sel], k, float(rho))
        score += sc
        var += vv

    df = k - 1
    if np.linalg.matrix_rank(var) < df:
        statistic = p = math.nan
    else:
        statistic = float(score @ np.linalg.solve(var, score))
        p = float(stats.chi2.sf(statistic, df))
    return GrayResult(
        statistic=statistic,
        df=df,
        p=p,
        cause=cause,
        rho=float(rho),
        groups=tuple(labels),
        score=score,
        variance=var,
    )
