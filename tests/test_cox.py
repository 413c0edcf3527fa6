"""Tests for cohortflow.stats.cox against R survival (coxph, cox.zph) and published values.

R reference tables in tests/fixtures/survtests/ were produced by make_reference.R there
(R 4.2.2, survival 3.5.3; see r_session.txt).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cohortflow.core.errors import CohortflowError
from cohortflow.stats.cox import PH_TRANSFORMS, CoxResult, fit_cox

FIXTURES = Path(__file__).parent / "fixtures" / "survtests"
TOL = 1e-6


def _csv(name: str) -> pd.DataFrame:
    return pd.read_csv(FIXTURES / name)


DATA = {
    name: _csv(f"{name}.csv")
    for name in ("gehan", "aml", "lung", "veteran", "strat_ties", "heart", "jasa_patients")
}
DATA["hsct_split"] = _csv("r_hsct_split.csv")
DATA["jasa1"] = _csv("r_jasa1.csv")
DATA["jasa_fixed"] = DATA["jasa_patients"].assign(
    transplant=DATA["jasa_patients"]["wait_time"].notna().astype(int)
)

# model name in r_cox.csv -> (data, covariates, strata, start column, duration column)
MODELS = {
    "gehan": ("gehan", ["control"], None, None, "time"),
    "aml": ("aml", ["nonmaintained"], None, None, "time"),
    "lung": ("lung", ["age", "sex", "ph_ecog"], None, None, "time"),
    "lung_strat": ("lung", ["age", "ph_ecog"], "sex", None, "time"),
    "veteran": ("veteran", ["trt", "karno", "diagtime", "age", "prior"], None, None, "time"),
    "veteran_strat": ("veteran", ["trt", "karno"], "celltype", None, "time"),
    "strat_ties": ("strat_ties", ["risk"], "site", None, "time"),
    "heart": ("heart", ["age", "year", "surgery", "transplant"], None, "start", "stop"),
    "heart_tx": ("heart", ["transplant"], None, "start", "stop"),
    "hsct_multi": ("hsct_split", ["exposed", "age"], None, "start", "stop"),
    "hsct_tx": ("hsct_split", ["exposed"], None, "start", "stop"),
    "jasa1_tx": ("jasa1", ["transplant"], None, "start", "stop"),
    "jasa_fixed": ("jasa_fixed", ["transplant"], None, None, "futime"),
}
EVENT_COL = {"jasa_fixed": "fustat"}

R_COX = _csv("r_cox.csv")
R_ZPH = _csv("r_zph.csv")


def _fit(model: str, ties: str = "efron", ph_transform: str = "km") -> CoxResult:
    data, covs, strata, start, duration = MODELS[model]
    return fit_cox(
        DATA[data],
        duration,
        EVENT_COL.get(model, "event"),
        covs,
        ties=ties,
        strata=strata,
        min_events_per_parameter=0,
        start_col=start,
        ph_transform=ph_transform,
    )


# --------------------------------------------------------------------------- R coxph


COX_CASES = sorted(
    {(m, t) for m, t in zip(R_COX["model"], R_COX["ties"], strict=True) if t != "exact"}
)


@pytest.mark.parametrize(("model", "ties"), COX_CASES)
def test_coefficients_match_r(model, ties):
    ref = R_COX[(R_COX["model"] == model) & (R_COX["ties"] == ties)].set_index("term")
    res = _fit(model, ties)
    assert list(res.table.index) == list(ref.index)
    for ours, theirs in [
        ("coef", "coef"),
        ("se", "se"),
        ("hr", "hr"),
        ("lower", "lower"),
        ("upper", "upper"),
        ("z", "z"),
        ("p", "p"),
    ]:
        np.testing.assert_allclose(res.table[ours], ref[theirs], rtol=0, atol=TOL, err_msg=ours)


@pytest.mark.parametrize(("model", "ties"), COX_CASES)
def test_global_tests_match_r(model, ties):
    ref = R_COX[(R_COX["model"] == model) & (R_COX["ties"] == ties)].iloc[0]
    res = _fit(model, ties)
    assert res.loglik_null == pytest.approx(ref["loglik0"], abs=TOL)
    assert res.loglik == pytest.approx(ref["loglik"], abs=TOL)
    assert res.lr_chi2 == pytest.approx(ref["lr"], abs=TOL)
    assert res.df == ref["lr_df"]
    assert res.lr_p == pytest.approx(ref["lr_p"], abs=TOL)
    assert res.score_chi2 == pytest.approx(ref["score"], abs=TOL)
    assert res.score_p == pytest.approx(ref["score_p"], abs=TOL)
    assert res.wald_chi2 == pytest.approx(ref["wald"], abs=TOL)
    assert res.n == ref["n"]
    assert res.events == ref["nevent"]


ZPH_CASES = sorted(set(zip(R_ZPH["model"], R_ZPH["ties"], R_ZPH["transform"], strict=True)))


@pytest.mark.parametrize(("model", "ties", "transform"), ZPH_CASES)
def test_ph_test_matches_r_cox_zph(model, ties, transform):
    ref = R_ZPH[
        (R_ZPH["model"] == model) & (R_ZPH["ties"] == ties) & (R_ZPH["transform"] == transform)
    ].set_index("term")
    res = _fit(model, ties, transform)
    assert res.ph_transform == transform
    assert list(res.ph_test.index) == list(ref.index)
    np.testing.assert_allclose(res.ph_test["chisq"], ref["chisq"], rtol=0, atol=TOL)
    np.testing.assert_allclose(res.ph_test["p"], ref["p"], rtol=0, atol=TOL)
    assert list(res.ph_test["df"]) == list(ref["df"])


def test_all_ph_transforms_are_checked():
    assert set(R_ZPH["transform"]) == set(PH_TRANSFORMS)


# --------------------------------------------------------------------------- DOMAIN values


def test_gehan_published_values():
    efron = _fit("gehan", "efron").table.loc["control"]
    assert round(efron["hr"], 3) == 4.817
    assert round(efron["coef"], 4) == 1.5721
    assert round(efron["se"], 4) == 0.4124
    assert round(_fit("gehan", "breslow").table.loc["control", "hr"], 3) == 4.523


def test_aml_published_values():
    efron = _fit("aml", "efron").table.loc["nonmaintained"]
    breslow = _fit("aml", "breslow").table.loc["nonmaintained"]
    assert (round(efron["coef"], 4), round(efron["se"], 4)) == (0.9155, 0.5119)
    assert (round(breslow["coef"], 4), round(breslow["se"], 4)) == (0.9042, 0.5122)


def test_stanford_heart_published_values():
    res = _fit("heart")
    assert res.counting_process
    assert [round(c, 4) for c in res.table["coef"]] == [0.0272, -0.1463, -0.6372, -0.0103]
    assert round(res.lr_chi2, 2) == 15.11
    assert res.df == 4


def test_stanford_heart_immortal_time():
    # transplant as a baseline-fixed covariate: HR 0.27 (p = 6e-8); time-dependent: HR 1.14
    fixed = _fit("jasa_fixed").table.loc["transplant"]
    assert round(fixed["hr"], 2) == 0.27
    assert f"{fixed['p']:.0e}" == "6e-08"
    timedep = _fit("heart_tx")
    assert round(timedep.table.loc["transplant", "hr"], 2) == 1.14
    assert round(timedep.score_p, 2) == 0.67


# --------------------------------------------------------------------------- properties


def test_row_order_and_covariate_shift_do_not_matter():
    lung = DATA["lung"]
    base = fit_cox(lung, "time", "event", ["age", "sex", "ph_ecog"])
    shuffled = lung.sample(frac=1.0, random_state=1).assign(age=lambda d: d["age"] + 1000.0)
    other = fit_cox(shuffled, "time", "event", ["age", "sex", "ph_ecog"])
    np.testing.assert_allclose(other.table["coef"], base.table["coef"], atol=1e-10)
    np.testing.assert_allclose(other.table["se"], base.table["se"], atol=1e-10)
    np.testing.assert_allclose(other.ph_test["chisq"], base.ph_test["chisq"], atol=1e-9)
    assert other.loglik == pytest.approx(base.loglik, abs=1e-9)


def test_right_censored_equals_counting_process_from_zero():
    aml = DATA["aml"]
    cp = aml.assign(start=0.0)
    a = fit_cox(aml, "time", "event", ["nonmaintained"], min_events_per_parameter=0)
    b = fit_cox(
        cp, "time", "event", ["nonmaintained"], min_events_per_parameter=0, start_col="start"
    )
    np.testing.assert_allclose(a.table["coef"], b.table["coef"], atol=1e-12)
    np.testing.assert_allclose(a.ph_test["chisq"], b.ph_test["chisq"], atol=1e-12)


def test_result_accessors_and_ci_level():
    res = fit_cox(DATA["lung"], "time", "event", ["sex"], alpha=0.10)
    row = res.table.loc["sex"]
    assert res.coef == {"sex": row["coef"]}
    assert res.hr == {"sex": row["hr"]}
    assert row["lower"] == pytest.approx(math.exp(row["coef"] - 1.6448536269514722 * row["se"]))
    assert res.vcov.loc["sex", "sex"] == pytest.approx(row["se"] ** 2)
    assert res.strata == ()
    assert fit_cox(DATA["lung"], "time", "event", ["age"], strata="sex").strata == ("sex",)


# --------------------------------------------------------------------------- refusals


def test_refuses_too_few_events_per_parameter():
    df = DATA["aml"].copy()
    df["event"] = 0
    df.loc[[0, 1, 2, 11, 12, 13, 14], "event"] = 1  # 7 events, both groups
    df["z"] = np.arange(len(df)) % 3
    with pytest.raises(CohortflowError) as err:
        fit_cox(df, "time", "event", ["nonmaintained", "z"])
    assert str(err.value) == (
        "Cox model refused: 7 events for 2 parameters; need at least 10 (5 per parameter)"
    )
    with pytest.raises(CohortflowError, match="7 events for 1 parameter; need at least 8 "):
        fit_cox(df, "time", "event", ["z"], min_events_per_parameter=8)
    fit_cox(df, "time", "event", ["nonmaintained", "z"], min_events_per_parameter=3.5)


def test_refuses_no_events():
    df = DATA["aml"].assign(event=0)
    with pytest.raises(CohortflowError, match="no events"):
        fit_cox(df, "time", "event", ["nonmaintained"], min_events_per_parameter=0)


def test_refuses_covariate_without_variation():
    df = DATA["lung"].assign(const=2.0)
    with pytest.raises(CohortflowError, match=r"'const' has no variation \(all 227 rows"):
        fit_cox(df, "time", "event", ["age", "const"])


def test_refuses_covariate_constant_within_strata():
    with pytest.raises(CohortflowError, match="'sex' has no variation within any stratum"):
        fit_cox(DATA["lung"], "time", "event", ["age", "sex"], strata="sex")


def test_refuses_group_without_events():
    df = DATA["gehan"].copy()
    df.loc[df["control"] == 0, "event"] = 0  # no events on 6-MP
    with pytest.raises(CohortflowError) as err:
        fit_cox(df, "time", "event", ["control"])
    assert "covariate 'control' = 0 has 0 events (in 21 rows; 21 events in total)" in str(err.value)


def test_refuses_collinear_covariates():
    df = DATA["lung"].assign(age2=lambda d: 2.0 * d["age"] + d["sex"])
    with pytest.raises(CohortflowError, match="collinear"):
        fit_cox(df, "time", "event", ["age", "sex", "age2"])


def test_refuses_monotone_likelihood():
    # a continuous covariate that perfectly orders the event times
    df = pd.DataFrame({"time": np.arange(1.0, 31.0), "event": 1, "x": -np.arange(1.0, 31.0)})
    with pytest.raises(CohortflowError, match="covariate 'x' diverges"):
        fit_cox(df, "time", "event", ["x"])
    # the same in a multivariable model with a binary covariate that has events in both levels
    df["b"] = np.arange(30) % 2
    with pytest.raises(CohortflowError, match="monotone"):
        fit_cox(df, "time", "event", ["b", "x"])


# --------------------------------------------------------------------------- invalid input


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ties": "exact"}, "ties must be one of"),
        ({"ph_transform": "loglog"}, "ph_transform must be one of"),
        ({"alpha": 1.5}, "alpha must be in"),
        ({"covariates": []}, "at least one covariate"),
        ({"covariates": ["age", "age"]}, "duplicates"),
        ({"covariates": ["nope"]}, "'nope' is not in the data"),
        ({"strata": "nope"}, "strata column 'nope'"),
        ({"min_events_per_parameter": -1}, "must not be negative"),
    ],
)
def test_invalid_arguments(kwargs, message):
    args = {"covariates": ["age"]} | kwargs
    with pytest.raises(ValueError, match=message):
        fit_cox(DATA["lung"], "time", "event", **args)


def test_invalid_data():
    lung = DATA["lung"]
    with pytest.raises(ValueError, match="must be numeric"):
        fit_cox(lung.assign(g=np.where(lung["sex"] == 1, "m", "f")), "time", "event", ["g"])
    with pytest.raises(ValueError, match="1 missing value"):
        fit_cox(lung.assign(age=lung["age"].where(lung.index != 3)), "time", "event", ["age"])
    with pytest.raises(ValueError, match=r"event must be 0 \(censored\) or 1"):
        fit_cox(lung.assign(event=lung["event"] + 1), "time", "event", ["age"])
    with pytest.raises(ValueError, match="negative"):
        fit_cox(lung.assign(time=-lung["time"]), "time", "event", ["age"])
    heart = DATA["heart"]
    with pytest.raises(ValueError, match="start >= stop"):
        fit_cox(heart.assign(start=heart["stop"]), "stop", "event", ["age"], start_col="start")
    with pytest.raises(ValueError, match="empty"):
        fit_cox(lung.iloc[:0], "time", "event", ["age"])
