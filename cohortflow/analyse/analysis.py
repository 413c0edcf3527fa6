"""Study-level analysis: risk groups, eligibility flow, endpoints and Kaplan-Meier summaries."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from cohortflow.analyse.adapters import competing, cox_model, time_dependent
from cohortflow.analyse.eligibility import eligibility, flow_table
from cohortflow.analyse.endpoints import derive
from cohortflow.analyse.responses import best_response, response_counts, response_rates
from cohortflow.analyse.survmethods import (
    MIN_AT_RISK,
    RMST_COLUMNS,
    SMALL_RISK_SET_TEST,
    entry_days,
    fine_gray_rows,
    rmst_rows,
    small_risk_sets,
    weighted_tests,
)
from cohortflow.classify.schemes import UNCLASSIFIABLE
from cohortflow.core.defaults import Analysis, CifAnalysis, Endpoint, Responses, Study
from cohortflow.core.errors import CohortflowError
from cohortflow.core.expr import evaluate
from cohortflow.stats.logrank import stratified_logrank, trend_test
from cohortflow.stats.survival import kaplan_meier, logrank_test, median_survival, survival_at
from cohortflow.stats.wlogrank import weighted_logrank

log = logging.getLogger("cohortflow")
DAYS_PER_YEAR = 365.25


def build_cohort(
    patients: pd.DataFrame,
    risk: pd.DataFrame,
    rules: dict[str, Any],
    responses: pd.DataFrame | None = None,
    response_order: list[str] | None = None,
) -> pd.DataFrame:
    """Patients with one ``risk_<scheme>`` column per scheme, best response and eligibility."""
    df = patients.copy()
    if responses is not None:
        best = best_response(responses, response_order).rename("best_response")
        df = df.merge(best, left_on="study_id", right_index=True, how="left")
    for scheme, g in risk.groupby("scheme", sort=True):
        df = df.merge(
            g[["study_id", "group"]].rename(columns={"group": f"risk_{scheme}"}),
            on="study_id",
            how="left",
        )
    elig = eligibility(df, rules)
    return df.merge(elig.drop(columns=["site"]), on="study_id", how="left")


def strata(
    cohort: pd.DataFrame, grouping: dict[str, Any] | None, schemes: dict[str, Any]
) -> tuple[pd.Series, list[str]]:
    """Stratum label per patient and the ordered list of labels."""
    if grouping is None:
        return pd.Series("All", index=cohort.index), ["All"]
    if "scheme" in grouping:
        sch = schemes[grouping["scheme"]]
        order = [g["group"] for g in sch["groups"]] + [sch["otherwise"], UNCLASSIFIABLE]
        s = cohort[f"risk_{grouping['scheme']}"].astype(object)
        return s, [o for o in dict.fromkeys(order) if (s == o).any()]
    labels = pd.Series("unknown", index=cohort.index, dtype=object)
    unset = pd.Series(True, index=cohort.index)
    for lvl in grouping["levels"]:
        r = evaluate(lvl["expr"], cohort)
        hit = r.value & r.known & unset
        labels[hit] = lvl["label"]
        unset &= ~hit
    order = [lvl["label"] for lvl in grouping["levels"]] + ["unknown"]
    return labels, [o for o in order if (labels == o).any()]


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


def endpoint_data(analysed: pd.DataFrame, adtte: pd.DataFrame, code: str) -> pd.DataFrame:
    """Analysed patients with the endpoint's AVAL, CNSR and EVENTTYPE (usable times only)."""
    d = analysed.merge(
        adtte[adtte["PARAMCD"] == code][["study_id", "AVAL", "CNSR", "EVENTTYPE"]],
        on="study_id",
        how="left",
    )
    return d[d["AVAL"].notna() & (d["AVAL"] >= 0)].reset_index(drop=True)


