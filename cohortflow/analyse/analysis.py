"""Study-level analysis: risk groups, eligibility flow, endpoints and Kaplan-Meier summaries."""

from __future__ import annotations

import logging
import re
from typing import Any

import numpy as np
import pandas as pd

from cohortflow.analyse.adapters import TimedepResult, competing, cox_model, time_dependent
from cohortflow.analyse.curves import curve_table, curves_frame, under_observation, year_times
from cohortflow.analyse.eligibility import eligibility, flow_table
from cohortflow.analyse.endpoints import derive
from cohortflow.analyse.outputs import SMALL_RISK_SET_TEST
from cohortflow.analyse.responses import best_response, response_counts, response_rates
from cohortflow.analyse.survmethods import (
    MIN_AT_RISK,
    RMST_COLUMNS,
    entry_days,
    fine_gray_rows,
    rmst_rows,
    small_risk_sets,
    weighted_tests,
)
from cohortflow.analyse.timedep_curves import timedep_curves
from cohortflow.classify.groupings import strata
from cohortflow.classify.schemes import UNCLASSIFIABLE
from cohortflow.core.aside import Aside
from cohortflow.core.defaults import Analysis, CifAnalysis, Endpoint, Responses, Study
from cohortflow.core.errors import CohortflowError
from cohortflow.core.expr import evaluate
from cohortflow.core.timescale import DAYS_PER_YEAR
from cohortflow.stats.logrank import stratified_logrank, trend_test
from cohortflow.stats.survival import kaplan_meier, logrank_test, median_survival, survival_at
from cohortflow.stats.wlogrank import weighted_logrank

log = logging.getLogger("cohortflow")


def build_cohort(
    patients: pd.DataFrame,
    risk: pd.DataFrame,
    rules: dict[str, Any],
    responses: pd.DataFrame | None = None,
    response_order: list[str] | None = None,
) -> pd.DataFrame:
    """Patients with one ``risk_<scheme>`` column per scheme, best response and eligibility."""
    df = patients.copy()
    ids = pd.Index(df["study_id"])  # hashed once for every join below
    if responses is not None:
        best = best_response(responses, response_order).rename("best_response")
        df = _join(df, best.rename_axis("study_id").reset_index(), ids)
    for scheme, g in risk.groupby("scheme", sort=True):
        g = g[["study_id", "group"]].rename(columns={"group": f"risk_{scheme}"})
        df = _join(df, g, ids)
    elig = eligibility(df, rules)
    return _join(df, elig.drop(columns=["site"]), ids)


def _join(df: pd.DataFrame, right: pd.DataFrame, ids: pd.Index) -> pd.DataFrame:
    """``df.merge(right, on="study_id", how="left")`` (``ids``: ``df``'s study IDs); when
    both sides' study IDs are unique (always, in a merged study), by adding ``right``'s
    columns to ``df`` in place instead of copying every column of ``df`` (a 54-column,
    1,000,000-row copy per join), row for row when ``right`` lists the same IDs in the same
    order (eligibility, risk groups)."""
    keys, new = df["study_id"], [c for c in right.columns if c != "study_id"]
    if ids.hasnans or not ids.is_unique or set(new) & set(df.columns):
        return df.merge(right, on="study_id", how="left")
    theirs = right["study_id"]
    if len(theirs) == len(ids) and np.array_equal(theirs.to_numpy(object), ids.to_numpy(object)):
        aligned = right.reset_index(drop=True)
    elif theirs.is_unique:
        aligned = right.set_index("study_id").reindex(ids.to_numpy())
    else:
        return df.merge(right, on="study_id", how="left")
    for col in new:
        df[col] = aligned[col].array
    if theirs.dtype != keys.dtype:  # as merge: keys of two dtypes become objects
        df["study_id"] = keys.astype(object)
    return df


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
ALWAYS_READ = (
    "study_id",
    "site",
    "eligible",
    "analysed",
    "best_response",
    # the cohort columns build_cohort adds (a patient column so named is read, as merge
    # would see it)
    "failed_criteria",
    "exclusion_reason",
    "not_analysed_reason",
)


