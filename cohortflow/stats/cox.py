"""Cox proportional-hazards regression with a refusal policy and a proportional-hazards check.

An exact, deterministic implementation (numpy/scipy only) of the Cox partial likelihood,
fitted by Newton-Raphson to a much tighter tolerance than R's default, whose results agree
with R ``survival::coxph`` (coefficients, standard errors, likelihood-ratio, score and Wald
tests) and ``survival::cox.zph`` (survival 3.x) to well below 1e-6.

Conventions
-----------
* Ties: ``"efron"`` (R and lifelines default) or ``"breslow"`` (SAS, SPSS, statsmodels
  default). Exact (discrete) ties are not offered for fitting.
* Right-censored data (``duration_col`` only) or counting-process data (``start_col`` and
  ``duration_col`` as the stop time): a row is at risk at an event time ``t`` when
  ``start < t <= stop``, as in R ``Surv(start, stop, event)``.
* Strata: separate baseline hazards (risk sets) per stratum, common coefficients, as R
  ``strata()``.
* Times are used exactly as given (no merging of floating-point near-ties, R ``timefix``).
* Confidence intervals are Wald intervals ``exp(coef +/- z * se)``; Wald p-values are
  two-sided normal.
* The proportional-hazards check is R's ``cox.zph`` of survival 3.x: for each covariate a
  score test of adding ``x * g(t)`` to the model (``g`` the transformed, centred event time,
  ``"km"`` = ``1 - KM(t-)`` by default) at the fitted coefficients, with the full
  information matrix, and a global test adding all of them. (lifelines'
  ``proportional_hazard_test`` implements the older survival 2.x approximation and gives
  different values.)

Refusals (``CohortflowError``): fewer events than ``min_events_per_parameter`` per
parameter, no events, a covariate without variation (within strata, when stratified), a
binary covariate with a level that has no events (infinite hazard ratio), collinear
covariates, and a fit that does not converge or diverges (monotone likelihood: a log hazard
ratio above 20 per standard deviation of its covariate is taken as divergence).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from cohortflow.core.errors import CohortflowError
from cohortflow.stats._inputs import (
    Coefficients,
    coefficient_table,
    model_arguments,
    numeric_column,
    refuse_few_events,
)

__all__ = ["CoxResult", "PH_TRANSFORMS", "TIES", "fit_cox"]

TIES = ("efron", "breslow")
PH_TRANSFORMS = ("km", "identity", "rank", "log")

_MAX_ITER = 50
_STEP_TOL = 1e-10
#: a larger |log hazard ratio| per standard deviation of a covariate is taken as divergence
_MAX_LOG_HR_PER_SD = 20.0


@dataclass(frozen=True)
class CoxResult(Coefficients):
    """A fitted Cox model.

    ``table`` is indexed by covariate with columns ``coef``, ``se``, ``hr`` (``exp(coef)``),
    ``lower`` and ``upper`` (``1 - alpha`` Wald limits for the hazard ratio), ``z`` and ``p``
    (two-sided Wald). ``vcov`` is the covariance matrix of the coefficients.
    ``lr_*``, ``score_*`` and ``wald_*`` are the global likelihood-ratio, score (at beta = 0)
    and Wald tests on ``df`` = number of covariates. ``ph_test`` is indexed by covariate plus
    ``"GLOBAL"`` with columns ``chisq``, ``df``, ``p`` (R ``cox.zph``, transform
    ``ph_transform``). ``n`` counts data rows (intervals for counting-process data),
    ``events`` the rows with an event.
    """

    table: pd.DataFrame
    vcov: pd.DataFrame
    ties: str
    loglik_null: float
    loglik: float
    lr_chi2: float
    lr_p: float
    score_chi2: float
    score_p: float
    wald_chi2: float
    wald_p: float
    df: int
    ph_test: pd.DataFrame
    ph_transform: str
    n: int
    events: int
    strata: tuple[str, ...]
    counting_process: bool
    iterations: int
    alpha: float

    @property
    def hr(self) -> dict[str, float]:
        """Hazard ratio per covariate."""
        return {k: float(v) for k, v in self.table["hr"].items()}


# --------------------------------------------------------------------------- engine


@dataclass(frozen=True)
class _Stratum:
    """What does not change between Newton-Raphson steps in one stratum: its rows in order
    of stop time, its event times, and where the risk-set sums are read.

    A risk-set sum at event time t is the sum over rows with stop >= t minus the sum over
    rows with start >= t, each a suffix sum over rows sorted by that time (summed from the
    last row). A row whose stop (start) is before the first event time adds to none of them
    and is left out: the sums are the same bit for bit as over all rows."""

    rows: np.ndarray  # positions of the stratum's rows in the data, by stop (stable)
    xt: np.ndarray  # (p, n_s) their covariates, one row per covariate (contiguous)
    ev: np.ndarray  # bool, per row: an event
    ev_rows: np.ndarray  # positions of the event rows in the data, in data order
    times: np.ndarray  # (m,) distinct event times
    t_idx: np.ndarray  # per event row (in ``rows`` order): its time's position in ``times``
    d: np.ndarray  # (m,) events per time
    xd: np.ndarray  # (m, p) covariate sums of the events per time
    stop_from: int  # rows[stop_from:] have stop >= the first event time
    stop_pick: np.ndarray  # (m,) per time: rows with stop >= t, counted from the end
    start_rows: np.ndarray  # rows (positions in ``rows``) with start >= the first event time,
    start_pick: np.ndarray  # by start (stable); per time: those with start >= t
    buffers: dict[tuple[str, tuple[int, ...]], np.ndarray] = field(
        default_factory=dict, compare=False
    )

    def scratch(self, w: np.ndarray, side: str) -> np.ndarray:
        """Scratch for the running sums of ``w`` over the rows of ``side`` ("stop" or
        "start"), the same array at every step (no new pages to fault in for each of the
        p x p x n sums)."""
        n = w.shape[-1] - self.stop_from if side == "stop" else self.start_rows.size
        key = (side, w.shape[:-1] + (n + 1,))
        if key not in self.buffers:
            self.buffers[key] = np.empty(key[1])
        return self.buffers[key]


@dataclass(frozen=True)
class _CoxData:
    """Validated model data; ``x`` is centred within strata (results do not depend on it)."""

    start: np.ndarray  # -inf for right-censored data
    stop: np.ndarray
    event: np.ndarray  # bool
    x: np.ndarray  # (n, p)
    strata: np.ndarray  # int codes 0..k-1
    layout: list[_Stratum] = field(default_factory=list, compare=False, repr=False)

    def strata_layout(self) -> list[_Stratum]:
        """The strata with at least one event (computed once, on first use)."""
        if not self.layout:
            for s in np.unique(self.strata):
                rows = np.flatnonzero(self.strata == s)
                if self.event[rows].any():
                    self.layout.append(_stratum(self, rows))
        return self.layout


def _stratum(data: _CoxData, rows: np.ndarray) -> _Stratum:
    """One stratum's layout (see ``_Stratum``); ``rows`` in data order."""
    ev_rows = rows[data.event[rows]]
    by_stop = np.argsort(data.stop[rows], kind="stable")
    # rows with equal start times are summed in data order, as rows with equal stop times
    o_start = np.argsort(by_stop)[np.argsort(data.start[rows], kind="stable")]
    rows = rows[by_stop]
    stop, start, ev, x = data.stop[rows], data.start[rows], data.event[rows], data.x[rows]
    # events at one time keep their data order (stable sort): per-time sums add alike
    times, t_idx = np.unique(stop[ev], return_inverse=True)
    m = times.size
    stop_from = int(np.searchsorted(stop, times[0], side="left"))
    start_sorted = start[o_start]
    start_from = int(np.searchsorted(start_sorted, times[0], side="left"))
    start_rows, start_sorted = o_start[start_from:], start_sorted[start_from:]
    return _Stratum(
        rows=rows,
        xt=np.ascontiguousarray(x.T),
        ev=ev,
        ev_rows=ev_rows,
        times=times,
        t_idx=t_idx,
        d=np.bincount(t_idx, minlength=m).astype(float),
        xd=_per_time(t_idx, np.ascontiguousarray(x[ev].T), m),
        stop_from=stop_from,
        stop_pick=stop.size - np.searchsorted(stop, times, side="left"),
        start_rows=start_rows,
        start_pick=start_rows.size - np.searchsorted(start_sorted, times, side="left"),
    )


