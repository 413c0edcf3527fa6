"""Configured RMST comparisons, weighted log-rank tests, Fine-Gray models and delayed entry.

The study-level wiring of :mod:`cohortflow.stats.rmst`, :mod:`cohortflow.stats.wlogrank` and
:mod:`cohortflow.stats.finegray`: each function turns one configured analysis into rows of the
machine-readable outputs (``analyse/rmst.csv``, ``tests.csv``, ``cox.csv``).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from cohortflow.analyse.adapters import design
from cohortflow.core.defaults import Analysis, Endpoint, FineGray, LogrankWeight, Rmst
from cohortflow.core.errors import CohortflowError
from cohortflow.core.timescale import DAYS_PER_MONTH, DAYS_PER_YEAR
from cohortflow.stats.finegray import fit_fine_gray
from cohortflow.stats.rmst import compare_rmst, restricted_mean
from cohortflow.stats.wlogrank import weighted_logrank

log = logging.getLogger("cohortflow")
#: fewer subjects at risk than this where an estimate is printed gets a warning (delayed entry)
MIN_AT_RISK = 10

RMST_COLUMNS = [
    "data_label",
    "study",
    "analysis",
    "endpoint",
    "grouping",
    "kind",
    "stratum",
    "tau_years",
    "n",
    "events",
    "estimate_days",
    "se_days",
    "lower_days",
    "upper_days",
    "estimate",
    "lower",
    "upper",
    "unit",
    "p",
    "status",
    "note",
]


def _unit(a: dict[str, Any]) -> tuple[str, float]:
    unit = Analysis.of(a).time_unit
    return unit, {"months": DAYS_PER_MONTH, "years": DAYS_PER_YEAR}[unit]


#: Times, events and group labels of an analysis's patients.
_Arrays = tuple[np.ndarray, np.ndarray, np.ndarray]
#: A row of a CSV output (or a config section).
_Row = dict[str, Any]


def _estimated(
    row0: dict[str, Any], where: tuple[str, str, int, int], days: tuple[float, ...], scale: float
) -> dict[str, Any]:
    """An estimated rmst.csv row: ``where`` = (kind, stratum, n, events), ``days`` =
    (estimate, SE, lower, upper) in days, also given in the analysis's unit (``scale`` days)."""
    kind, stratum, n, events = where
    est, se, lower, upper = days
    return {
        **row0,
        "kind": kind,
        "stratum": stratum,
        "n": n,
        "events": events,
        "estimate_days": est,
        "se_days": se,
        "lower_days": lower,
        "upper_days": upper,
        "estimate": est / scale,
        "lower": lower / scale,
        "upper": upper / scale,
        "status": "estimated",
        "note": "",
    }


def _rmst_groups(data: _Arrays, groups: list[str], spec: _Row, row0: _Row) -> list[_Row]:
    """rmst.csv rows of each group (``data``: times, events, group labels): the estimate, or
    the refusal of a horizon beyond the group's follow-up."""
    t, e, lab = data
    tau, scale, extend = spec["tau"], spec["scale"], spec["extend"]
    rows: list[dict[str, Any]] = []
    for g in groups:
        m = lab == g
        try:
            r = restricted_mean(t[m], e[m], tau, extend=extend)
        except ValueError as exc:
            rows.append(
                {
                    **row0,
                    "kind": "group",
                    "stratum": g,
                    "n": int(m.sum()),
                    "events": int(e[m].sum()),
                    "status": "refused: horizon beyond follow-up",
                    "note": f"{exc}. Choose a smaller tau_years or set extend: true.",
                }
            )
            continue
        row = _estimated(row0, ("group", g, r.n, r.events), (r.rmst, r.se, r.lower, r.upper), scale)
        row["note"] = "curve carried forward past the last follow-up" if r.extended else ""
        rows.append(row)
    return rows