def columns_read(study: dict[str, Any], columns: list[str]) -> list[str]:
    """The cohort ``columns`` an analysis of ``study`` can read: every column whose name is a
    word anywhere in the study definition (expressions, endpoint dates, groupings,
    covariates, ...), the risk groups and ``ALWAYS_READ``, in ``columns``' order. A superset:
    a word in a title keeps a column it does not need, never the other way round."""
    words: set[str] = set()
    todo: list[Any] = [study]
    while todo:
        v = todo.pop()
        if isinstance(v, str):
            words.update(_WORD.findall(v))
        elif isinstance(v, dict):
            todo += [*v.keys(), *v.values()]
        elif isinstance(v, list | tuple):
            todo += list(v)
    return [c for c in columns if c in words or c in ALWAYS_READ or c.startswith("risk_")]


TEST_COLUMNS = [
    "data_label",
    "study",
    "analysis",
    "endpoint",
    "grouping",
    "test",
    "groups",
    "chi2",
    "df",
    "p",
    "published_p",
    "note",
    "primary",
]


def primary_test(analysis: dict[str, Any]) -> str:
    """Name (as in ``tests.csv``) of an analysis's primary test: the one its title names
    and its figure legend prints. Configured by ``primary_test`` (log-rank, stratified,
    trend); by default the stratified test when ``stratify_by`` is set, else the trend
    test when ``trend`` is true, else the unweighted log-rank test."""
    cfg = Analysis.of(analysis)
    kind = cfg.primary_test or (
        "stratified" if cfg.stratify_by else "trend" if cfg.trend else "log-rank"
    )
    if kind == "stratified":
        return f"log-rank stratified by {cfg.stratify_by or 'site'}"
    if kind == "trend":
        return TREND_TEST
    return "log-rank (unweighted)"


TREND_TEST = "log-rank test for trend (scores 1, 2, ... in group order)"
COX_COLUMNS = [
    "data_label",
    "model",
    "title",
    "endpoint",
    "covariate",
    "status",
    "coef",
    "se",
    "hr",
    "lower",
    "upper",
    "p",
    "n",
    "events",
    "ties",
    "ph_p",
    "ph_global_p",
    "lr_chi2",
    "lr_p",
    "n_dropped_missing",
    "method",
]
CIF_COLUMNS = [
    "data_label",
    "analysis",
    "endpoint",
    "stratum",
    "cause",
    "cause_label",
    "n",
    "time_years",
    "time_days",
    "n_risk",
    "cif",
    "se",
    "lower",
    "upper",
    "ci_method",
]


def _mark_primary(tests: pd.DataFrame, study: dict[str, Any]) -> pd.DataFrame:
    """``primary`` = the test is its analysis's primary test (see ``primary_test``); for
    derived analyses (landmarks, competing risks, Mantel-Byar) every computed test is."""
    configured = {a["id"]: primary_test(a) for a in study["analyses"]}
    name = tests["analysis"].map(configured)
    derived = tests["test"].astype(str).str.match(r"log-rank \(unweighted\)|Gray|Mantel")
    tests["primary"] = np.where(name.notna(), tests["test"] == name, derived) & tests["p"].notna()
    return tests


EP_COLS = ["AVAL", "CNSR", "EVENTTYPE"]


def endpoint_data(analysed: pd.DataFrame, adtte: pd.DataFrame, code: str) -> pd.DataFrame:
    """Analysed patients with the endpoint's AVAL, CNSR and EVENTTYPE (usable times only)."""
    rows = adtte[adtte["PARAMCD"] == code][["study_id", *EP_COLS]]
    return usable_times(_join(analysed.copy(), rows, pd.Index(analysed["study_id"])))


