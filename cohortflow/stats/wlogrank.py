"""The weighted log-rank family: log-rank, Breslow, Tarone-Ware, Peto-Peto, Fleming-Harrington.

SPSS's Kaplan-Meier procedure prints log-rank, Breslow and Tarone-Ware side by side; R's
``survdiff(rho = )`` gives the Fleming-Harrington G(rho, 0) family. All are
``chi2 = U' V^- U`` on ``k - 1`` df with, at each distinct event time ``t`` of the pooled sample,
``U_g = sum_t w_t (d_gt - n_gt d_t / n_t)`` and the hypergeometric covariance weighted by
``w_t^2`` (the statistic of SAS LIFETEST and SPSS; R ``survdiff`` for ``w = S(t-)^rho``).

Weights (``WEIGHTS``; the name is printed beside every result):

* ``"logrank"``: ``w = 1`` (Mantel-Haenszel), R ``survdiff(rho = 0)``;
* ``"breslow"``: ``w = n_t`` (Gehan-Breslow generalised Wilcoxon; SPSS "Breslow"), which
  gives early differences most weight;
* ``"tarone-ware"``: ``w = sqrt(n_t)``;
* ``"peto-peto"``: ``w = S(t-)``, the pooled Kaplan-Meier just before ``t``: R
  ``survdiff(rho = 1)`` (SAS's "Peto" and lifelines' ``"peto"`` use
  ``prod (1 - d / (n + 1))`` instead and differ slightly);
* ``"fleming-harrington"``: ``w = S(t-)^rho (1 - S(t-))^gamma``; ``gamma = 0`` is R
  ``survdiff(rho = rho)``; ``gamma > 0`` weights late differences.

With ``entry`` (delayed entry, left truncation) a subject is at risk at ``t`` when
``entry < t <= time``, and the pooled Kaplan-Meier uses the same risk sets; the unweighted
statistic then equals R ``coxph(Surv(entry, time, event) ~ group, ties = "exact")``'s score test
(``survdiff`` itself cannot take delayed entry).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from cohortflow.stats._inputs import entry_times, group_codes, time_event
from cohortflow.stats.survival import kaplan_meier

__all__ = ["WEIGHTS", "WEIGHT_LABELS", "WeightedLogRankResult", "weighted_logrank"]

WEIGHTS = ("logrank", "breslow", "tarone-ware", "peto-peto", "fleming-harrington")
WEIGHT_LABELS = {
    "logrank": "log-rank (unweighted)",
    "breslow": "Breslow (generalised Wilcoxon, weights n at risk)",
    "tarone-ware": "Tarone-Ware (weights sqrt of n at risk)",
    "peto-peto": "Peto-Peto (weights S(t-), R survdiff rho = 1)",
    "fleming-harrington": "Fleming-Harrington G({rho:g}, {gamma:g})",
}

ArrayLike = Sequence[Any] | np.ndarray | pd.Series


@dataclass(frozen=True)
class WeightedLogRankResult:
    """A weighted log-rank test across k >= 2 groups.

    ``label`` names the weights as printed (e.g. ``"Tarone-Ware (weights sqrt of n at
    risk)"``); ``observed`` and ``expected`` map each group label (sorted) to its unweighted
    observed and expected events. With no information (no events, variance 0) chi2 and p
    are NaN and df is 0.
    """

    chi2: float
    df: int
    p: float
    weights: str
    label: str
    rho: float
    gamma: float
    observed: dict
    expected: dict


def _risk_sets(
    t: np.ndarray, e: np.ndarray, s: np.ndarray, code: np.ndarray, k: int, ev_times: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Numbers at risk on (entry, exit] and events per event time (rows) and group
    (columns): one pass per group (k is small), vectorised over subjects."""
    at_risk = np.empty((ev_times.size, k))
    deaths = np.empty((ev_times.size, k))
    for j in range(k):
        m = code == j
        exits, entries = np.sort(t[m]), np.sort(s[m])
        at_risk[:, j] = (exits.size - np.searchsorted(exits, ev_times, side="left")) - (
            entries.size - np.searchsorted(entries, ev_times, side="left")
        )
        ev_sorted = np.sort(t[m & (e == 1)])
        deaths[:, j] = np.searchsorted(ev_sorted, ev_times, side="right") - np.searchsorted(
            ev_sorted, ev_times, side="left"
        )
    return at_risk, deaths


def _weight(
    weights: str, n: np.ndarray, surv_left: np.ndarray, rho: float, gamma: float
) -> np.ndarray:
    """The weight at each event time (``n`` at risk, ``surv_left`` the pooled S(t-))."""
    if weights == "logrank":
        return np.ones_like(n)
    if weights == "breslow":
        return n.copy()
    if weights == "tarone-ware":
        return np.sqrt(n)
    if weights == "peto-peto":
        return surv_left
    return surv_left**rho * (1.0 - surv_left) ** gamma