def _per_time(t_idx: np.ndarray, w: np.ndarray, m: int) -> np.ndarray:
    """(m, ...) sums per event time of ``w`` (..., n_events), its last axis the event rows
    (``np.add.at`` in row order, faster)."""
    flat = w.reshape(-1, w.shape[-1])
    cols = [np.bincount(t_idx, weights=row, minlength=m) for row in flat]
    return np.moveaxis(np.stack(cols).reshape(w.shape[:-1] + (m,)), -1, 0)


def _tail_sums(weights: np.ndarray, pick: np.ndarray, out: np.ndarray) -> np.ndarray:
    """(m, ...) sums of the last ``pick`` entries along the last axis of ``weights`` (summed
    from the last one; along contiguous rows, four times faster than down columns); ``out``
    is scratch of the shape of ``weights`` with one more entry on the last axis."""
    out[..., 0] = 0.0
    np.cumsum(weights[..., ::-1], axis=-1, out=out[..., 1:])
    return np.moveaxis(out[..., pick], -1, 0)


@dataclass(frozen=True)
class _Derivs:
    """Log partial likelihood and its derivatives, also per (stratum, event time)."""

    loglik: float
    score: np.ndarray  # (p,)
    info: np.ndarray  # (p, p)
    times: np.ndarray  # (m,) event times
    score_t: np.ndarray  # (m, p)
    info_t: np.ndarray  # (m, p, p)