def usable_times(d: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``d`` with a usable time (AVAL known and not negative)."""
    return d[d["AVAL"].notna() & (d["AVAL"] >= 0)].reset_index(drop=True)


class EndpointRows:
    """The ADTTE rows of every endpoint, each derived from (row for row) the analysed
    patients, joined back to them as ``analysed.merge(rows, on="study_id", how="left")``
    would, by position (``_join``: the study IDs hashed once, not per analysis)."""

    def __init__(self, analysed: pd.DataFrame, frames: dict[str, pd.DataFrame]) -> None:
        self.analysed, self.frames = analysed, frames
        self.ids = pd.Index(analysed["study_id"])

    @property
    def by_position(self) -> bool:
        """Whether the joins go by position (unique study IDs), not through merge."""
        return bool(self.ids.is_unique and not self.ids.hasnans)

    def join(self, code: str, cols: list[str]) -> pd.DataFrame:
        """The analysed patients with the endpoint's ``cols``."""
        rows = self.frames[code][["study_id", *cols]]
        return _join(self.analysed.copy(), rows, self.ids)


def test_row(base: dict[str, Any], test: str, groups: str, **values: Any) -> dict[str, Any]:
    """A tests.csv row: ``base`` (data label, study, analysis, endpoint, grouping), the test's
    name and groups, and its ``chi2``, ``df``, ``p``, ``published_p`` and ``note`` (missing
    ones NaN, the note empty)."""
    row = dict(base, test=test, groups=groups, chi2=np.nan, df=np.nan, p=np.nan)
    return {**row, "published_p": np.nan, "note": "", **values}


class _Rows:
    """The rows every analysis adds to: survival, strata, tests and RMST; the curves its
    figures draw; the time-dependent analyses' results (tabulated by ``timedep_curves``)."""

    def __init__(self) -> None:
        self.survival: list[dict[str, Any]] = []
        self.strata: list[dict[str, Any]] = []
        self.tests: list[dict[str, Any]] = []
        self.rmst: list[dict[str, Any]] = []
        self.curves: list[pd.DataFrame] = []
        self.timedep: list[TimedepResult] = []


def _analysis_data(
    endpoints: EndpointRows, a: dict[str, Any], ep: dict[str, Any]
) -> tuple[pd.DataFrame, str]:
    """An analysis's patients (its subset, usable times, delayed entry) and subset label."""
    data = endpoints.join(a["endpoint"], ["AVAL", "CNSR"])
    subset_label = ""
    if "subset" in a:
        r = evaluate(a["subset"]["expr"], data)
        data = data[r.value & r.known].reset_index(drop=True)
        subset_label = a["subset"]["label"]
    usable = data["AVAL"].notna() & (data["AVAL"] >= 0)
    if (~usable).any():
        log.warning(
            "analysis %s: %d patients without usable time (no origin/follow-up or "
            "negative time) left out",
            a["id"],
            int((~usable).sum()),
        )
    data = data[usable].reset_index(drop=True)
    return entry_days(data, ep, a["id"]), subset_label


def _refuse_combinations(a: dict[str, Any], delayed: bool, td: bool) -> None:
    """CohortflowError for what delayed entry cannot be combined with."""
    cfg = Analysis.of(a)
    if delayed and (cfg.stratify_by or cfg.trend or a.get("rmst")):
        raise CohortflowError(
            f"analysis {a['id']}: endpoint {a['endpoint']} has delayed entry; stratified "
            "and trend log-rank tests and RMST are not available with delayed entry"
        )
    if delayed and td:
        raise CohortflowError(
            f"analysis {a['id']}: a time-dependent grouping cannot be combined with delayed entry"
        )


def _naive_refused(
    base: dict[str, Any], a: dict[str, Any], grouping: dict[str, Any], order: list[str]
) -> dict[str, Any]:
    """The tests.csv row saying why the naive KM comparison by a time-dependent grouping is
    not shown."""
    return test_row(
        base,
        "naive Kaplan-Meier comparison refused",
        ";".join(order),
        note=f"{a['by']} is defined by {grouping['time_dependent']}, which happens "
        "after the time origin: comparing groups by naive Kaplan-Meier is biased "
        "by immortal time. Set allow_naive: true to show it, labelled as biased; "
        "the Mantel-Byar test, landmark and Simon-Makuch analyses are given.",
    )


def _small_risk_set_row(
    base: dict[str, Any], a: dict[str, Any], s: str, km: Any, times_y: list[float]
) -> dict[str, Any] | None:
    """With delayed entry: the warning row when fewer than MIN_AT_RISK are at risk at an event
    time before a printed estimate of stratum ``s`` (None when enough are)."""
    smallest = small_risk_sets(km, [y * DAYS_PER_YEAR for y in times_y])
    if smallest >= MIN_AT_RISK:
        return None
    log.warning(
        "analysis %s, %s: delayed entry leaves only %d at risk at an event "
        "time before a printed estimate (fewer than %d): the estimate is "
        "unstable",
        a["id"],
        s,
        smallest,
        MIN_AT_RISK,
    )
    return test_row(
        base,
        SMALL_RISK_SET_TEST,
        s,
        note=f"{s}: delayed entry leaves only {smallest} at risk at an "
        "event time up to the last printed time point (fewer than "
        f"{MIN_AT_RISK}); the estimates there are unstable.",
    )


def _km_rows(
    rows: _Rows,
    d: pd.DataFrame,
    s: str,
    a: dict[str, Any],
    ep: dict[str, Any],
    ctx: dict[str, Any],
) -> None:
    """Kaplan-Meier of stratum ``s`` (patients ``d``): its strata.csv row (median with CI),
    survival.csv rows at the time points and, with delayed entry, the small-risk-set row."""
    cfg = Analysis.of(a)
    ci, times_y, base = cfg.ci_method, cfg.time_points_years, ctx["base"]
    delayed = "ENTRY" in d
    t = d["AVAL"].to_numpy(float)
    e = (d["CNSR"] == 0).to_numpy(int)
    km = kaplan_meier(t, e, ci_method=ci, entry=d["ENTRY"] if delayed else None)
    entry = d["ENTRY"].to_numpy(float) if delayed else None
    at = ctx["at_risk_times"]
    key = dict(analysis=a["id"], kind="km", group=s, cause=None, n=km.n, events=km.events)
    rows.curves.append(curve_table(key, km, at, under_observation(t, at, entry)))
    med, mlo, mhi = median_survival(km)
    small = _small_risk_set_row(base, a, s, km, times_y) if delayed else None
    if small is not None:
        rows.tests.append(small)
    head = dict(
        data_label=base["data_label"],
        study=base["study"],
        analysis=a["id"],
        endpoint=a["endpoint"],
    )
    group = dict(subset=ctx["subset"], grouping=cfg.by, stratum=s, n=len(d))
    rows.strata.append(
        dict(
            head,
            **group,
            events=int(e.sum()),
            median_days=med,
            median_lower=mlo,
            median_upper=mhi,
            # the same in months (days / 30.4375), as tables for people print them
            median_months=med / (DAYS_PER_YEAR / 12),
            median_lower_months=mlo / (DAYS_PER_YEAR / 12),
            median_upper_months=mhi / (DAYS_PER_YEAR / 12),
            ci_method=ci,
        )
    )
    pub = {(p["stratum"], float(p["time_years"])): p for p in cfg.published}
    at = survival_at(km, [y * DAYS_PER_YEAR for y in times_y])
    for y, row in zip(times_y, at.to_dict("records"), strict=True):
        p = pub.get((s, float(y)), {})
        rows.survival.append(
            dict(
                head,
                endpoint_label=ep["label"],
                origin=ep["origin"],
                **group,
                total_events=int(e.sum()),
                time_years=y,
                time_days=row["time"],
                n_risk=int(row["n_risk"]),
                events=int(row["events"]),
                estimate=row["survival"],
                se=row["se"],
                lower=row["lower"],
                upper=row["upper"],
                ci_method=ci,
                ci_level=0.95,
                published_estimate=p.get("estimate", np.nan),
                published_se=p.get("se", np.nan),
            )
        )


def _group_tests(
    data: pd.DataFrame, lab: pd.Series, groups: list[str], a: dict[str, Any], base: dict[str, Any]
) -> list[dict[str, Any]]:
    """tests.csv rows comparing ``groups``: stratified and trend log-rank tests where
    configured, the unweighted log-rank test ((entry, exit] risk sets with delayed entry) and
    the weighted ones."""
    cfg = Analysis.of(a)
    delayed = "ENTRY" in data
    m = lab.isin(groups)
    t = data.loc[m, "AVAL"].to_numpy(float)
    e = (data.loc[m, "CNSR"] == 0).to_numpy(int)
    g = lab[m].to_numpy(object)
    if delayed:  # log-rank on (entry, exit] risk sets
        lr = weighted_logrank(t, e, g, entry=data.loc[m, "ENTRY"].to_numpy(float))
    else:
        lr = logrank_test(t, e, g)
    rows = []
    if cfg.stratify_by:
        strata_of = data.loc[m, cfg.stratify_by].astype(str).to_numpy(object)
        sl = stratified_logrank(t, e, g, strata_of)
        rows.append((f"log-rank stratified by {cfg.stratify_by}", sl))
    if cfg.trend:
        scores = {name: float(k + 1) for k, name in enumerate(groups)}
        rows.append((TREND_TEST, trend_test(t, e, g, scores=scores)))
    joined = ";".join(groups)
    out = [test_row(base, n, joined, chi2=r.chi2, df=r.df, p=r.p) for n, r in rows]
    pub_p = [p.get("p_value") for p in cfg.published if "p_value" in p]
    published = pub_p[0] if pub_p else np.nan
    weighted = weighted_tests(data, lab, groups, a, base, published)
    note = cfg.note + (" Risk sets (entry, exit]: delayed entry." if delayed else "")
    out.append(
        test_row(
            base,
            "log-rank (unweighted)",
            joined,
            chi2=lr.chi2,
            df=lr.df,
            p=lr.p,
            published_p=published,
            note=note,
        )
    )
    return out + weighted


def _km_analysis(
    rows: _Rows,
    a: dict[str, Any],
    study: dict[str, Any],
    endpoints: EndpointRows,
) -> None:
    """Everything one configured Kaplan-Meier analysis adds to ``rows``."""
    cfg, st = Analysis.of(a), Study.of(study)
    ep = study["endpoints"][a["endpoint"]]
    if Endpoint.of(ep).competing:
        raise CohortflowError(
            f"analysis {a['id']}: endpoint {a['endpoint']} has competing events; "
            "Kaplan-Meier (1 - KM) overestimates its incidence. Use a cumulative-incidence "
            "analysis for it instead."
        )
    data, subset_label = _analysis_data(endpoints, a, ep)
    grouping = st.groupings.get(cfg.by) if cfg.by else None
    lab, order = strata(data, grouping, study.get("schemes", {}))
    td = bool(grouping and grouping.get("time_dependent"))
    _refuse_combinations(a, "ENTRY" in data, td)
    base = dict(
        data_label=st.data_label,
        study=study["id"],
        analysis=a["id"],
        endpoint=a["endpoint"],
        grouping=cfg.by,
    )
    if td and not cfg.allow_naive:
        rows.tests.append(_naive_refused(base, a, grouping, order))
        order = []
    last = float(data["AVAL"].max()) if len(data) else 0.0
    ctx = {"base": base, "subset": subset_label}
    ctx["at_risk_times"] = year_times(last)
    for s in order:
        _km_rows(rows, data[lab == s], s, a, ep, ctx)
    test_strata = [s for s in order if s not in ("unknown", UNCLASSIFIABLE)]
    if a.get("rmst"):
        rows.rmst += rmst_rows(data, lab, test_strata, a, grouping, base)
    if len(test_strata) >= 2:
        rows.tests += _group_tests(data, lab, test_strata, a, base)
    if td:
        extra = time_dependent(data, a, grouping, ep, st.data_label)
        rows.survival += [{**r, "study": study["id"]} for r in extra.survival]
        rows.tests += [{**r, "study": study["id"]} for r in extra.tests]
        rows.curves += extra.curves
        rows.timedep.append(extra)


def _competing_analysis(
    a: dict[str, Any], study: dict[str, Any], endpoints: EndpointRows
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]], list[pd.DataFrame]]:
    """cif.csv, tests.csv and cox.csv (Fine-Gray) rows of one competing-risks analysis, and
    the curves of its figure."""
    st = Study.of(study)
    ep = study["endpoints"][a["endpoint"]]
    if not Endpoint.of(ep).competing:
        raise CohortflowError(
            f"cif analysis {a['id']}: endpoint {a['endpoint']} has no competing events"
        )
    data = entry_days(usable_times(endpoints.join(a["endpoint"], EP_COLS)), ep, a["id"])
    by = CifAnalysis.of(a).by
    grouping = st.groupings.get(by) if by else None
    lab, order = strata(data, grouping, study.get("schemes", {}))
    out = competing(data, a, lab, order, ep, st.data_label)
    tests = [{**r, "study": study["id"]} for r in out["tests"]]
    fine_gray = []
    if a.get("fine_gray"):
        if "ENTRY" in data:
            raise CohortflowError(
                f"cif analysis {a['id']}: Fine-Gray regression with delayed entry is not "
                "available (crr has none)"
            )
        fine_gray = fine_gray_rows(data, a, ep, st.data_label)
    return out["cif"], tests, fine_gray, out["curves"]


