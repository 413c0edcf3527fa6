"""Restricted mean survival time (RMST): the area under the Kaplan-Meier curve up to a horizon.

Exact and deterministic (numpy/scipy only); per-group values agree with R
``print(survfit(Surv(time, event) ~ group), rmean = tau)`` (``summary(fit, rmean = tau)$table``
columns ``rmean`` and ``se(rmean)``, survival 3.x) to floating-point precision.

Conventions
-----------
* ``rmst(tau) = integral_0^tau S(t) dt`` with ``S`` the Kaplan-Meier step function (events before
  censorings at tied times, times used exactly as given).
* Variance (R ``survmean``): ``sum_k A_k^2 d_k / (n_k (n_k - d_k))`` over the distinct times
  ``t_k <= tau``, where ``A_k`` is the area under ``S`` from ``t_k`` to ``tau``; a time where all
  subjects at risk fail (``n_k == d_k``) contributes 0, as in R.
* ``tau`` beyond the largest follow-up time (event or censoring) of a group is refused: the curve
  is unknown there. With ``extend=True`` the last value of the curve is carried forward to
  ``tau`` (R's behaviour, which does not warn).
* Confidence intervals are Wald: ``rmst +/- z se``. Two groups are compared by the difference
  (``se = sqrt(se_1^2 + se_2^2)``, normal p) and the ratio (delta method on the log scale,
  ``se_log = sqrt((se_1/rmst_1)^2 + (se_2/rmst_2)^2)``), as survRM2's unadjusted comparison.
* A plain RMST comparison of groups defined by something that happens after the time origin
  (e.g. HSCT) is biased by immortal time, exactly as a naive Kaplan-Meier comparison is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from cohortflow.stats._inputs import z_quantile
from cohortflow.stats.survival import kaplan_meier

__all__ = ["RMSTComparison", "RMSTResult", "compare_rmst", "restricted_mean"]

ArrayLike = Sequence[Any] | np.ndarray | pd.Series


@dataclass(frozen=True)
class RMSTResult:
    """The restricted mean survival time of one group up to ``tau``.

    ``rmst`` and ``se`` are in the units of the input times; ``lower``/``upper`` are the
    ``1 - alpha`` Wald limits. ``max_time`` is the group's largest follow-up time and
    ``extended`` says whether ``tau`` exceeded it (the curve was carried forward).
    """

    tau: float
    rmst: float
    se: float
    lower: float
    upper: float
    n: int
    events: int
    max_time: float
    extended: bool
    alpha: float


@dataclass(frozen=True)
class RMSTComparison:
    """Two groups' RMST to ``tau``: ``groups[0]`` minus (or divided by) ``groups[1]``.

    ``per_group`` maps each label to its :class:`RMSTResult`. ``difference`` with ``diff_se``,
    ``diff_lower``/``diff_upper`` and two-sided ``diff_p``; ``ratio`` with
    ``ratio_lower``/``ratio_upper`` and ``ratio_p`` (log scale).
    """

    tau: float
    groups: tuple
    per_group: dict
    difference: float
    diff_se: float
    diff_lower: float
    diff_upper: float
    diff_p: float
    ratio: float
    ratio_lower: float
    ratio_upper: float
    ratio_p: float
    alpha: float


def restricted_mean(
    time: ArrayLike,
    event: ArrayLike,
    tau: float,
    *,
    extend: bool = False,
    alpha: float = 0.05,
) -> RMSTResult:
    """Restricted mean survival time up to ``tau`` with R's standard error.

    Matches R ``print(survfit(Surv(time, event) ~ 1), rmean = tau)``.

    Parameters
    ----------
    time : array-like
        Follow-up times (>= 0).
    event : array-like
        1 for an event, 0 for a censored observation.
    tau : float
        The horizon (> 0), in the units of ``time``.
    extend : bool, default False
        Allow ``tau`` beyond the largest follow-up time by carrying the last value of the
        curve forward (as R does silently). Without it such a ``tau`` raises ``ValueError``.
    alpha : float, default 0.05
        ``1 - alpha`` Wald confidence limits.

    Returns
    -------
    RMSTResult

    Raises
    ------
    ValueError
        Invalid input (see :func:`cohortflow.stats.survival.kaplan_meier`), ``tau <= 0`` or not
        finite, or ``tau`` beyond the largest follow-up time without ``extend``.

    Example
    -------
    >>> r = restricted_mean([6, 6, 6, 7, 10, 13, 16, 22, 23], [1, 1, 1, 1, 0, 1, 1, 1, 1], 10)
    >>> round(r.rmst, 4), round(r.se, 4)
    (8.3333, 0.6285)
    """
    z = z_quantile(alpha)
    tau = float(tau)
    if not math.isfinite(tau) or tau <= 0:
        raise ValueError(f"tau must be a positive number, got {tau}")
    km = kaplan_meier(time, event)
    tab = km.table
    t = tab["time"].to_numpy(dtype=float)
    max_time = float(t[-1])
    if tau > max_time and not extend:
        raise ValueError(
            f"tau = {tau:g} is beyond the largest follow-up time ({max_time:g}): the survival "
            "curve is unknown there. Choose a smaller tau, or pass extend=True to carry the "
            "last value forward (as R does)"
        )
    surv = tab["survival"].to_numpy(dtype=float)
    n = tab["n_risk"].to_numpy(dtype=float)
    d = tab["n_event"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = np.where((n - d) > 0, d / (n * (n - d)), 0.0)
    keep = t <= tau
    # knots t_k <= tau and tau itself; S constant on [t_k, t_{k+1})
    knots = np.concatenate((t[keep], [tau]))
    rect = np.diff(knots) * surv[keep]  # area from t_k to the next knot
    area_after = np.cumsum(rect[::-1])[::-1]  # area from t_k to tau
    mean = float(rect.sum())  # the table starts at time 0
    variance = float(np.sum(area_after**2 * h[keep]))
    se = math.sqrt(variance)
    return RMSTResult(
        tau=tau,
        rmst=mean,
        se=se,
        lower=mean - z * se,
        upper=mean + z * se,
        n=km.n,
        events=int(tab.loc[keep, "n_event"].sum()),
        max_time=max_time,
        extended=tau > max_time,
        alpha=float(alpha),
    )


def compare_rmst(
    time: ArrayLike,
    event: ArrayLike,
    group: ArrayLike,
    tau: float,
    *,
    order: Sequence[Any] | None = None,
    extend: bool = False,
    alpha: float = 0.05,
) -> RMSTComparison:
    """RMST per group and the difference and ratio between two groups.

    Parameters
    ----------
    time, event : array-like
        Follow-up times and event indicators (1 event, 0 censored).
    group : array-like
        Group label per subject; exactly two distinct labels.
    tau : float
        The horizon; must not exceed either group's largest follow-up time unless ``extend``.
    order : sequence, optional
        The two labels as ``(first, second)``: the difference is first minus second and the
        ratio first / second. Default: sorted labels.
    extend : bool, default False
        See :func:`restricted_mean`.
    alpha : float, default 0.05
        ``1 - alpha`` confidence limits.

    Returns
    -------
    RMSTComparison

    Raises
    ------
    ValueError
        Invalid input, not exactly two groups, ``order`` not naming them, or ``tau`` beyond a
        group's follow-up without ``extend`` (the message names the group).

    Example
    -------
    >>> c = compare_rmst([1, 2, 3, 4, 2, 5, 6, 8], [1, 1, 0, 1, 1, 0, 1, 0], list("aaaabbbb"), 4)
    >>> round(c.difference, 4), round(c.diff_se, 4), round(c.ratio, 4)
    (-0.75, 0.7806, 0.7857)

    R: ``summary(survfit(Surv(time, event) ~ group), rmean = tau)$table`` per group; the
    difference and ratio from those values (survRM2's unadjusted comparison).
    """
    z = z_quantile(alpha)
    g = np.asarray(group, dtype=object)
    t = np.asarray(time, dtype=float)
    e = np.asarray(event)
    if g.shape[0] != t.shape[0]:
        raise ValueError(f"group must have the same length as time ({t.shape[0]})")
    if pd.isna(g).any():
        raise ValueError("group contains missing value(s)")
    labels = sorted({v.item() if isinstance(v, np.generic) else v for v in g}, key=str)
    if len(labels) != 2:
        raise ValueError(f"an RMST comparison needs exactly 2 groups, got {len(labels)}")
    if order is not None:
        if sorted(order, key=str) != labels:
            raise ValueError(f"order {list(order)} must name the groups {labels}")
        labels = list(order)
    res = {}
    for lab in labels:
        m = g == lab
        try:
            res[lab] = restricted_mean(t[m], e[m], tau, extend=extend, alpha=alpha)
        except ValueError as exc:
            raise ValueError(f"group {lab!r}: {exc}") from None
    a, b = res[labels[0]], res[labels[1]]
    diff = a.rmst - b.rmst
    dse = math.hypot(a.se, b.se)
    dp = float(2.0 * stats.norm.sf(abs(diff / dse))) if dse > 0 else math.nan
    if a.rmst > 0 and b.rmst > 0:
        lr = math.log(a.rmst / b.rmst)
        lse = math.hypot(a.se / a.rmst, b.se / b.rmst)
        rp = float(2.0 * stats.norm.sf(abs(lr / lse))) if lse > 0 else math.nan
        ratio, rlo, rhi = math.exp(lr), math.exp(lr - z * lse), math.exp(lr + z * lse)
    else:
        ratio = rlo = rhi = rp = math.nan
    return RMSTComparison(
        tau=float(tau),
        groups=tuple(labels),
        per_group=res,
        difference=diff,
        diff_se=dse,
        diff_lower=diff - z * dse,
        diff_upper=diff + z * dse,
        diff_p=dp,
        ratio=ratio,
        ratio_lower=rlo,
        ratio_upper=rhi,
        ratio_p=rp,
        alpha=float(alpha),
    )