def _derivatives(beta: np.ndarray, data: _CoxData, ties: str) -> _Derivs:
    """Efron or Breslow log partial likelihood, score and information at ``beta``.

    Far from the optimum (diverging estimates) the log-likelihood may be non-finite; the
    caller halves such steps and refuses diverging fits.
    """
    with np.errstate(divide="ignore", over="ignore", invalid="ignore", under="ignore"):
        return _derivatives_raw(beta, data, ties)


def _derivatives_raw(beta: np.ndarray, data: _CoxData, ties: str) -> _Derivs:
    p = data.x.shape[1]
    eta_all = data.x @ beta
    loglik = 0.0
    times_l, score_l, info_l = [], [], []
    for st in data.strata_layout():
        ev, times, t_idx, d, xt = st.ev, st.times, st.t_idx, st.d, st.xt
        eta = eta_all[st.rows]
        shift = float(eta.max())
        r = np.exp(eta - shift)
        # covariates along rows (p, n): the same products as r * x and rx x', transposed
        rx = r * xt
        rxx = rx[:, None, :] * xt[None, :, :]
        m = times.size
        s0, s1, s2 = (
            _tail_sums(w[..., st.stop_from :], st.stop_pick, st.scratch(w, "stop"))
            - _tail_sums(w[..., st.start_rows], st.start_pick, st.scratch(w, "start"))
            for w in (r, rx, rxx)
        )
        d0 = np.bincount(t_idx, weights=r[ev], minlength=m)
        d1, d2 = _per_time(t_idx, rx[:, ev], m), _per_time(t_idx, rxx[:, :, ev], m)

        score_t = st.xd.copy()
        info_t = np.zeros((m, p, p))
        loglik += float(eta_all[st.ev_rows].sum())
        if ties == "breslow":
            a = s1 / s0[:, None]
            score_t -= d[:, None] * a
            info_t += d[:, None, None] * (s2 / s0[:, None, None] - a[:, :, None] * a[:, None, :])
            loglik -= float((d * (np.log(s0) + shift)).sum())
        else:
            for k in range(int(d.max())):
                act = d > k
                f = k / d[act]
                den = s0[act] - f * d0[act]
                a = (s1[act] - f[:, None] * d1[act]) / den[:, None]
                b = (s2[act] - f[:, None, None] * d2[act]) / den[:, None, None]
                score_t[act] -= a
                info_t[act] += b - a[:, :, None] * a[:, None, :]
                loglik -= float((np.log(den) + shift).sum())
        times_l.append(times)
        score_l.append(score_t)
        info_l.append(info_t)
    if not times_l:
        zeros = (np.empty((0, p)), np.empty((0, p, p)))
        return _Derivs(0.0, np.zeros(p), np.zeros((p, p)), np.empty(0), *zeros)
    score_t = np.concatenate(score_l)
    info_t = np.concatenate(info_l)
    return _Derivs(
        loglik=loglik,
        score=score_t.sum(axis=0),
        info=info_t.sum(axis=0),
        times=np.concatenate(times_l),
        score_t=score_t,
        info_t=info_t,
    )


