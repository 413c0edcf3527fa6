"""Time-dependent exposures, Cox models and competing risks for configured study analyses."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cohortflow.analyse.curves import (
    at_risk_table,
    curve_table,
    under_observation,
    year_times,
)
from cohortflow.core.defaults import Analysis, CifAnalysis, CoxModel, Grouping
from cohortflow.core.errors import CohortflowError
from cohortflow.core.expr import evaluate
from cohortflow.core.timescale import DAYS_PER_MONTH, DAYS_PER_YEAR
from cohortflow.stats.competing import cif_at, cumulative_incidence, gray_test
from cohortflow.stats.cox import fit_cox
from cohortflow.stats.logrank import mantel_byar, split_at_exposure
from cohortflow.stats.survival import survival_at
from cohortflow.stats.timedep import (
    LandmarkData,
    SimonMakuchCurve,
    curve_at,
    landmark,
    landmark_compare,
    simon_makuch,
)

log = logging.getLogger("cohortflow")
#: Follow-up of 0 days is moved to half a day for counting-process methods (as R's jasa1).
ZERO_TIME = 0.5


def exposure_days(data: pd.DataFrame, exposure_col: str, origin_col: str) -> np.ndarray:
    """Days from the endpoint's origin to the exposure (NaN when never exposed)."""
    d = (pd.to_datetime(data[exposure_col]) - pd.to_datetime(data[origin_col])).dt.days
    return d.astype(float).to_numpy()


def curve_rows(
    head: dict[str, Any],
    at: pd.DataFrame,
    times_y: list[float],
    ci: str,
    group: dict[str, Any],
) -> list[dict[str, Any]]:
    """survival.csv rows of one curve at ``times_y`` (``at``: its estimates there): ``head``
    (analysis, endpoint, origin, subset) and ``group`` (stratum, n, total_events) before the
    numbers."""
    return [
        {
            **head,
            **group,
            "time_years": y,
            "time_days": row["time"],
            "n_risk": int(row["n_risk"]),
            "events": int(row["events"]),
            "estimate": row["survival"],
            "se": row["se"],
            "lower": row["lower"],
            "upper": row["upper"],
            "ci_method": ci,
            "ci_level": 0.95,
            "published_estimate": np.nan,
            "published_se": np.nan,
        }
        for y, row in zip(times_y, at.to_dict("records"), strict=True)
    ]


@dataclass
class TimedepResult:
    """What the time-dependent analyses of one analysis computed: its survival.csv and
    tests.csv rows, the Kaplan-Meier curves of its landmark data sets (curve tables,
    ``analyse.curves``), and for ``timedep_curves`` to tabulate: the patients' ``study_id``
    and times, the landmark data set per landmark (months) and the Simon-Makuch curves."""

    analysis: str
    study_id: np.ndarray
    time: np.ndarray
    survival: list[dict[str, Any]] = field(default_factory=list)
    tests: list[dict[str, Any]] = field(default_factory=list)
    curves: list[pd.DataFrame] = field(default_factory=list)
    landmarks: list[tuple[float, LandmarkData]] = field(default_factory=list)
    simon_makuch: dict[str, SimonMakuchCurve] = field(default_factory=dict)


def _landmark(
    months: float,
    data: tuple[np.ndarray, np.ndarray, np.ndarray],
    base: dict[str, Any],
    endpoint: dict[str, Any],
    a: dict[str, Any],
    names: list[str],
    result: TimedepResult,
) -> None:
    """survival.csv and tests.csv rows, data set and curves of the landmark analysis at
    ``months``, added to ``result``."""
    t, e, x = data
    cfg = Analysis.of(a)
    times = [y * DAYS_PER_YEAR for y in cfg.time_points_years]
    ld = landmark(t, e, x, months * DAYS_PER_MONTH)
    result.landmarks.append((months, ld))
    comp = landmark_compare(ld, ci_method=cfg.ci_method)
    head = {
        **base,
        "analysis": f"{base['analysis']}_landmark_{months:g}m",
        "endpoint_label": f"{endpoint['label']} from the {months:g}-month landmark",
        "origin": f"{endpoint['origin']} + {months:g} months",
        "subset": f"alive and event-free at {months:g} months",
    }
    lt = ld.table["time"].to_numpy(float)
    at_years = year_times(float(lt.max(initial=0.0)))
    for key, lab in (("exposed", names[0]), ("unexposed", names[1])):
        if key not in comp.km:
            continue
        km = comp.km[key]
        group = {"stratum": f"{lab} by {months:g} months", "n": comp.n[key]}
        group["total_events"] = km.events
        at = survival_at(km, times)
        result.survival += curve_rows(head, at, cfg.time_points_years, cfg.ci_method, group)
        curve = dict(analysis=head["analysis"], kind="km", group=key, cause=None)
        curve.update(n=km.n, events=km.events)
        counts = under_observation(lt[(ld.table["group"] == key).to_numpy()], at_years)
        result.curves.append(curve_table(curve, km, at_years, counts))
    if comp.logrank is not None:
        result.tests.append(
            {
                **base,
                "analysis": head["analysis"],
                "test": f"log-rank at the {months:g}-month landmark",
                "groups": ";".join(names),
                "chi2": comp.logrank.chi2,
                "df": comp.logrank.df,
                "p": comp.logrank.p,
                "published_p": np.nan,
                "note": f"{ld.n_excluded} patients with an event or censoring "
                f"before {months:g} months excluded; {ld.n_exposed_later} "
                "exposed later analysed as unexposed",
            }
        )


