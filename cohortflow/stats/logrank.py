"""Stratified log-rank, log-rank test for trend, and the Mantel-Byar test.

Exact, deterministic implementations (numpy/scipy only) that agree with R ``survival``:

* ``stratified_logrank``: R ``survdiff(Surv(t, e) ~ g + strata(s))``;
* ``trend_test``: the score statistic ``U = sum_g w_g (O_g - E_g)`` with
  ``Var(U) = w' V w`` computed from R ``survdiff``'s ``$obs - $exp`` and ``$var``;
* ``mantel_byar``: the score test at beta = 0 of a Cox model with a time-dependent binary
  exposure, R ``coxph(Surv(start, stop, event) ~ exposed)$score``.

Conventions
-----------
* Times are used exactly as given (no merging of floating-point near-ties). A subject
  censored at ``t`` is at risk at ``t``. For counting-process data a row is at risk at an
  event time ``t`` when ``start < t <= stop``.
* Log-rank variances are hypergeometric; groups whose expected count is 0 are left out of
  the k-group statistic and of its degrees of freedom, as in R.
* ``split_at_exposure`` counts a patient as exposed from the exposure time onwards only if
  the exposure is **strictly before** the end of follow-up: an exposure on the day of the
  event or censoring (or later) leaves the whole follow-up unexposed; an exposure at time 0
  makes the whole follow-up exposed. This is R ``tmerge(..., tdc(exposure_time))``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from cohortflow.stats._inputs import group_codes, time_event
from cohortflow.stats.cox import score_test_at_zero
from cohortflow.stats.survival import (
    LogRankResult,
    logrank_parts,
    logrank_result,
)
from cohortflow.stats.timedep import counting_process

__all__ = [
    "MANTEL_BYAR_METHODS",
    "ScoreTestResult",
    "TrendResult",
    "mantel_byar",
    "split_at_exposure",
    "stratified_logrank",
    "trend_test",
]

MANTEL_BYAR_METHODS = ("efron", "breslow", "exact")

ArrayLike = Sequence[Any] | np.ndarray | pd.Series


@dataclass(frozen=True)
class TrendResult:
    """A log-rank test for trend over ordered groups (1 degree of freedom).

    ``u`` is ``sum_g w_g (O_g - E_g)``, ``variance`` is ``w' V w``, ``chi2 = u^2 / variance``.
    ``scores``, ``observed`` and ``expected`` map each group label (sorted) to its score,
    observed and expected number of events.
    """

    chi2: float
    df: int
    p: float
    scores: dict
    u: float
    variance: float
    observed: dict
    expected: dict


@dataclass(frozen=True)
class ScoreTestResult:
    """A 1-df score test of a time-dependent binary exposure (the Mantel-Byar test).

    ``statistic = u^2 / variance`` where ``u = observed - expected`` is the score at beta = 0;
    ``observed`` counts events during exposed time. ``method`` names the tie handling
    (``"efron"``, ``"breslow"`` or ``"exact"``, the hypergeometric log-rank form).
    """

    statistic: float
    df: int
    p: float
    observed: float
    expected: float
    u: float
    variance: float
    method: str


# --------------------------------------------------------------------------- log-rank parts


def _stratified_parts(
    time: ArrayLike, event: ArrayLike, group: ArrayLike, strata: ArrayLike | None
) -> tuple[list[Any], np.ndarray, np.ndarray, np.ndarray]:
    """Group labels and O, E, V summed over strata."""
    t, e = time_event(time, event)
    labels, code = group_codes(group, t.size, "group")
    k = len(labels)
    if strata is None:
        s_code = np.zeros(t.size, dtype=np.int64)
    else:
        _, s_code = group_codes(strata, t.size, "strata")
    observed, expected, var = np.zeros(k), np.zeros(k), np.zeros((k, k))
    for s in np.unique(s_code):
        rows = s_code == s
        o, x, v = logrank_parts(t[rows], e[rows], code[rows], k)
        observed += o
        expected += x
        var += v
    return labels, observed, expected, var


# --------------------------------------------------------------------------- public tests


def stratified_logrank(
    time: ArrayLike, event: ArrayLike, group: ArrayLike, strata: ArrayLike
) -> LogRankResult:
    """Stratified log-rank test of equal survival across k >= 2 groups.

    Per-stratum observed minus expected counts and hypergeometric covariances are summed
    over strata; ``chi2 = (O - E)' V^- (O - E)`` on ``k - 1`` df (groups with expected 0
    left out), as R ``survdiff(Surv(time, event) ~ group + strata(strata))``. ``observed``
    and ``expected`` are summed over strata. With no events chi2 and p are NaN and df is 0.
    Raises ``ValueError`` on invalid input or fewer than two groups.

    Parameters
    ----------
    time, event : follow-up times (>= 0) and 1 = event / 0 = censored.
    group : group label of each subject.
    strata : stratum label of each subject.

    Returns
    -------
    LogRankResult
        ``chi2``, ``df``, ``p`` and ``observed`` / ``expected`` summed over strata.

    R equivalent: ``survival::survdiff(Surv(time, event) ~ group + strata(strata))``.

    Example
    -------
    >>> time = [9, 13, 13, 18, 23, 28, 31, 34, 45, 48, 161, 5, 5, 8, 8, 12, 16, 23, 27, 30,
    ...         33, 43, 45]  # R survival::aml
    >>> event = [1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1]
    >>> group = ["Maintained"] * 11 + ["Nonmaintained"] * 12
    >>> strata = [1, 2] * 11 + [1]
    >>> r = stratified_logrank(time, event, group, strata)
    >>> round(r.chi2, 4), r.df, round(r.p, 4)
    (2.7208, 1, 0.0991)
    """
    labels, observed, expected, var = _stratified_parts(time, event, group, strata)
    if len(labels) < 2:
        raise ValueError(f"log-rank test needs at least 2 groups, got {len(labels)}")
    return logrank_result(labels, observed, expected, var)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.number) and not isinstance(value, bool | np.bool_)


def _one_df(u: float, variance: float) -> tuple[float, dict[str, float]]:
    """A score test on one degree of freedom: chi-square u^2 / variance and the fields its
    result shares (``df``, ``p``, ``u``, ``variance``); NaN without information."""
    chi2 = u * u / variance if variance > 0 else math.nan
    p = float(stats.chi2.sf(chi2, 1)) if variance > 0 else math.nan
    return float(chi2), {"df": 1, "p": p, "u": u, "variance": variance}


def trend_test(
    time: ArrayLike,
    event: ArrayLike,
    group: ArrayLike,
    scores: Mapping[Any, float] | None = None,
    strata: ArrayLike | None = None,
) -> TrendResult:
    """Log-rank test for trend across ordered groups, optionally stratified.

    ``scores`` maps every group label to its score (extra keys are ignored); if omitted the
    labels must be numeric and are used as their own scores. ``chi2 = U^2 / (w' V w)`` on
    1 df with ``U = sum_g w_g (O_g - E_g)`` and ``V`` the log-rank covariance (summed over
    strata). The result does not change when all scores are shifted by a constant. With no
    information (variance 0, e.g. no events) chi2 and p are NaN. Raises ``ValueError`` on
    invalid input, fewer than two groups, missing or non-finite scores, or all scores equal.

    Parameters
    ----------
    time, event : follow-up times (>= 0) and 1 = event / 0 = censored.
    group : ordered group label of each subject.
    scores : score of each group label (default: the labels themselves, if numeric).
    strata : optional stratum label of each subject.

    Returns
    -------
    TrendResult
        ``chi2`` (1 df), ``p``, the ``scores`` used, ``u``, ``variance``, ``observed`` and
        ``expected`` per group.

    R equivalent: ``survival::coxph(Surv(time, event) ~ score)``'s score test (with
    ``+ strata(strata)`` when stratified); for two groups it equals ``survdiff``.

    Example
    -------
    R's ``survival::aml``, maintained then nonmaintained:

    >>> time = [9, 13, 13, 18, 23, 28, 31, 34, 45, 48, 161]
    >>> time += [5, 5, 8, 8, 12, 16, 23, 27, 30, 33, 43, 45]
    >>> event = [1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0] + [1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1]
    >>> group = ["Maintained"] * 11 + ["Nonmaintained"] * 12
    >>> r = trend_test(time, event, group, scores={"Maintained": 0, "Nonmaintained": 1})
    >>> round(r.chi2, 4), round(r.p, 4)
    (3.3964, 0.0653)
    """
    labels, observed, expected, var = _stratified_parts(time, event, group, strata)
    if len(labels) < 2:
        raise ValueError(f"trend test needs at least 2 groups, got {len(labels)}")
    if scores is None:
        if not all(_is_number(lab) for lab in labels):
            raise ValueError(
                "trend test needs scores for non-numeric group labels, e.g. "
                "scores={'SR': 1, 'MR': 2, 'HR': 3}"
            )
        score_map = {lab: float(lab) for lab in labels}
    else:
        missing = [lab for lab in labels if lab not in scores]
        if missing:
            raise ValueError(f"scores has no value for group(s) {missing}")
        score_map = {lab: float(scores[lab]) for lab in labels}
    w = np.array([score_map[lab] for lab in labels])
    if not np.isfinite(w).all():
        raise ValueError("scores must be finite numbers")
    if np.ptp(w) == 0:
        raise ValueError("scores must not all be equal")
    u = float(w @ (observed - expected))
    variance = float(w @ var @ w)
    chi2, score = _one_df(u, variance)
    return TrendResult(
        chi2=chi2,
        **score,
        scores=score_map,
        observed={lab: float(o) for lab, o in zip(labels, observed, strict=True)},
        expected={lab: float(x) for lab, x in zip(labels, expected, strict=True)},
    )


# --------------------------------------------------------------------------- Mantel-Byar


def _hypergeometric_score(
    start: np.ndarray, stop: np.ndarray, event: np.ndarray, x: np.ndarray, strata: np.ndarray
) -> tuple[float, float]:
    """Log-rank score and hypergeometric variance for a binary time-dependent exposure."""
    u = v = 0.0
    for s in np.unique(strata):
        rows = strata == s
        st, sp, ev, xs = start[rows], stop[rows], event[rows], x[rows]
        for t in np.unique(sp[ev]):
            risk = (st < t) & (sp >= t)
            dead = risk & ev & (sp == t)
            n, n1 = float(risk.sum()), float(xs[risk].sum())
            d, d1 = float(dead.sum()), float(xs[dead].sum())
            u += d1 - d * n1 / n
            if n > 1:
                v += d * (n - d) / (n - 1.0) * (n1 / n) * (1.0 - n1 / n)
    return u, v


def mantel_byar(
    start: ArrayLike,
    stop: ArrayLike,
    event: ArrayLike,
    exposed: ArrayLike,
    *,
    method: str = "efron",
    strata: ArrayLike | None = None,
) -> ScoreTestResult:
    """Mantel-Byar test: score test of a time-dependent binary exposure in a Cox model.

    Counting-process input: one row per interval ``(start, stop]`` with the exposure (0/1)
    constant on it and ``event`` 1 if the interval ends in an event (see
    ``split_at_exposure``). ``method="efron"`` (default) equals R
    ``coxph(Surv(start, stop, event) ~ exposed)$score``; ``"breslow"`` equals it with
    ``ties = "breslow"``; ``"exact"`` is the hypergeometric (log-rank) form, equal to R's
    ``ties = "exact"``. All three coincide without tied event times. Optional ``strata``
    give separate risk sets. With zero variance (e.g. no events, or nobody ever exposed)
    the statistic and p are NaN. Raises ``ValueError`` on invalid input.

    Parameters
    ----------
    start, stop : the interval ``(start, stop]`` of each row (``start < stop``).
    event : 1 if the row's interval ends in an event, else 0.
    exposed : the exposure (0/1) on the interval.
    method : ``"efron"`` (default), ``"breslow"`` or ``"exact"`` (tied event times).
    strata : optional stratum per row (separate risk sets).

    Returns
    -------
    ScoreTestResult
        ``statistic`` (chi-square, 1 df), ``p``, ``observed`` and ``expected`` events while
        exposed, the score ``u`` and its ``variance``.

    R equivalent: ``survival::coxph(Surv(start, stop, event) ~ exposed)$score`` (checked
    against R on the Stanford heart transplant data in ``tests/test_survtests.py``).

    Example
    -------
    Eight patients, four exposed during follow-up (e.g. HSCT), split at exposure:

    >>> import pandas as pd
    >>> d = pd.DataFrame({"time": [2, 3, 4, 5, 6, 7, 8, 9], "event": [1, 0, 1, 1, 0, 1, 1, 0],
    ...                   "exposure": [None, 1, None, 3, 4, None, 3, 5]})
    >>> cp = split_at_exposure(d, "time", "event", "exposure")
    >>> r = mantel_byar(cp["start"], cp["stop"], cp["event"], cp["exposed"])
    >>> round(r.statistic, 4), round(r.p, 4), r.observed, round(r.expected, 4)
    (0.6621, 0.4158, 2.0, 2.725)
    """
    if method not in MANTEL_BYAR_METHODS:
        raise ValueError(f"method must be one of {MANTEL_BYAR_METHODS}, got {method!r}")
    t1, e = time_event(stop, event)
    t0 = np.asarray(start, dtype=float)
    x = np.asarray(exposed, dtype=float)
    if t0.shape != t1.shape or x.shape != t1.shape:
        raise ValueError("start, stop, event and exposed must have equal lengths")
    if np.isnan(t0).any() or np.isnan(x).any():
        raise ValueError("start and exposed must not contain missing values")
    if not np.isin(x, (0.0, 1.0)).all():
        raise ValueError("exposed must be 0 (unexposed) or 1 (exposed) on every interval")
    bad = int((t0 >= t1).sum())
    if bad:
        raise ValueError(f"{bad} row(s) have start >= stop; intervals must be (start, stop]")
    if strata is None:
        s_code = np.zeros(t1.size, dtype=np.int64)
    else:
        _, s_code = group_codes(strata, t1.size, "strata")
    ev = e == 1
    if method == "exact":
        u, v = _hypergeometric_score(t0, t1, ev, x, s_code)
    else:
        u, v = score_test_at_zero(t0, t1, ev, x, s_code, method)
    observed = float(e[x == 1].sum())
    statistic, score = _one_df(u, v)
    return ScoreTestResult(
        statistic=statistic, **score, observed=observed, expected=observed - u, method=method
    )


def split_at_exposure(
    df: pd.DataFrame,
    time_col: str,
    event_col: str,
    exposure_time_col: str,
    id_col: str | None = None,
) -> pd.DataFrame:
    """Counting-process rows from one row per patient with an exposure time.

    Returns columns ``id``, ``start``, ``stop``, ``event``, ``exposed`` followed by the
    other columns of ``df`` (repeated on each of a patient's rows), patients in input order.
    A patient exposed at ``x`` with ``0 < x < time`` gets ``(0, x]`` unexposed without event
    and ``(x, time]`` exposed with the patient's event status; exposure at 0 gives one exposed
    row; no exposure (NaN) or exposure at or after ``time`` gives one unexposed row. ``id``
    is ``df[id_col]`` or, by default, the index. Raises ``ValueError`` for missing columns,
    follow-up times that are missing or not positive, event codes other than 0/1, negative
    exposure times, duplicated ids, or names of other columns that clash with the output.

    R equivalent: ``survival::tmerge(d, d, id = id, event = event(time, status),
    exposed = tdc(exposure_time))`` (the other columns carried along).

    Example
    -------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"time": [2, 5, 8], "event": [1, 1, 0], "hsct": [None, 3, 0],
    ...                   "site": ["A", "B", "A"]})
    >>> split_at_exposure(d, "time", "event", "hsct")
       id  start  stop  event  exposed site
    0   0    0.0   2.0      1        0    A
    1   1    0.0   3.0      0        0    B
    2   1    3.0   5.0      1        1    B
    3   2    0.0   8.0      0        1    A
    """
    for col in (time_col, event_col, exposure_time_col) + ((id_col,) if id_col else ()):
        if col not in df.columns:
            raise ValueError(f"column {col!r} is not in the data")
    t, e = time_event(df[time_col].to_numpy(dtype=float), df[event_col].to_numpy(dtype=float))
    if (t <= 0).any():
        raise ValueError(
            f"{int((t <= 0).sum())} patient(s) have follow-up time <= 0; a (start, stop] "
            "interval needs time > 0 (R's jasa1 moves time 0 to 0.5 days)"
        )
    x = pd.to_numeric(df[exposure_time_col], errors="raise").to_numpy(dtype=float)
    if (x < 0).any():
        raise ValueError(f"{exposure_time_col!r} has {int((x < 0).sum())} negative value(s)")
    ids = df[id_col].to_numpy() if id_col else df.index.to_numpy()
    if pd.Series(ids).duplicated().any():
        raise ValueError("patient ids must be unique (one row per patient)")
    other = [c for c in df.columns if c not in (time_col, event_col, exposure_time_col, id_col)]
    clash = sorted(set(other) & {"id", "start", "stop", "event", "exposed"})
    if clash:
        raise ValueError(f"columns {clash} clash with the output columns; rename them")

    # the splitting rule lives in one place: timedep.counting_process (rows per subject in
    # input order, the unexposed part first)
    rows = counting_process(t, e, x)
    pos = rows["index"].to_numpy()
    out = pd.DataFrame({"id": ids[pos], **{c: rows[c] for c in ("start", "stop", "event")}})
    out["exposed"] = rows["exposed"].to_numpy()
    for c in other:
        out[c] = df[c].to_numpy()[pos]
    return out