def _newton_raphson(data: _CoxData, ties: str) -> tuple[np.ndarray, _Derivs, _Derivs, int]:
    """Maximise the partial likelihood; returns beta, derivatives at beta and at 0, iterations."""
    p = data.x.shape[1]
    beta = np.zeros(p)
    null = current = _derivatives(beta, data, ties)
    for iteration in range(1, _MAX_ITER + 1):
        try:
            step = np.linalg.solve(current.info, current.score)
        except np.linalg.LinAlgError:
            raise CohortflowError(
                "Cox model refused: the information matrix is singular "
                "(collinear covariates or a covariate without information)"
            ) from None
        for _ in range(30):  # step halving, as R, when the likelihood gets worse
            trial = _derivatives(beta + step, data, ties)
            if np.isfinite(trial.loglik) and trial.loglik >= current.loglik - 1e-12 * abs(
                current.loglik
            ):
                break
            step = step / 2.0
        beta = beta + step
        current = trial
        if np.max(np.abs(step) / (1.0 + np.abs(beta))) < _STEP_TOL:
            return beta, current, null, iteration
    raise CohortflowError(
        f"Cox model did not converge in {_MAX_ITER} iterations (coefficients "
        f"{np.round(beta, 3).tolist()}): a hazard ratio is probably infinite (monotone "
        "likelihood, e.g. a covariate that perfectly separates events)"
    )


# --------------------------------------------------------------------------- PH test