def time_dependent(
    data: pd.DataFrame,
    a: dict[str, Any],
    grouping: dict[str, Any],
    endpoint: dict[str, Any],
    label: str,
) -> TimedepResult:
    """Mantel-Byar test, landmark analyses and Simon-Makuch estimates for an exposure that
    happens after the time origin (e.g. HSCT): rows for survival.csv and tests.csv, the
    landmark curves for figures, and the landmark data sets and Simon-Makuch curves that
    ``timedep_curves`` tabulates (computed once, here)."""
    exp_col = grouping["time_dependent"]
    t = data["AVAL"].to_numpy(float)
    e = (data["CNSR"] == 0).to_numpy(int)
    x = exposure_days(data, exp_col, endpoint["origin"])
    names = Grouping.of(grouping).exposure_labels
    cfg = Analysis.of(a)
    result = TimedepResult(a["id"], data["study_id"].to_numpy(), t)
    surv, tests = result.survival, result.tests
    times_y = cfg.time_points_years
    ci = cfg.ci_method
    tt = np.where(t <= 0, ZERO_TIME, t)
    cp = split_at_exposure(pd.DataFrame({"time": tt, "event": e, "x": x}), "time", "event", "x")
    mb = mantel_byar(cp["start"], cp["stop"], cp["event"], cp["exposed"], method="efron")
    base = dict(data_label=label, analysis=a["id"], endpoint=a["endpoint"], grouping=cfg.by)
    tests.append(
        {
            **base,
            "test": "Mantel-Byar (score test, time-dependent exposure, Efron)",
            "groups": ";".join(names),
            "chi2": mb.statistic,
            "df": mb.df,
            "p": mb.p,
            "published_p": np.nan,
            "note": f"exposure {exp_col} as a time-dependent covariate; no immortal-time bias",
        }
    )
    for months in cfg.landmarks_months:
        _landmark(months, (t, e, x), base, endpoint, a, names, result)
    sm = simon_makuch(t, e, x, ci_method=ci)
    result.simon_makuch = sm
    head = {
        **base,
        "analysis": f"{a['id']}_simon_makuch",
        "endpoint_label": endpoint["label"],
        "origin": endpoint["origin"],
        "subset": "Simon-Makuch (time-dependent risk sets)",
    }
    for key, lab in (("exposed", names[0]), ("unexposed", names[1])):
        curve = sm[key]
        at = curve_at(curve, [y * DAYS_PER_YEAR for y in times_y])
        group = {"stratum": lab, "n": curve.n, "total_events": curve.events}
        surv += curve_rows(head, at, times_y, ci, group)
    return result


def design(data: pd.DataFrame, covariates: list[dict[str, Any]]) -> tuple[pd.DataFrame, int]:
    """Numeric covariate columns (expressions as 0/1) for complete cases, and rows dropped."""
    cols = {}
    known = pd.Series(True, index=data.index)
    for c in covariates:
        if "expr" in c:
            r = evaluate(c["expr"], data)
            cols[c["label"]] = r.value.astype(float)
            known &= r.known
        else:
            v = pd.to_numeric(data[c["variable"]], errors="coerce").astype(float)
            cols[c["label"]] = v
            known &= v.notna()
    x = pd.DataFrame(cols, index=data.index)
    return x[known], int((~known).sum())