def _rmst_comparisons(data: _Arrays, ok: list[str], spec: _Row, row0: _Row) -> list[_Row]:
    """rmst.csv rows comparing each later estimated group (``ok``) with the first: difference
    and ratio with CI and P."""
    t, e, lab = data
    rows = []
    for other in ok[1:]:
        m = np.isin(lab, [ok[0], other])
        c = compare_rmst(
            t[m], e[m], lab[m], spec["tau"], order=[other, ok[0]], extend=spec["extend"]
        )
        n, events = int(m.sum()), int(e[m].sum())
        days = (c.difference, c.diff_se, c.diff_lower, c.diff_upper)
        diff = _estimated(
            row0, ("difference", f"{other} - {ok[0]}", n, events), days, spec["scale"]
        )
        rows.append({**diff, "p": c.diff_p})
        rows.append(
            {
                **row0,
                "kind": "ratio",
                "stratum": f"{other} / {ok[0]}",
                "n": n,
                "events": events,
                "estimate": c.ratio,
                "lower": c.ratio_lower,
                "upper": c.ratio_upper,
                "unit": "ratio",
                "p": c.ratio_p,
                "status": "estimated",
                "note": "",
            }
        )
    return rows


def rmst_rows(
    data: pd.DataFrame,
    labels: pd.Series,
    groups: list[str],
    a: dict[str, Any],
    grouping: dict[str, Any] | None,
    base: dict[str, Any],
) -> list[dict[str, Any]]:
    """Rows of rmst.csv for an analysis with ``rmst: {tau_years: ...}``.

    Per group: RMST with SE and 95 % CI; with two or more groups, each later group against the
    first (difference and ratio, with CI and P). Refused with an explanation (``status``) for a
    grouping by an exposure after the time origin (immortal time) or a horizon beyond a group's
    follow-up (unless ``extend: true``).
    """
    spec = a["rmst"]
    tau_y = float(spec["tau_years"])
    unit, scale = _unit(a)
    row0 = {**base, "tau_years": tau_y, "unit": unit}
    if grouping and grouping.get("time_dependent"):
        return [
            {
                **row0,
                "kind": "refused",
                "stratum": ";".join(groups),
                "status": "refused: time-dependent grouping",
                "note": f"RMST is not compared by {a['by']}: {grouping['time_dependent']} "
                "happens after the time origin, so a plain RMST comparison credits the exposed "
                "group with the time its patients had to survive to be exposed (immortal-time "
                "bias), exactly as a naive Kaplan-Meier comparison does. See the Mantel-Byar "
                "test, landmark and Simon-Makuch analyses instead.",
            }
        ]
    t = data["AVAL"].to_numpy(float)
    e = (data["CNSR"] == 0).to_numpy(int)
    lab = labels.to_numpy(object)
    how = {"tau": tau_y * DAYS_PER_YEAR, "scale": scale, "extend": bool(Rmst.of(spec).extend)}
    rows = _rmst_groups((t, e, lab), groups, how, row0)
    ok = [r["stratum"] for r in rows if r["status"] == "estimated"]
    return rows + _rmst_comparisons((t, e, lab), ok, how, row0)


def weighted_tests(
    data: pd.DataFrame,
    labels: pd.Series,
    groups: list[str],
    a: dict[str, Any],
    base: dict[str, Any],
    published_p: float,
) -> list[dict[str, Any]]:
    """tests.csv rows for ``logrank_weights`` (names or ``{weights, rho, gamma}``), labelled by
    name, with the published P beside each (the paper may not say which test it used)."""
    m = labels.isin(groups).to_numpy()
    t = data.loc[m, "AVAL"].to_numpy(float)
    e = (data.loc[m, "CNSR"] == 0).to_numpy(int)
    g = labels[m].to_numpy(object)
    entry = data.loc[m, "ENTRY"].to_numpy(float) if "ENTRY" in data else None
    rows = []
    for spec in Analysis.of(a).logrank_weights:
        spec = {"weights": spec} if isinstance(spec, str) else spec
        fh = LogrankWeight.of(spec)
        res = weighted_logrank(
            t,
            e,
            g,
            spec["weights"],
            rho=float(fh.rho),
            gamma=float(fh.gamma),
            entry=entry,
        )
        rows.append(
            {
                **base,
                "test": res.label,
                "groups": ";".join(groups),
                "chi2": res.chi2,
                "df": res.df,
                "p": res.p,
                "published_p": published_p,
                "note": "weighted log-rank; the published P does not say which test it is",
            }
        )
    return rows