def _km_left(start: np.ndarray, stop: np.ndarray, event: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Pooled Kaplan-Meier just before each ``at`` (risk set ``start < t <= stop``)."""
    times = np.unique(stop[event])
    o_stop, o_start = np.sort(stop), np.sort(start)
    n_risk = (stop.size - np.searchsorted(o_stop, times, side="left")) - (
        start.size - np.searchsorted(o_start, times, side="left")
    )
    deaths = np.bincount(np.searchsorted(times, stop[event]), minlength=times.size)
    surv = np.cumprod(1.0 - deaths / n_risk)
    idx = np.searchsorted(times, at, side="left")  # number of event times strictly before
    return np.concatenate(([1.0], surv))[idx]


def _ph_test(
    data: _CoxData, beta: np.ndarray, derivs: _Derivs, transform: str, names: Sequence[str]
) -> pd.DataFrame:
    """R ``cox.zph`` (survival 3.x): score tests for ``x * g(t)`` terms at the fitted beta."""
    stop = data.stop
    if transform == "km":
        ttimes = 1.0 - _km_left(data.start, stop, data.event, stop)
    elif transform == "identity":
        ttimes = stop.copy()
    elif transform == "rank":
        ttimes = stats.rankdata(stop, method="average")
    else:  # log
        with np.errstate(divide="ignore"):
            ttimes = np.log(stop)
    center = float(ttimes[data.event].mean())
    # g(t) at each (stratum, event time): every event row at t has it (the first one's taken)
    ev_times, first = np.unique(stop[data.event], return_index=True)
    g = (ttimes[data.event] - center)[first][np.searchsorted(ev_times, derivs.times)]
    p = beta.size
    u2 = (g[:, None] * derivs.score_t).sum(axis=0)
    i11 = derivs.info
    i12 = (g[:, None, None] * derivs.info_t).sum(axis=0)
    i22 = (g[:, None, None] ** 2 * derivs.info_t).sum(axis=0)
    full = np.block([[i11, i12], [i12.T, i22]])
    u = np.concatenate([np.zeros(p), u2])

    rows = []
    for j in range(p):
        kk = list(range(p)) + [p + j]
        chisq = float(u[kk] @ np.linalg.solve(full[np.ix_(kk, kk)], u[kk]))
        rows.append((names[j], chisq, 1, float(stats.chi2.sf(chisq, 1))))
    chisq = float(u @ np.linalg.solve(full, u))
    rows.append(("GLOBAL", chisq, p, float(stats.chi2.sf(chisq, p))))
    return pd.DataFrame(rows, columns=["term", "chisq", "df", "p"]).set_index("term")


# --------------------------------------------------------------------------- input checks


def _strata_codes(
    df: pd.DataFrame, strata: str | Sequence[str] | None
) -> tuple[np.ndarray, tuple[str, ...]]:
    if strata is None:
        return np.zeros(len(df), dtype=np.int64), ()
    cols = (strata,) if isinstance(strata, str) else tuple(strata)
    for c in cols:
        if c not in df.columns:
            raise ValueError(f"strata column {c!r} is not in the data")
        n_missing = int(df[c].isna().sum())
        if n_missing:
            raise ValueError(f"strata column {c!r} has {n_missing} missing value(s)")
    codes = df.groupby(list(cols), sort=True, dropna=False).ngroup().to_numpy(dtype=np.int64)
    return codes, cols


def _refusals(
    x: np.ndarray,
    event: np.ndarray,
    strata: np.ndarray,
    covariates: Sequence[str],
    min_events_per_parameter: float,
) -> None:
    """Raise ``CohortflowError`` when the model should not be fitted."""
    n_events = int(event.sum())
    refuse_few_events("Cox model", "events", n_events, len(covariates), min_events_per_parameter)
    for j, name in enumerate(covariates):
        col = x[:, j]
        varies = any(np.ptp(col[strata == s]) > 0 for s in np.unique(strata))
        if not varies:
            if np.unique(strata).size > 1:
                detail = "within any stratum"
            else:
                detail = f"(all {col.size} rows have the value {col[0]:g})"
            raise CohortflowError(
                f"Cox model refused: covariate {name!r} has no variation {detail}"
            )
        levels = np.unique(col)
        if levels.size == 2:
            for level in levels:
                in_level = col == level
                ev_level = int(event[in_level].sum())
                if ev_level == 0:
                    raise CohortflowError(
                        f"Cox model refused: covariate {name!r} = {level:g} has 0 events "
                        f"(in {int(in_level.sum())} rows; {n_events} events in total), "
                        "so its hazard ratio is not finite"
                    )


def _check_finite(
    beta: np.ndarray, fitted: _Derivs, sd: np.ndarray, covariates: Sequence[str]
) -> None:
    """Refuse estimates that run off to infinity (monotone likelihood)."""
    per_sd = np.abs(beta) * sd
    worst = int(np.argmax(per_sd))
    try:
        np.linalg.cholesky(fitted.info)
        positive_definite = True
    except np.linalg.LinAlgError:
        positive_definite = False
    if per_sd[worst] > _MAX_LOG_HR_PER_SD or not positive_definite or fitted.loglik > 0:
        raise CohortflowError(
            f"Cox model refused: the estimate for covariate {covariates[worst]!r} diverges "
            f"(log hazard ratio {beta[worst]:.3g}, {per_sd[worst]:.3g} per SD): the likelihood "
            "is monotone, e.g. a covariate perfectly separates early from late events, so a "
            "hazard ratio is not finite"
        )


# --------------------------------------------------------------------------- public


def fit_cox(
    df: pd.DataFrame,
    duration_col: str,
    event_col: str,
    covariates: list[str],
    ties: str = "efron",
    strata: str | Sequence[str] | None = None,
    min_events_per_parameter: float = 5,
    *,
    start_col: str | None = None,
    alpha: float = 0.05,
    ph_transform: str = "km",
) -> CoxResult:
    """Fit a Cox proportional-hazards model, or refuse to.

    ``duration_col`` is the follow-up (or, with ``start_col``, the interval stop) time,
    ``event_col`` 1 for an event and 0 for censoring; covariates must be numeric (code
    categories as 0/1 indicators). ``strata`` names one or more columns defining strata.

    Raises ``CohortflowError`` (see the module docstring) when the model is refused, with
    the counts in the message, and ``ValueError`` for invalid input: missing columns or
    values, non-numeric covariates, negative times, ``start >= stop``, event codes other than
    0/1, an unknown ``ties`` or ``ph_transform``, or ``alpha`` outside (0, 1).

    Parameters
    ----------
    df : one row per subject (or per interval with ``start_col``).
    duration_col, event_col : follow-up (stop) time and 1 = event / 0 = censored columns.
    covariates : numeric covariate columns.
    ties : ``"efron"`` (default, as R) or ``"breslow"``.
    strata : column(s) whose levels get their own baseline hazard.
    min_events_per_parameter : refuse below this many events per coefficient.
    start_col : interval start column (counting-process data).
    alpha : 1 - confidence level of the hazard-ratio intervals.
    ph_transform : time transform of the proportional-hazards test (as ``cox.zph``).

    Returns
    -------
    CoxResult
        ``table`` (``coef``, ``se``, ``hr``, ``lower``, ``upper``, ``z``, ``p`` per
        covariate), likelihood-ratio, score and Wald tests, and ``ph_test`` (``cox.zph``).

    R equivalent: ``survival::coxph(Surv(time, event) ~ covariates, ties = "efron")`` and
    ``cox.zph(fit, transform = "km")``.

    Example
    -------
    R's ``aml`` data: ``coxph`` prints coef 0.9155, se 0.5119, p = 0.0737; score test 3.42.

    >>> import pandas as pd
    >>> aml = pd.DataFrame({
    ...     "time": [9, 13, 13, 18, 23, 28, 31, 34, 45, 48, 161, 5, 5, 8, 8, 12, 16, 23, 27,
    ...              30, 33, 43, 45],
    ...     "status": [1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1],
    ...     "nonmaintained": [0] * 11 + [1] * 12,
    ... })
    >>> fit = fit_cox(aml, "time", "status", ["nonmaintained"], min_events_per_parameter=1)
    >>> [round(float(v), 4) for v in fit.table.loc["nonmaintained", ["coef", "se", "hr", "p"]]]
    [0.9155, 0.5119, 2.4981, 0.0737]
    >>> round(fit.score_chi2, 2), round(fit.lr_chi2, 2)
    (3.42, 3.38)
    """
    if ties not in TIES:
        raise ValueError(f"ties must be one of {TIES}, got {ties!r}")
    if ph_transform not in PH_TRANSFORMS:
        raise ValueError(f"ph_transform must be one of {PH_TRANSFORMS}, got {ph_transform!r}")
    covariates = model_arguments(df, covariates, alpha, min_events_per_parameter)
    start, stop, event = _intervals(df, duration_col, event_col, start_col)
    x = np.column_stack([numeric_column(df, c, "covariate") for c in covariates])
    codes, strata_cols = _strata_codes(df, strata)

    _refusals(x, event, codes, covariates, min_events_per_parameter)
    xc = x.copy()
    for s in np.unique(codes):
        rows = codes == s
        xc[rows] -= xc[rows].mean(axis=0)
    if np.linalg.matrix_rank(xc / xc.std(axis=0)) < len(covariates):  # scale-free
        raise CohortflowError(
            f"Cox model refused: the covariates {covariates} are collinear "
            "(one is a linear combination of the others)"
        )

    data = _CoxData(start=start, stop=stop, event=event, x=xc, strata=codes)
    beta, fitted, null, iterations = _newton_raphson(data, ties)
    _check_finite(beta, fitted, xc.std(axis=0), covariates)

    vcov = np.linalg.inv(fitted.info)
    table = coefficient_table(beta, np.sqrt(np.diag(vcov)), covariates, alpha, "hr")
    k = len(covariates)
    lr = 2.0 * (fitted.loglik - null.loglik)
    score = float(null.score @ np.linalg.solve(null.info, null.score))
    wald = float(beta @ fitted.info @ beta)
    return CoxResult(
        table=table,
        vcov=pd.DataFrame(vcov, index=covariates, columns=covariates),
        ties=ties,
        loglik_null=float(null.loglik),
        loglik=float(fitted.loglik),
        lr_chi2=float(lr),
        lr_p=float(stats.chi2.sf(lr, k)),
        score_chi2=score,
        score_p=float(stats.chi2.sf(score, k)),
        wald_chi2=wald,
        wald_p=float(stats.chi2.sf(wald, k)),
        df=k,
        ph_test=_ph_test(data, beta, fitted, ph_transform, covariates),
        ph_transform=ph_transform,
        n=int(len(df)),
        events=int(event.sum()),
        strata=strata_cols,
        counting_process=start_col is not None,
        iterations=iterations,
        alpha=float(alpha),
    )


def _intervals(
    df: pd.DataFrame, duration_col: str, event_col: str, start_col: str | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Checked (start, stop] intervals and 0/1 events of a Cox model (start -inf without
    ``start_col``)."""
    stop = numeric_column(df, duration_col, "duration")
    event_raw = numeric_column(df, event_col, "event")
    if not np.isin(event_raw, (0.0, 1.0)).all():
        bad = sorted(set(event_raw[~np.isin(event_raw, (0.0, 1.0))].tolist()))[:5]
        raise ValueError(f"event must be 0 (censored) or 1 (event), found {bad}")
    event = event_raw == 1.0
    if start_col is None:
        if (stop < 0).any():
            raise ValueError(f"duration contains {int((stop < 0).sum())} negative value(s)")
        start = np.full(stop.shape, -np.inf)
    else:
        start = numeric_column(df, start_col, "start")
        bad = int((start >= stop).sum())
        if bad:
            raise ValueError(f"{bad} row(s) have start >= stop; intervals must be (start, stop]")
    return start, stop, event


def score_test_at_zero(
    start: np.ndarray,
    stop: np.ndarray,
    event: np.ndarray,
    x: np.ndarray,
    strata: np.ndarray,
    ties: str,
) -> tuple[float, float]:
    """Score ``U`` and information ``I`` at beta = 0 for one covariate (Efron or Breslow).

    Counting-process rows ``(start, stop]`` with ``event`` (bool), covariate ``x``, integer
    ``strata`` codes (separate risk sets) and ``ties`` ``"efron"`` or ``"breslow"``; the score
    test statistic is ``U**2 / I``.

    R equivalent: ``coxph(Surv(start, stop, event) ~ x, init = 0, control =
    coxph.control(iter.max = 0))``: ``$score`` is ``U**2 / I``, ``U`` the sum of its score
    residuals.

    Example
    -------
    The ``simon_makuch`` example's counting-process rows: R gives U = -0.725 and score
    0.6621:

    >>> import numpy as np
    >>> start = np.array([0, 0, 1, 0, 0, 3, 0, 4, 0, 0, 3, 0, 5], dtype=float)
    >>> stop = np.array([2, 1, 3, 4, 3, 5, 4, 6, 7, 3, 8, 5, 9], dtype=float)
    >>> event = np.array([1, 0, 0, 1, 0, 1, 0, 0, 1, 0, 1, 0, 0]) == 1
    >>> x = np.array([0, 0, 1, 0, 0, 1, 0, 1, 0, 0, 1, 0, 1])
    >>> u, i = score_test_at_zero(start, stop, event, x, np.zeros(13, dtype=int), "efron")
    >>> round(u, 4), round(i, 4), round(u * u / i, 4)
    (-0.725, 0.7938, 0.6621)
    """
    xc = x.astype(float) - float(np.mean(x))
    data = _CoxData(start=start, stop=stop, event=event, x=xc[:, None], strata=strata)
    d = _derivatives(np.zeros(1), data, ties)
    return float(d.score[0]), float(d.info[0, 0])