def cox_model(
    data: pd.DataFrame, model: dict[str, Any], endpoint: dict[str, Any], label: str
) -> list[dict[str, Any]]:
    """Rows of cox.csv for one configured model: fitted coefficients, or the refusal."""
    cfg = CoxModel.of(model)
    x, dropped = design(data, cfg.covariates)
    d = pd.concat([x, data.loc[x.index, ["AVAL", "CNSR"]]], axis=1)
    d["time"] = np.where(d["AVAL"] <= 0, ZERO_TIME, d["AVAL"])
    d["event"] = (d["CNSR"] == 0).astype(int)
    covs = list(x.columns)
    start = None
    if "ENTRY" in data:  # delayed entry: risk sets (entry, exit]
        if cfg.time_dependent:
            raise CohortflowError(
                f"Cox model {model['id']}: time-dependent covariates cannot be combined with "
                "delayed entry"
            )
        d["entry"] = data.loc[d.index, "ENTRY"].to_numpy(float)
        start = "entry"
    for td in cfg.time_dependent:
        d["_x"] = exposure_days(data.loc[d.index], td["date"], endpoint["origin"])
        d = split_at_exposure(d.drop(columns=["AVAL", "CNSR"]), "time", "event", "_x")
        d = d.rename(columns={"exposed": td["label"]}).drop(columns=["_x"], errors="ignore")
        d["time"] = d["stop"]
        covs.append(td["label"])
        start = "start"
    base = {
        "data_label": label,
        "model": model["id"],
        "title": model["title"],
        "endpoint": model["endpoint"],
        "n_dropped_missing": dropped,
    }
    try:
        res = fit_cox(
            d,
            "time",
            "event",
            covs,
            ties=cfg.ties,
            min_events_per_parameter=cfg.min_events_per_parameter,
            start_col=start,
        )
    except CohortflowError as exc:
        log.warning("Cox model %s refused: %s", model["id"], exc)
        reason = str(exc).removeprefix("Cox model refused: ")
        return [{**base, "covariate": "", "status": f"refused: {reason}"}]
    rows = []
    for cov, r in res.table.iterrows():
        ph = res.ph_test.loc[cov, "p"] if cov in res.ph_test.index else np.nan
        rows.append(
            {
                **base,
                "covariate": cov,
                "status": "fitted",
                "coef": r["coef"],
                "se": r["se"],
                "hr": r["hr"],
                "lower": r["lower"],
                "upper": r["upper"],
                "p": r["p"],
                "n": int(data.loc[x.index].shape[0]),
                "events": int(res.events),
                "ties": res.ties,
                "ph_p": ph,
                "ph_global_p": res.ph_test.loc["GLOBAL", "p"],
                "lr_chi2": res.lr_chi2,
                "lr_p": res.lr_p,
            }
        )
    return rows


def competing(
    data: pd.DataFrame,
    a: dict[str, Any],
    strata_labels: pd.Series,
    order: list[str],
    endpoint: dict[str, Any],
    label: str,
) -> dict[str, Any]:
    """Cumulative incidence of the event and of the competing event per stratum, and Gray's
    test of each (cause 1 and 2) when there are two or more strata: rows of cif.csv
    (``cif``) and tests.csv (``tests``), and the curves of the figure (``curves``: each
    stratum's two curves, then its numbers under observation each year)."""
    cfg = CifAnalysis.of(a)
    times_y = cfg.time_points_years
    et = data["EVENTTYPE"].fillna(0).astype(int).to_numpy()
    t = data["AVAL"].to_numpy(float)
    entry = data["ENTRY"].to_numpy(float) if "ENTRY" in data else None
    names = {1: endpoint["events"][0]["description"], 2: endpoint["competing"][0]["description"]}
    at_risk = year_times(float(np.nanmax(t)) if len(t) else 0.0)
    rows, tests, curves = [], [], []
    for s in order:
        m = (strata_labels == s).to_numpy()
        key = dict(analysis=a["id"], kind="cif", group=s, n=int(m.sum()))
        for cause in (1, 2):
            res = cumulative_incidence(
                t[m], et[m], cause=cause, entry=None if entry is None else entry[m]
            )
            events = int((et[m] == cause).sum())
            curves.append(curve_table(dict(key, cause=cause, events=events), res))
            at = cif_at(res, [y * DAYS_PER_YEAR for y in times_y])
            for y, r in zip(times_y, at.to_dict("records"), strict=True):
                rows.append(
                    {
                        "data_label": label,
                        "analysis": a["id"],
                        "endpoint": a["endpoint"],
                        "stratum": s,
                        "cause": cause,
                        "cause_label": names[cause],
                        "n": int(m.sum()),
                        "time_years": y,
                        "time_days": r["time"],
                        "n_risk": int(r.get("n_risk", 0)) if "n_risk" in r else np.nan,
                        "cif": r["cif"],
                        "se": r["se"],
                        "lower": r["lower"],
                        "upper": r["upper"],
                        "ci_method": res.ci_method,
                    }
                )
        counts = under_observation(t[m], at_risk, None if entry is None else entry[m])
        curves.append(at_risk_table(dict(key, cause=None, events=None), at_risk, counts))
    valid = [s for s in order if s not in ("unknown", "unclassifiable")]
    if len(valid) >= 2 and entry is None:  # Gray's test has no delayed-entry form
        m = strata_labels.isin(valid).to_numpy()
        for cause in (1, 2):  # Gray's test per cause, each labelled with its cause
            g = gray_test(t[m], et[m], strata_labels[m].to_numpy(object), cause=cause)
            tests.append(
                {
                    "data_label": label,
                    "analysis": a["id"],
                    "endpoint": a["endpoint"],
                    "grouping": cfg.by,
                    "test": f"Gray (cumulative incidence, {names[cause]})",
                    "groups": ";".join(valid),
                    "chi2": g.statistic,
                    "df": g.df,
                    "p": g.p,
                    "published_p": np.nan,
                    "note": "",
                }
            )
    return {"cif": rows, "tests": tests, "curves": curves}