def _cox_rows(
    models: list[dict[str, Any]], study: dict[str, Any], endpoints: EndpointRows, label: str
) -> list[dict[str, Any]]:
    """cox.csv rows of the configured Cox models."""
    out = []
    for model in models:
        ep = study["endpoints"][model["endpoint"]]
        data = usable_times(endpoints.join(model["endpoint"], EP_COLS))
        data = entry_days(data, ep, model["id"])
        out += [{**r, "method": "cox"} for r in cox_model(data, model, ep, label)]
    return out


def analyse(cohort: pd.DataFrame, study: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """ADTTE, survival-at-time-points, strata summaries and tests for every configured analysis,
    and what the figures draw: ``curves`` (``analyse.outputs.CURVE_COLUMNS``) and the
    time-dependent tables (``analyse.timedep_curves.TIMEDEP_TABLES``)."""
    # every per-analysis join and subset copies the columns it is given: only those read
    narrow = cohort[columns_read(study, list(cohort.columns))]
    analysed = narrow[narrow["analysed"]].reset_index(drop=True)
    frames = {
        code: derive(analysed, code, ep, study["cutoff_date"])
        for code, ep in study["endpoints"].items()
    }
    adtte = pd.concat(list(frames.values()), ignore_index=True)
    # each endpoint's rows as a slice of the ADTTE (no second copy of a 5,000,000-row table)
    ends = np.cumsum([len(f) for f in frames.values()])
    endpoints = EndpointRows(
        analysed,
        {
            code: adtte.iloc[e - len(f) : e]
            for (code, f), e in zip(frames.items(), ends, strict=True)
        },
    )
    del frames
    st = Study.of(study)
    label = st.data_label
    rows = _Rows()
    # the Cox models (numpy, mostly outside the interpreter lock) beside the KM analyses
    cox = Aside(_cox_rows, st.cox_models, study, endpoints, label)
    try:
        for a in study["analyses"]:
            _km_analysis(rows, a, study, endpoints)
    except BaseException:
        cox.close()
        raise
    cox_rows, cif_rows = cox.result(), []
    for a in st.cif_analyses:
        cif, tests, fine_gray, curves = _competing_analysis(a, study, endpoints)
        rows.curves += curves
        cif_rows += cif
        rows.tests += tests
        cox_rows += fine_gray
    resp = study.get("responses")
    rates = counts = pd.DataFrame()
    if resp:
        pop = narrow[narrow[resp["population"]]].reset_index(drop=True)
        rates = response_rates(pop, resp, label)
        counts = response_counts(pop, Responses.of(resp).order).assign(data_label=label)
    return {
        "response_rates": rates,
        "response_counts": counts,
        "eligibility": cohort[
            [
                "study_id",
                "site",
                "eligible",
                "analysed",
                "failed_criteria",
                "exclusion_reason",
                "not_analysed_reason",
            ]
        ].assign(data_label=label),
        "adtte": adtte,
        "survival": pd.DataFrame(rows.survival),
        "strata": pd.DataFrame(rows.strata),
        "tests": _mark_primary(pd.DataFrame(rows.tests, columns=TEST_COLUMNS), study),
        "cox": pd.DataFrame(cox_rows, columns=COX_COLUMNS),
        "cif": pd.DataFrame(cif_rows, columns=CIF_COLUMNS),
        "rmst": pd.DataFrame(rows.rmst, columns=RMST_COLUMNS),
        "flow": flow_table(cohort, st.eligibility).assign(data_label=label),
        "curves": curves_frame(rows.curves),
        **timedep_curves(rows.timedep),
    }