def weighted_logrank(
    time: ArrayLike,
    event: ArrayLike,
    group: ArrayLike,
    weights: str = "logrank",
    *,
    rho: float = 0.0,
    gamma: float = 0.0,
    entry: ArrayLike | None = None,
) -> WeightedLogRankResult:
    """Weighted log-rank test of equal survival across k >= 2 groups.

    Parameters
    ----------
    time : array-like
        Follow-up (exit) times.
    event : array-like
        1 for an event, 0 for a censored observation.
    group : array-like
        Group labels (mutually sortable, no missing values).
    weights : str, default "logrank"
        One of ``WEIGHTS`` (see the module docstring).
    rho, gamma : float, default 0
        Fleming-Harrington exponents (only with ``weights="fleming-harrington"``).
    entry : array-like, optional
        Delayed-entry times (each strictly before its ``time``).

    Returns
    -------
    WeightedLogRankResult

    Raises
    ------
    ValueError
        Invalid input, fewer than two groups, unknown weights, negative or non-finite
        ``rho``/``gamma``, or an entry time not before its exit time.

    Example
    -------
    >>> t = [219, 4200, 4000, 675, 3300, 364, 1800, 1500, 1140]
    >>> e = [1, 0, 0, 1, 0, 1, 0, 0, 0]
    >>> g = ["old", "old", "old", "young", "old", "young", "old", "old", "old"]
    >>> [round(weighted_logrank(t, e, g, w).p, 4) for w in ("logrank", "breslow", "tarone-ware")]
    [0.0462, 0.0771, 0.0599]

    R: ``survdiff(Surv(time, event) ~ group, rho = 0)`` (log-rank), ``rho = 1`` (Peto-Peto),
    ``rho = rho`` (Fleming-Harrington with gamma 0).
    """
    if weights not in WEIGHTS:
        raise ValueError(f"weights must be one of {WEIGHTS}, got {weights!r}")
    for name, v in (("rho", rho), ("gamma", gamma)):
        if not math.isfinite(v) or v < 0:
            raise ValueError(f"{name} must be a finite number >= 0, got {v}")
    if weights != "fleming-harrington" and (rho or gamma):
        raise ValueError("rho and gamma apply only to weights='fleming-harrington'")
    t, e = time_event(time, event)
    s = np.full(t.shape, -np.inf) if entry is None else entry_times(entry, t)
    labels, code = group_codes(group, t.size, "group")
    if len(labels) < 2:
        raise ValueError(f"a log-rank test needs at least 2 groups, got {len(labels)}")
    k = len(labels)
    km = kaplan_meier(t, e, entry=entry)  # the pooled curve the weights are read from

    ev_times = np.unique(t[e == 1])
    at_risk, deaths = _risk_sets(t, e, s, code, k, ev_times)
    n = at_risk.sum(axis=1)
    d = deaths.sum(axis=1)
    tab = km.table
    surv_left = np.concatenate(([1.0], tab["survival"].to_numpy()))[
        np.searchsorted(tab["time"].to_numpy(), ev_times, side="left")
    ]
    w = _weight(weights, n, surv_left, rho, gamma)
    expected_t = at_risk * (d / n)[:, None]
    u = (w[:, None] * (deaths - expected_t)).sum(axis=0)
    var = np.zeros((k, k))
    multi = n > 1
    if multi.any():
        frac = at_risk[multi] / n[multi, None]
        c = w[multi] ** 2 * d[multi] * (n[multi] - d[multi]) / (n[multi] - 1.0)
        var = np.diag((c[:, None] * frac).sum(axis=0)) - np.einsum("t,ti,tj->ij", c, frac, frac)
    observed, expected = deaths.sum(axis=0), expected_t.sum(axis=0)
    use = np.flatnonzero(expected > 0)
    chi2, df, p = math.nan, 0, math.nan
    if use.size >= 2:
        v = var[np.ix_(use, use)][1:, 1:]
        df = int(np.linalg.matrix_rank(v)) if v.size else 0
        if df > 0:
            chi2 = float(u[use][1:] @ np.linalg.pinv(v) @ u[use][1:])
            p = float(stats.chi2.sf(chi2, df))
        else:
            df = 0
    return WeightedLogRankResult(
        chi2=float(chi2),
        df=df,
        p=p,
        weights=weights,
        label=WEIGHT_LABELS[weights].format(rho=rho, gamma=gamma),
        rho=float(rho),
        gamma=float(gamma),
        observed={lab: float(o) for lab, o in zip(labels, observed, strict=True)},
        expected={lab: float(x) for lab, x in zip(labels, expected, strict=True)},
    )
