"""Tests for cohortflow.stats.logrank against R survival (survdiff, coxph, tmerge) and DOMAIN
values.

R reference tables in tests/fixtures/survtests/ were produced by make_reference.R there
(R 4.2.2, survival 3.5.3; see r_session.txt). The trend statistics were computed in R from
survdiff's $var and $obs - $exp.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cohortflow.stats.logrank import (
    MANTEL_BYAR_METHODS,
    mantel_byar,
    split_at_exposure,
    stratified_logrank,
    trend_test,
)
from cohortflow.stats.survival import logrank_test

FIXTURES = Path(__file__).parent / "fixtures" / "survtests"
TOL = 1e-6


def _csv(name: str) -> pd.DataFrame:
    return pd.read_csv(FIXTURES / name)


STRAT_TIES = _csv("strat_ties.csv")
LUNG = _csv("lung.csv")
VETERAN = _csv("veteran.csv")
GEHAN = _csv("gehan.csv")
HEART = _csv("heart.csv")
JASA1 = _csv("r_jasa1.csv")
HSCT = _csv("hsct.csv")
HSCT_SPLIT = _csv("r_hsct_split.csv")
R_LOGRANK = _csv("r_logrank.csv").astype({"group": str})
R_COX = _csv("r_cox.csv")

# dataset in r_logrank.csv -> (data, group column, strata column)
LOGRANK_DATA = {
    "strat_ties": (STRAT_TIES, "group", "site"),
    "lung": (LUNG, "ph_ecog", "sex"),
    "veteran": (VETERAN, "trt", "celltype"),
    "gehan": (GEHAN, "group", None),
}


def _reference(dataset: str, test: str) -> pd.DataFrame:
    ref = R_LOGRANK[(R_LOGRANK["dataset"] == dataset) & (R_LOGRANK["test"] == test)]
    assert len(ref) > 0
    return ref.set_index("group")


def _assert_counts(result, ref: pd.DataFrame) -> None:
    assert [str(k) for k in result.observed] == list(ref.index)
    np.testing.assert_allclose(list(result.observed.values()), ref["observed"], atol=TOL)
    np.testing.assert_allclose(list(result.expected.values()), ref["expected"], atol=TOL)


def test_fixture_has_the_edge_cases():
    st = STRAT_TIES
    assert (st.groupby("group").size() == 1).any()  # a group of ONE patient
    assert st.duplicated(["time"]).sum() > 30  # tied times
    censored_at_event_time = set(st.loc[st.event == 0, "time"]) & set(st.loc[st.event == 1, "time"])
    assert censored_at_event_time
    assert ((st.time == 0) & (st.event == 1)).any()
    assert st.groupby("site")["group"].nunique().min() == 1  # a stratum with one group only
    assert (LUNG.groupby("ph_ecog").size() == 1).any()


# --------------------------------------------------------------------------- stratified


@pytest.mark.parametrize("dataset", ["strat_ties", "lung", "veteran"])
def test_stratified_logrank_matches_r(dataset):
    data, gcol, scol = LOGRANK_DATA[dataset]
    ref = _reference(dataset, "stratified")
    res = stratified_logrank(data["time"], data["event"], data[gcol], data[scol])
    assert res.chi2 == pytest.approx(ref["chisq"].iloc[0], abs=TOL)
    assert res.p == pytest.approx(ref["p"].iloc[0], abs=TOL)
    assert res.df == ref["df"].iloc[0]
    _assert_counts(res, ref)


@pytest.mark.parametrize("dataset", ["strat_ties", "lung", "gehan"])
def test_single_stratum_is_the_ordinary_logrank(dataset):
    data, gcol, _ = LOGRANK_DATA[dataset]
    ref = _reference(dataset, "unstratified")
    res = stratified_logrank(data["time"], data["event"], data[gcol], ["all"] * len(data))
    assert res.chi2 == pytest.approx(ref["chisq"].iloc[0], abs=TOL)
    assert res.df == ref["df"].iloc[0]
    _assert_counts(res, ref)
    plain = logrank_test(data["time"], data["event"], data[gcol])
    assert res.chi2 == pytest.approx(plain.chi2, abs=1e-10)


def test_gehan_published_logrank():
    res = stratified_logrank(GEHAN["time"], GEHAN["event"], GEHAN["group"], [1] * len(GEHAN))
    assert round(res.chi2, 2) == 16.79
    assert f"{res.p:.2e}" == "4.17e-05"


def test_stratified_logrank_edge_cases():
    nan = stratified_logrank([1, 2, 3, 4], [0, 0, 0, 0], ["a", "b", "a", "b"], [1, 1, 2, 2])
    assert math.isnan(nan.chi2) and math.isnan(nan.p) and nan.df == 0
    with pytest.raises(ValueError, match="at least 2 groups"):
        stratified_logrank([1, 2], [1, 1], ["a", "a"], [1, 2])
    with pytest.raises(ValueError, match="strata must have the same length"):
        stratified_logrank([1, 2], [1, 1], ["a", "b"], [1])
    with pytest.raises(ValueError, match="strata contains missing"):
        stratified_logrank([1, 2], [1, 1], ["a", "b"], [1, None])


# --------------------------------------------------------------------------- trend


TREND_SCORES = {
    ("strat_ties", "trend"): ({"SR": 1, "MR": 2, "HR": 3, "VHR": 4}, False),
    ("strat_ties", "trend_uneven"): ({"SR": 0, "MR": 1, "HR": 3, "VHR": 10}, False),
    ("strat_ties", "trend_stratified"): ({"SR": 1, "MR": 2, "HR": 3, "VHR": 4}, True),
    ("lung", "trend"): (None, False),
    ("lung", "trend_stratified"): (None, True),
}


@pytest.mark.parametrize(("dataset", "test"), sorted(TREND_SCORES))
def test_trend_matches_r(dataset, test):
    data, gcol, scol = LOGRANK_DATA[dataset]
    scores, stratified = TREND_SCORES[(dataset, test)]
    ref = _reference(dataset, test)
    res = trend_test(
        data["time"], data["event"], data[gcol], scores, strata=data[scol] if stratified else None
    )
    assert res.chi2 == pytest.approx(ref["chisq"].iloc[0], abs=TOL)
    assert res.p == pytest.approx(ref["p"].iloc[0], abs=TOL)
    assert res.df == 1
    np.testing.assert_allclose(list(res.scores.values()), ref["score"].astype(float))
    _assert_counts(res, ref)


def test_trend_with_numeric_labels_uses_them_as_scores():
    st = STRAT_TIES
    by_label = trend_test(
        st["time"], st["event"], st["group"], {"SR": 1, "MR": 2, "HR": 3, "VHR": 4}
    )
    numeric = trend_test(st["time"], st["event"], st["risk"])
    assert numeric.chi2 == pytest.approx(by_label.chi2, abs=1e-12)
    assert numeric.scores == {1: 1.0, 2: 2.0, 3: 3.0, 4: 4.0}


def test_trend_properties():
    st = STRAT_TIES
    base = trend_test(st["time"], st["event"], st["risk"])
    shifted = trend_test(st["time"], st["event"], st["risk"], {k: 10.0 + 3 * k for k in range(5)})
    assert shifted.chi2 == pytest.approx(base.chi2, abs=1e-10)  # affine scores: same test
    two = trend_test(GEHAN["time"], GEHAN["event"], GEHAN["group"], {"6-MP": 0, "control": 1})
    assert two.chi2 == pytest.approx(_reference("gehan", "unstratified")["chisq"].iloc[0], abs=TOL)


def test_trend_refusals():
    st = STRAT_TIES
    with pytest.raises(ValueError, match="needs scores for non-numeric"):
        trend_test(st["time"], st["event"], st["group"])
    with pytest.raises(ValueError, match=r"no value for group\(s\) \['VHR'\]"):
        trend_test(st["time"], st["event"], st["group"], {"SR": 1, "MR": 2, "HR": 3})
    with pytest.raises(ValueError, match="must not all be equal"):
        trend_test(st["time"], st["event"], st["risk"], dict.fromkeys(range(1, 5), 1.0))
    with pytest.raises(ValueError, match="finite"):
        trend_test(st["time"], st["event"], st["risk"], {1: 1, 2: 2, 3: np.nan, 4: 4})
    empty = trend_test([1, 2, 3], [0, 0, 0], [1, 2, 3])
    assert math.isnan(empty.chi2) and math.isnan(empty.p)


# --------------------------------------------------------------------------- Mantel-Byar

MB_DATA = {
    "heart_tx": (HEART, "transplant"),
    "jasa1_tx": (JASA1, "transplant"),
    "hsct_tx": (HSCT_SPLIT, "exposed"),
}


@pytest.mark.parametrize("model", sorted(MB_DATA))
@pytest.mark.parametrize("method", MANTEL_BYAR_METHODS)
def test_mantel_byar_matches_r_coxph_score(model, method):
    data, col = MB_DATA[model]
    ref = R_COX[(R_COX["model"] == model) & (R_COX["ties"] == method)].iloc[0]
    res = mantel_byar(data["start"], data["stop"], data["event"], data[col], method=method)
    assert res.statistic == pytest.approx(ref["score"], abs=TOL)
    assert res.p == pytest.approx(ref["score_p"], abs=TOL)
    assert res.method == method and res.df == 1
    assert res.observed == float(data.loc[data[col] == 1, "event"].sum())
    assert res.observed - res.expected == pytest.approx(res.u, abs=1e-12)
    assert res.statistic == pytest.approx(res.u**2 / res.variance, abs=1e-12)


def test_mantel_byar_stanford_heart_domain_value():
    res = mantel_byar(HEART["start"], HEART["stop"], HEART["event"], HEART["transplant"])
    assert round(res.p, 2) == 0.67


def test_mantel_byar_methods_agree_without_ties():
    data = HSCT_SPLIT.astype({"start": float, "stop": float})
    data["stop"] += np.arange(len(data)) * 1e-3  # no two intervals end together
    assert not data.loc[data["event"] == 1, "stop"].duplicated().any()
    results = [
        mantel_byar(data["start"], data["stop"], data["event"], data["exposed"], method=m)
        for m in MANTEL_BYAR_METHODS
    ]
    for res in results[1:]:
        assert res.statistic == pytest.approx(results[0].statistic, abs=1e-10)


def test_mantel_byar_methods_differ_with_ties():
    d = HSCT_SPLIT
    stat = {
        m: mantel_byar(d["start"], d["stop"], d["event"], d["exposed"], method=m).statistic
        for m in MANTEL_BYAR_METHODS
    }
    assert stat["breslow"] < stat["exact"] < stat["efron"]


def test_mantel_byar_strata_and_edge_cases():
    d = HEART
    one = mantel_byar(d["start"], d["stop"], d["event"], d["transplant"], strata=[0] * len(d))
    plain = mantel_byar(d["start"], d["stop"], d["event"], d["transplant"])
    assert one.statistic == pytest.approx(plain.statistic, abs=1e-12)
    by_surgery = mantel_byar(
        d["start"], d["stop"], d["event"], d["transplant"], strata=d["surgery"]
    )
    assert by_surgery.statistic != pytest.approx(plain.statistic)
    never = mantel_byar([0, 0], [1, 2], [1, 1], [0, 0])
    assert math.isnan(never.statistic) and math.isnan(never.p) and never.observed == 0
    with pytest.raises(ValueError, match="start >= stop"):
        mantel_byar([0, 2], [1, 2], [1, 1], [0, 1])
    with pytest.raises(ValueError, match="method must be one of"):
        mantel_byar([0], [1], [1], [0], method="peto")
    with pytest.raises(ValueError, match="event must be 0"):
        mantel_byar([0], [1], [2], [0])
    with pytest.raises(ValueError, match="exposed must be 0"):
        mantel_byar([0], [1], [1], [2])
    with pytest.raises(ValueError, match="equal lengths"):
        mantel_byar([0, 0], [1], [1], [1])


# --------------------------------------------------------------------------- split


def test_split_matches_r_tmerge():
    out = split_at_exposure(HSCT, "time", "event", "hsct_day", id_col="id")
    assert list(out.columns) == ["id", "start", "stop", "event", "exposed", "age"]
    pd.testing.assert_frame_equal(
        out.reset_index(drop=True), HSCT_SPLIT, check_dtype=False, check_exact=True
    )


def test_split_reproduces_jasa1():
    patients = _csv("jasa_patients.csv")
    out = split_at_exposure(patients, "futime", "fustat", "wait_time", id_col="id")
    expected = JASA1.rename(columns={"transplant": "exposed"})
    cols = ["id", "start", "stop", "event", "exposed"]
    pd.testing.assert_frame_equal(out[cols], expected[cols], check_dtype=False)


def test_split_conventions():
    df = pd.DataFrame(
        {
            "time": [100.0, 100.0, 100.0, 100.0, 100.0, 100.0],
            "event": [1, 1, 0, 1, 1, 0],
            "exposure": [np.nan, 0.0, 100.0, 100.0, 150.0, 40.0],
            "arm": list("abcdef"),
        },
        index=[10, 11, 12, 13, 14, 15],
    )
    out = split_at_exposure(df, "time", "event", "exposure")
    rows = [tuple(r) for r in out[["id", "start", "stop", "event", "exposed", "arm"]].to_numpy()]
    assert rows == [
        (10, 0.0, 100.0, 1, 0, "a"),  # never exposed
        (11, 0.0, 100.0, 1, 1, "b"),  # exposed at 0: exposed from 0
        (12, 0.0, 100.0, 0, 0, "c"),  # exposed on the day of censoring: not exposed
        (13, 0.0, 100.0, 1, 0, "d"),  # exposed on the day of the event: not exposed
        (14, 0.0, 100.0, 1, 0, "e"),  # exposed after the end of follow-up: not exposed
        (15, 0.0, 40.0, 0, 0, "f"),  # exposed strictly before the end: split
        (15, 40.0, 100.0, 0, 1, "f"),
    ]


def test_split_feeds_mantel_byar():
    out = split_at_exposure(HSCT, "time", "event", "hsct_day", id_col="id")
    ref = R_COX[(R_COX["model"] == "hsct_tx") & (R_COX["ties"] == "efron")].iloc[0]
    res = mantel_byar(out["start"], out["stop"], out["event"], out["exposed"])
    assert res.statistic == pytest.approx(ref["score"], abs=TOL)


def test_split_invalid_input():
    base = pd.DataFrame({"t": [10.0, 20.0], "e": [1, 0], "x": [5.0, np.nan]})
    with pytest.raises(ValueError, match="follow-up time <= 0"):
        split_at_exposure(base.assign(t=[0.0, 20.0]), "t", "e", "x")
    with pytest.raises(ValueError, match="negative"):
        split_at_exposure(base.assign(x=[-1.0, np.nan]), "t", "e", "x")
    with pytest.raises(ValueError, match="'nope' is not in the data"):
        split_at_exposure(base, "t", "e", "nope")
    with pytest.raises(ValueError, match="unique"):
        split_at_exposure(base.assign(pid=[1, 1]), "t", "e", "x", id_col="pid")
    with pytest.raises(ValueError, match="clash"):
        split_at_exposure(base.assign(start=1), "t", "e", "x")
    with pytest.raises(ValueError, match="missing"):
        split_at_exposure(base.assign(t=[10.0, np.nan]), "t", "e", "x")