def entry_days(data: pd.DataFrame, endpoint: dict[str, Any], analysis: str) -> pd.DataFrame:
    """Add ``ENTRY`` (days from the origin to the endpoint's ``entry`` date, 0 if before it).

    Patients without an entry date, or whose event or censoring is on or before entry (a
    finding: an event cannot precede study entry), are left out with a warning that counts
    them; the rest are at risk on (ENTRY, AVAL].
    """
    if not Endpoint.of(endpoint).entry:
        return data
    col = endpoint["entry"]
    if col not in data.columns:
        raise CohortflowError(
            f"analysis {analysis}: the endpoint's entry column {col!r} is not in the data"
        )
    days = (pd.to_datetime(data[col]) - pd.to_datetime(data[endpoint["origin"]])).dt.days
    entry = days.astype(float).clip(lower=0)
    missing = entry.isna()
    before = ~missing & (data["AVAL"] <= entry)
    if missing.any():
        log.warning(
            "analysis %s: %d patient(s) without %s left out (delayed entry needs it)",
            analysis,
            int(missing.sum()),
            col,
        )
    if before.any():
        log.warning(
            "analysis %s: FINDING: %d patient(s) have their event or censoring on or before "
            "%s (entry); left out: %s",
            analysis,
            int(before.sum()),
            col,
            ", ".join(map(str, data.loc[before, "study_id"])),
        )
    keep = ~missing & ~before
    return data[keep].assign(ENTRY=entry[keep]).reset_index(drop=True)


def small_risk_sets(km: Any, times: list[float]) -> int:
    """Smallest number at risk at an event time up to the last of ``times`` (delayed entry)."""
    tab = km.table
    ev = tab[(tab["n_event"] > 0) & (tab["time"] <= max(times))]
    return int(ev["n_risk"].min()) if len(ev) else int(tab["n_risk"].iloc[0])


def fine_gray_rows(
    data: pd.DataFrame, a: dict[str, Any], endpoint: dict[str, Any], label: str
) -> list[dict[str, Any]]:
    """cox.csv rows (``method`` fine-gray) for ``fine_gray:`` on a competing-risks analysis:
    subdistribution hazard ratios of the endpoint's event, or the refusal with its reason."""
    spec = a["fine_gray"]
    fg = FineGray.of(spec)
    x, dropped = design(data, spec["covariates"])
    d = pd.concat([x, data.loc[x.index, ["AVAL", "EVENTTYPE"]]], axis=1)
    d["status"] = d["EVENTTYPE"].fillna(0).astype(int)
    event_name = endpoint["events"][0]["description"]
    base = {
        "data_label": label,
        "model": f"{a['id']}_fine_gray",
        "title": fg.title or f"{endpoint['label']}: Fine-Gray model for {event_name.lower()}",
        "endpoint": a["endpoint"],
        "n_dropped_missing": dropped,
        "method": "fine-gray",
        "ties": "breslow",
    }
    try:
        res = fit_fine_gray(
            d,
            "AVAL",
            "status",
            list(x.columns),
            cause=1,
            min_events_per_parameter=fg.min_events_per_parameter,
        )
    except CohortflowError as exc:
        log.warning("Fine-Gray model %s refused: %s", base["model"], exc)
        reason = str(exc).removeprefix("Fine-Gray model refused: ")
        comps = Endpoint.of(endpoint).competing
        comp_name = comps[0]["description"] if comps else "competing events"
        counts = (
            f" ({len(d)} patients: {int((d['status'] == 1).sum())} {event_name.lower()}, "
            f"{int((d['status'] == 2).sum())} {comp_name.lower()}, "
            f"{int((d['status'] == 0).sum())} censored)"
        )
        note = f" {fg.refusal_note}" if fg.refusal_note else ""
        return [{**base, "covariate": "", "status": f"refused: {reason}{counts}.{note}"}]
    return [
        {
            **base,
            "covariate": cov,
            "status": "fitted",
            "coef": r["coef"],
            "se": r["se"],
            "hr": r["shr"],
            "lower": r["lower"],
            "upper": r["upper"],
            "p": r["p"],
            "n": res.n,
            "events": res.events,
            "lr_chi2": res.lr_chi2,
            "lr_p": res.lr_p,
        }
        for cov, r in res.table.iterrows()
    ]