def analyse(cohort: pd.DataFrame, study: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """ADTTE, survival-at-time-points, strata summaries and tests for every configured analysis."""
    analysed = cohort[cohort["analysed"]].reset_index(drop=True)
    adtte = pd.concat(
        [
            derive(analysed, code, ep, study["cutoff_date"])
            for code, ep in study["endpoints"].items()
        ],
        ignore_index=True,
    )
    surv_rows, strata_rows, test_rows, rmst_out = [], [], [], []
    st = Study.of(study)
    label = st.data_label
    for a in study["analyses"]:
        cfg = Analysis.of(a)
        ep = study["endpoints"][a["endpoint"]]
        if Endpoint.of(ep).competing:
            raise CohortflowError(
                f"analysis {a['id']}: endpoint {a['endpoint']} has competing events; "
                "Kaplan-Meier (1 - KM) overestimates its incidence. Use a cumulative-incidence "
                "analysis for it instead."
            )
        ci = cfg.ci_method
        data = analysed.merge(
            adtte[adtte["PARAMCD"] == a["endpoint"]][["study_id", "AVAL", "CNSR"]],
            on="study_id",
            how="left",
        )
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
        data = entry_days(data, ep, a["id"])
        delayed = "ENTRY" in data
        if delayed and (cfg.stratify_by or cfg.trend or a.get("rmst")):
            raise CohortflowError(
                f"analysis {a['id']}: endpoint {a['endpoint']} has delayed entry; stratified "
                "and trend log-rank tests and RMST are not available with delayed entry"
            )
        grouping = st.groupings.get(cfg.by) if cfg.by else None
        lab, order = strata(data, grouping, study.get("schemes", {}))
        td = bool(grouping and grouping.get("time_dependent"))
        if delayed and td:
            raise CohortflowError(
                f"analysis {a['id']}: a time-dependent grouping cannot be combined with "
                "delayed entry"
            )
        if td and not cfg.allow_naive:
            test_rows.append(
                dict(
                    data_label=label,
                    study=study["id"],
                    analysis=a["id"],
                    endpoint=a["endpoint"],
                    grouping=cfg.by,
                    test="naive Kaplan-Meier comparison refused",
                    groups=";".join(order),
                    chi2=np.nan,
                    df=np.nan,
                    p=np.nan,
                    published_p=np.nan,
                    note=f"{a['by']} is defined by {grouping['time_dependent']}, which happens "
                    "after the time origin: comparing groups by naive Kaplan-Meier is biased "
                    "by immortal time. Set allow_naive: true to show it, labelled as biased; "
                    "the Mantel-Byar test, landmark and Simon-Makuch analyses are given.",
                )
            )
            order = []
        times_y = cfg.time_points_years
        pub = {(p["stratum"], float(p["time_years"])): p for p in cfg.published}
        for s in order:
            d = data[lab == s]
            t = d["AVAL"].to_numpy(float)
            e = (d["CNSR"] == 0).to_numpy(int)
            km = kaplan_meier(t, e, ci_method=ci, entry=d["ENTRY"] if delayed else None)
            med, mlo, mhi = median_survival(km)
            if delayed:
                smallest = small_risk_sets(km, [y * DAYS_PER_YEAR for y in times_y])
                if smallest < MIN_AT_RISK:
                    log.warning(
                        "analysis %s, %s: delayed entry leaves only %d at risk at an event "
                        "time before a printed estimate (fewer than %d): the estimate is "
                        "unstable",
                        a["id"],
                        s,
                        smallest,
                        MIN_AT_RISK,
                    )
                    test_rows.append(
                        dict(
                            data_label=label,
                            study=study["id"],
                            analysis=a["id"],
                            endpoint=a["endpoint"],
                            grouping=cfg.by,
                            test=SMALL_RISK_SET_TEST,
                            groups=s,
                            chi2=np.nan,
                            df=np.nan,
                            p=np.nan,
                            published_p=np.nan,
                            note=f"{s}: delayed entry leaves only {smallest} at risk at an "
                            "event time up to the last printed time point (fewer than "
                            f"{MIN_AT_RISK}); the estimates there are unstable.",
                        )
                    )
            strata_rows.append(
                dict(
                    data_label=label,
                    study=study["id"],
                    analysis=a["id"],
                    endpoint=a["endpoint"],
                    subset=subset_label,
                    grouping=cfg.by,
                    stratum=s,
                    n=len(d),
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
            at = survival_at(km, [y * DAYS_PER_YEAR for y in times_y])
            for y, row in zip(times_y, at.to_dict("records"), strict=True):
                p = pub.get((s, float(y)), {})
                surv_rows.append(
                    dict(
                        data_label=label,
                        study=study["id"],
                        analysis=a["id"],
                        endpoint=a["endpoint"],
                        endpoint_label=ep["label"],
                        origin=ep["origin"],
                        subset=subset_label,
                        grouping=cfg.by,
                        stratum=s,
                        n=len(d),
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
        test_strata = [s for s in order if s not in ("unknown", UNCLASSIFIABLE)]
        base = dict(
            data_label=label,
            study=study["id"],
            analysis=a["id"],
            endpoint=a["endpoint"],
            grouping=cfg.by,
        )
        if a.get("rmst"):
            rmst_out += rmst_rows(data, lab, test_strata, a, grouping, base)
        if len(test_strata) >= 2:
            m = lab.isin(test_strata)
            lr = logrank_test(
                data.loc[m, "AVAL"].to_numpy(float),
                (data.loc[m, "CNSR"] == 0).to_numpy(int),
                lab[m].to_numpy(object),
            )
            if delayed:  # log-rank on (entry, exit] risk sets
                lr = weighted_logrank(
                    data.loc[m, "AVAL"].to_numpy(float),
                    (data.loc[m, "CNSR"] == 0).to_numpy(int),
                    lab[m].to_numpy(object),
                    entry=data.loc[m, "ENTRY"].to_numpy(float),
                )
            extra_tests = []
            if cfg.stratify_by:
                sl = stratified_logrank(
                    data.loc[m, "AVAL"].to_numpy(float),
                    (data.loc[m, "CNSR"] == 0).to_numpy(int),
                    lab[m].to_numpy(object),
                    data.loc[m, a["stratify_by"]].astype(str).to_numpy(object),
                )
                extra_tests.append(
                    (f"log-rank stratified by {a['stratify_by']}", sl.chi2, sl.df, sl.p)
                )
            if cfg.trend:
                tr = trend_test(
                    data.loc[m, "AVAL"].to_numpy(float),
                    (data.loc[m, "CNSR"] == 0).to_numpy(int),
                    lab[m].to_numpy(object),
                    scores={g: float(k + 1) for k, g in enumerate(test_strata)},
                )
                extra_tests.append(
                    (
                        TREND_TEST,
                        tr.chi2,
                        tr.df,
                        tr.p,
                    )
                )
            for name, chi2, dfree, pval in extra_tests:
                test_rows.append(
                    dict(
                        data_label=label,
                        study=study["id"],
                        analysis=a["id"],
                        endpoint=a["endpoint"],
                        grouping=cfg.by,
                        test=name,
                        groups=";".join(test_strata),
                        chi2=chi2,
                        df=dfree,
                        p=pval,
                        published_p=np.nan,
                        note="",
                    )
                )
            pub_p = [p.get("p_value") for p in cfg.published if "p_value" in p]
            weighted = weighted_tests(
                data, lab, test_strata, a, base, pub_p[0] if pub_p else np.nan
            )
            test_rows.append(
                dict(
                    data_label=label,
                    study=study["id"],
                    analysis=a["id"],
                    endpoint=a["endpoint"],
                    grouping=cfg.by,
                    test="log-rank (unweighted)",
                    groups=";".join(test_strata),
                    chi2=lr.chi2,
                    df=lr.df,
                    p=lr.p,
                    published_p=pub_p[0] if pub_p else np.nan,
                    note=cfg.note + (" Risk sets (entry, exit]: delayed entry." if delayed else ""),
                )
            )
            test_rows += weighted
        if td:
            extra = time_dependent(data, a, grouping, ep, label)
            surv_rows += [{**r, "study": study["id"]} for r in extra["survival"]]
            test_rows += [{**r, "study": study["id"]} for r in extra["tests"]]
    cox_rows, cif_rows = [], []
    for model in st.cox_models:
        ep = study["endpoints"][model["endpoint"]]
        data = entry_days(endpoint_data(analysed, adtte, model["endpoint"]), ep, model["id"])
        cox_rows += [{**r, "method": "cox"} for r in cox_model(data, model, ep, label)]
    for a in st.cif_analyses:
        ep = study["endpoints"][a["endpoint"]]
        if not Endpoint.of(ep).competing:
            raise CohortflowError(
                f"cif analysis {a['id']}: endpoint {a['endpoint']} has no competing events"
            )
        data = entry_days(endpoint_data(analysed, adtte, a["endpoint"]), ep, a["id"])
        by = CifAnalysis.of(a).by
        grouping = st.groupings.get(by) if by else None
        lab, order = strata(data, grouping, study.get("schemes", {}))
        out = competing(data, a, lab, order, ep, label)
        cif_rows += out["cif"]
        test_rows += [{**r, "study": study["id"]} for r in out["tests"]]
        if a.get("fine_gray"):
            if "ENTRY" in data:
                raise CohortflowError(
                    f"cif analysis {a['id']}: Fine-Gray regression with delayed entry is not "
                    "available (crr has none)"
                )
            cox_rows += fine_gray_rows(data, a, ep, label)
    resp = study.get("responses")
    rates = counts = pd.DataFrame()
    if resp:
        pop = cohort[cohort[resp["population"]]].reset_index(drop=True)
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
        "survival": pd.DataFrame(surv_rows),
        "strata": pd.DataFrame(strata_rows),
        "tests": _mark_primary(pd.DataFrame(test_rows, columns=TEST_COLUMNS), study),
        "cox": pd.DataFrame(cox_rows, columns=COX_COLUMNS),
        "cif": pd.DataFrame(cif_rows, columns=CIF_COLUMNS),
        "rmst": pd.DataFrame(rmst_out, columns=RMST_COLUMNS),
        "flow": flow_table(cohort, st.eligibility).assign(data_label=label),
    }
