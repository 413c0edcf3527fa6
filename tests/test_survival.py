"""Tests for cohortflow.stats.survival against published values, R survival and lifelines.

R reference tables in tests/fixtures/survival/ were produced by make_reference.R
there (R 4.2.2, survival 3.5.3); see r_session.txt.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cohortflow.stats.survival import (
    CI_METHODS,
    KMResult,
    kaplan_meier,
    logrank_test,
    median_survival,
    number_at_risk,
    survival_at,
)

FIXTURES = Path(__file__).parent / "fixtures" / "survival"

# Gehan/Freireich 6-MP trial (MASS::gehan), weeks in remission
GEHAN_6MP_T = [6, 6, 6, 6, 7, 9, 10, 10, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 32, 34, 35]
GEHAN_6MP_E = [1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]
GEHAN_PBO_T = [1, 1, 2, 2, 3, 4, 4, 5, 5, 8, 8, 8, 8, 11, 11, 12, 12, 15, 17, 22, 23]
GEHAN_PBO_E = [1] * 21
# R survival::aml, weeks
AML_MAINT_T = [9, 13, 13, 18, 23, 28, 31, 34, 45, 48, 161]
AML_MAINT_E = [1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0]
AML_NONM_T = [5, 5, 8, 8, 12, 16, 23, 27, 30, 33, 43, 45]
AML_NONM_E = [1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1]


def _ties() -> pd.DataFrame:
    return pd.read_csv(FIXTURES / "ties_censoring.csv")


def _datasets() -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    ties = _ties()
    raw = {
        "gehan": (
            GEHAN_6MP_T + GEHAN_PBO_T,
            GEHAN_6MP_E + GEHAN_PBO_E,
            ["6-MP"] * 21 + ["control"] * 21,
        ),
        "aml": (
            AML_MAINT_T + AML_NONM_T,
            AML_MAINT_E + AML_NONM_E,
            ["Maintained"] * 11 + ["Nonmaintained"] * 12,
        ),
        "ties": (ties["time"], ties["event"], ties["group"]),
        "flat_end": ([1, 2, 5, 6], [1, 1, 0, 0], ["x"] * 4),
        "flat_zero": ([1, 2, 4, 6], [1, 1, 0, 1], ["x"] * 4),
        "infant": ([100, 200, 300] + [1500] * 6, [1, 1, 1] + [0] * 6, ["x"] * 9),
    }
    return {k: tuple(np.asarray(v) for v in vals) for k, vals in raw.items()}


DATASETS = _datasets()


def _subset(dataset: str, group: str) -> tuple[np.ndarray, np.ndarray]:
    t, e, g = DATASETS[dataset]
    return t[g == group], e[g == group]


# --------------------------------------------------------------------------- published values


class TestGehan:
    def test_km_week_10_log_and_loglog(self):
        km_log = kaplan_meier(GEHAN_6MP_T, GEHAN_6MP_E, ci_method="log")
        km_ll = kaplan_meier(GEHAN_6MP_T, GEHAN_6MP_E, ci_method="log-log")
        r_log = survival_at(km_log, [10]).iloc[0]
        r_ll = survival_at(km_ll, [10]).iloc[0]
        assert r_log["survival"] == pytest.approx(0.753, abs=5e-4)
        assert r_log["survival"] == pytest.approx(0.75294117647058811, abs=1e-12)
        assert r_log["se"] == pytest.approx(0.0963, abs=5e-5)
        assert (r_log["lower"], r_log["upper"]) == pytest.approx((0.586, 0.968), abs=5e-4)
        assert (r_ll["lower"], r_ll["upper"]) == pytest.approx((0.503, 0.889), abs=5e-4)
        assert r_log["n_risk"] == 15
        assert r_log["events"] == 5

    def test_medians(self):
        assert median_survival(kaplan_meier(GEHAN_6MP_T, GEHAN_6MP_E))[0] == 23
        assert median_survival(kaplan_meier(GEHAN_PBO_T, GEHAN_PBO_E))[0] == 8
        # R survfit (log): 6-MP 23 (16, NA); placebo 8 (4, 12)
        m, lo, hi = median_survival(kaplan_meier(GEHAN_6MP_T, GEHAN_6MP_E, ci_method="log"))
        assert (m, lo) == (23, 16) and math.isnan(hi)
        assert median_survival(kaplan_meier(GEHAN_PBO_T, GEHAN_PBO_E, ci_method="log")) == (
            8,
            4,
            12,
        )

    def test_logrank(self):
        t, e, g = DATASETS["gehan"]
        res = logrank_test(t, e, g)
        assert res.chi2 == pytest.approx(16.79, abs=5e-3)
        assert res.p == pytest.approx(4.17e-5, rel=1e-3)
        assert res.df == 1
        assert res.observed == {"6-MP": 9.0, "control": 21.0}
        assert res.expected["6-MP"] == pytest.approx(19.2505, abs=1e-4)
        assert res.expected["control"] == pytest.approx(10.7495, abs=1e-4)
        assert list(res.observed) == ["6-MP", "control"]


class TestAml:
    def test_logrank(self):
        t, e, g = DATASETS["aml"]
        res = logrank_test(t, e, g)
        assert res.chi2 == pytest.approx(3.4, abs=5e-3)
        # R survdiff: chisq 3.3963887, p = pchisq(3.3964, 1) = 0.06534. (DOMAIN.md's
        # 0.0645 is not reproducible from this statistic.)
        assert res.p == pytest.approx(0.0653, abs=5e-5)
        assert res.observed == {"Maintained": 7.0, "Nonmaintained": 11.0}

    def test_medians(self):
        assert median_survival(kaplan_meier(AML_MAINT_T, AML_MAINT_E))[0] == 31
        assert median_survival(kaplan_meier(AML_NONM_T, AML_NONM_E))[0] == 23


def test_infant_hand_worked():
    """9 infants: events at 100, 200, 300 days, 6 censored at 1500: 66.7 +/- 15.7 % at 3 y."""
    km = kaplan_meier([100, 200, 300] + [1500] * 6, [1, 1, 1] + [0] * 6)
    row = survival_at(km, [3 * 365.25]).iloc[0]
    assert row["survival"] == pytest.approx(6 / 9, abs=1e-12)
    assert row["se"] == pytest.approx(math.sqrt(6 / 9 * 3 / 9 / 9), abs=1e-12)
    assert round(100 * row["survival"], 1) == 66.7
    assert round(100 * row["se"], 1) == 15.7
    assert row["n_risk"] == 6
    assert row["events"] == 3
    assert math.isnan(median_survival(km)[0])


# --------------------------------------------------------------------------- R survival


def _r_csv(name: str) -> pd.DataFrame:
    return pd.read_csv(FIXTURES / name, na_values="NA", keep_default_na=False)


R_KM = _r_csv("r_km.csv")
R_KM_KEYS = sorted(R_KM.groupby(["dataset", "group", "conf_type"]).groups)


@pytest.mark.parametrize(("dataset", "group", "conf_type"), R_KM_KEYS)
def test_km_matches_r_survfit(dataset, group, conf_type):
    ref = R_KM[
        (R_KM["dataset"] == dataset) & (R_KM["group"] == group) & (R_KM["conf_type"] == conf_type)
    ]
    t, e = _subset(dataset, group)
    tab = kaplan_meier(t, e, ci_method=conf_type).table
    # R has no time-0 row unless something happens at time 0
    tab = tab[tab["time"].isin(ref["time"])].reset_index(drop=True)
    assert tab["time"].tolist() == ref["time"].tolist()
    for col in ("n_risk", "n_event", "n_censor"):
        assert tab[col].tolist() == ref[col].tolist()
    np.testing.assert_allclose(tab["survival"], ref["surv"], rtol=0, atol=1e-12)
    # R reports se NA where S = 0 (Inf * 0); so do we (missing, never 0)
    r_se = ref["se"].to_numpy()
    zero = tab["survival"].to_numpy() == 0
    assert np.isnan(r_se[zero]).all()
    assert np.isnan(tab["se"].to_numpy()[zero]).all()
    np.testing.assert_allclose(tab["se"][~zero], r_se[~zero], rtol=0, atol=1e-12)
    # R gives NA for log-log at S = 1; we give (1, 1)
    one = tab["survival"].to_numpy() == 1
    for col in ("lower", "upper"):
        ours = tab[col].to_numpy()
        np.testing.assert_allclose(ours[~one], ref[col].to_numpy()[~one], rtol=0, atol=1e-12)
        assert (ours[one] == 1).all()


R_MED = _r_csv("r_median.csv")


@pytest.mark.parametrize(
    "row", R_MED.to_dict("records"), ids=lambda r: f"{r['dataset']}-{r['group']}-{r['conf_type']}"
)
def test_median_matches_r_quantile(row):
    t, e = _subset(row["dataset"], row["group"])
    got = median_survival(kaplan_meier(t, e, ci_method=row["conf_type"]))
    np.testing.assert_allclose(got, (row["median"], row["lower"], row["upper"]), equal_nan=True)


def test_median_flat_at_half_is_midpoint():
    # S = 0.5 from t = 2 to the last follow-up at 6 -> R gives (2 + 6) / 2
    assert median_survival(kaplan_meier([1, 2, 5, 6], [1, 1, 0, 0]))[0] == 4.0
    # S = 0.5 from 2 until the next drop at 6
    assert median_survival(kaplan_meier([1, 2, 4, 6], [1, 1, 0, 1]))[0] == 4.0


R_LR = _r_csv("r_logrank.csv")


@pytest.mark.parametrize("dataset", sorted(R_LR["dataset"].unique()))
def test_logrank_matches_r_survdiff(dataset):
    ref = R_LR[R_LR["dataset"] == dataset]
    if dataset == "ties_AB":
        ties = _ties()
        ties = ties[ties["group"] != "C"]
        t, e, g = ties["time"], ties["event"], ties["group"]
    else:
        t, e, g = DATASETS[dataset]
    res = logrank_test(t, e, g)
    assert res.chi2 == pytest.approx(ref["chisq"].iloc[0], rel=1e-12)
    assert res.p == pytest.approx(ref["p"].iloc[0], rel=1e-9)
    assert res.df == ref["df"].iloc[0]
    assert list(res.observed) == ref["group"].tolist()
    np.testing.assert_allclose(list(res.observed.values()), ref["observed"], rtol=1e-12)
    np.testing.assert_allclose(list(res.expected.values()), ref["expected"], rtol=1e-12)


# --------------------------------------------------------------------------- lifelines


@pytest.mark.parametrize("group", ["A", "B", "C"])
def test_km_matches_lifelines(group):
    import lifelines

    ties = _ties()
    sub = ties[ties["group"] == group]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kmf = lifelines.KaplanMeierFitter().fit(sub["time"], sub["event"], alpha=0.05)
    tab = kaplan_meier(sub["time"], sub["event"], ci_method="log-log").table
    sf = kmf.survival_function_.iloc[:, 0]
    ci = kmf.confidence_interval_
    np.testing.assert_array_equal(sf.index.to_numpy(dtype=float), tab["time"].to_numpy())
    np.testing.assert_allclose(tab["survival"], sf.to_numpy(), rtol=0, atol=1e-9)
    ll_se = sf.to_numpy() * np.sqrt(kmf._cumulative_sq_.to_numpy())
    # where S = 0 lifelines reports an SE of 0; we report it missing, as R does
    alive = tab["survival"].to_numpy() > 0
    np.testing.assert_allclose(tab["se"][alive], ll_se[alive], rtol=0, atol=1e-9)
    assert tab["se"][~alive].isna().all()
    # lifelines reports (0, 0) where S = 0; we report NaN (as R)
    pos = tab["survival"].to_numpy() > 0
    np.testing.assert_allclose(tab["lower"][pos], ci.iloc[:, 0].to_numpy()[pos], atol=1e-9)
    np.testing.assert_allclose(tab["upper"][pos], ci.iloc[:, 1].to_numpy()[pos], atol=1e-9)
    assert tab["lower"][~pos].isna().all() and tab["upper"][~pos].isna().all()


def test_ties_fixture_has_the_cases_it_is_for():
    ties = _ties()
    event_times = set(ties.loc[ties["event"] == 1, "time"])
    censored_at_event_time = (ties["event"] == 0) & ties["time"].isin(event_times)
    assert censored_at_event_time.sum() >= 5
    assert ties.loc[ties["event"] == 1, "time"].duplicated().any()
    assert ((ties["time"] == 0) & (ties["event"] == 1)).any()


def test_logrank_matches_lifelines_two_and_three_groups():
    import lifelines.statistics as stats

    ties = _ties()
    ab = ties[ties["group"] != "C"]
    a, b = ab[ab["group"] == "A"], ab[ab["group"] == "B"]
    ref2 = stats.logrank_test(a["time"], b["time"], a["event"], b["event"])
    res2 = logrank_test(ab["time"], ab["event"], ab["group"])
    assert res2.chi2 == pytest.approx(ref2.test_statistic, rel=1e-9)
    assert res2.p == pytest.approx(ref2.p_value, rel=1e-9)
    ref3 = stats.multivariate_logrank_test(ties["time"], ties["group"], ties["event"])
    res3 = logrank_test(ties["time"], ties["event"], ties["group"])
    assert res3.chi2 == pytest.approx(ref3.test_statistic, rel=1e-9)
    assert res3.p == pytest.approx(ref3.p_value, rel=1e-9)
    assert res3.df == ref3.degrees_of_freedom == 2


# --------------------------------------------------------------------------- behaviour


def test_table_shape_and_time_zero():
    km = kaplan_meier(GEHAN_6MP_T, GEHAN_6MP_E)
    assert isinstance(km, KMResult)
    assert list(km.table.columns) == [
        "time",
        "n_risk",
        "n_event",
        "n_censor",
        "survival",
        "se",
        "lower",
        "upper",
    ]
    first = km.table.iloc[0]
    assert first["time"] == 0 and first["n_risk"] == 21 and first["survival"] == 1
    assert (first["se"], first["lower"], first["upper"]) == (0, 1, 1)
    assert km.n == 21 and km.events == 9
    assert km.ci_method == "log-log" and km.alpha == 0.05
    assert km.table["time"].is_monotonic_increasing
    assert km.table["n_event"].sum() + km.table["n_censor"].sum() == 21


def test_event_at_time_zero_is_counted_at_zero():
    km = kaplan_meier([0, 5, 10, 10], [1, 1, 0, 1])
    assert km.table["time"].tolist() == [0, 5, 10]
    assert km.table["survival"].iloc[0] == pytest.approx(0.75)


def test_all_fail_at_last_time_gives_missing_se_and_nan_ci():
    for method in CI_METHODS:
        tab = kaplan_meier([1, 2, 3, 3], [1, 0, 1, 1], ci_method=method).table
        last = tab.iloc[-1]
        assert last["survival"] == 0 and math.isnan(last["se"])
        assert math.isnan(last["lower"]) and math.isnan(last["upper"])


def test_alpha_widens_interval():
    narrow = kaplan_meier(GEHAN_6MP_T, GEHAN_6MP_E, alpha=0.2).table.iloc[3]
    wide = kaplan_meier(GEHAN_6MP_T, GEHAN_6MP_E, alpha=0.01).table.iloc[3]
    assert wide["lower"] < narrow["lower"] < narrow["upper"] < wide["upper"]


def test_plain_ci_is_clipped():
    tab = kaplan_meier(GEHAN_6MP_T, GEHAN_6MP_E, ci_method="plain").table
    assert (tab["upper"] <= 1).all() and (tab["lower"] >= 0).all()
    assert tab["upper"].iloc[1] == 1.0  # 0.857 + 1.96 * 0.0764 > 1


def test_survival_at_step_function_and_beyond_follow_up():
    km = kaplan_meier(GEHAN_6MP_T, GEHAN_6MP_E)
    out = survival_at(km, [0, 5.9, 6, 6.5, 35, 36])
    assert list(out.columns) == ["time", "n_risk", "events", "survival", "se", "lower", "upper"]
    assert out["n_risk"].tolist() == [21, 21, 21, 17, 1, 0]
    assert out["events"].tolist() == [0, 0, 3, 3, 9, 9]
    np.testing.assert_allclose(out["survival"][:5], [1, 1, 18 / 21, 18 / 21, 0.448179271708683])
    assert out.iloc[5][["survival", "se", "lower", "upper"]].isna().all()


def test_number_at_risk():
    assert number_at_risk(GEHAN_6MP_T, [0, 6, 6.5, 10, 35, 36]) == [21, 21, 17, 15, 1, 0]
    assert number_at_risk(np.array([1.0, 2.0]), np.array([])) == []


@pytest.mark.parametrize(
    ("time", "event", "message"),
    [
        ([1, 2], [1], "equal lengths"),
        ([1, -2], [1, 0], "negative"),
        ([1, 2], [1, 2], "0 \\(censored\\) or 1"),
        ([1, float("nan")], [1, 0], "missing"),
        ([1, 2], [1, float("nan")], "missing"),
        ([], [], "empty"),
        (["a", "b"], [1, 0], "numeric"),
    ],
)
def test_invalid_input_raises(time, event, message):
    with pytest.raises(ValueError, match=message):
        kaplan_meier(time, event)


def test_invalid_options_raise():
    with pytest.raises(ValueError, match="ci_method"):
        kaplan_meier([1], [1], ci_method="logit")
    with pytest.raises(ValueError, match="alpha"):
        kaplan_meier([1], [1], alpha=1.5)
    with pytest.raises(ValueError, match="at least 2 groups"):
        logrank_test([1, 2], [1, 1], ["a", "a"])
    with pytest.raises(ValueError, match="same length"):
        logrank_test([1, 2], [1, 1], ["a"])
    with pytest.raises(ValueError, match="missing"):
        logrank_test([1, 2], [1, 1], ["a", None])


def test_logrank_without_events_is_nan():
    res = logrank_test([1, 2, 3], [0, 0, 0], ["a", "b", "b"])
    assert math.isnan(res.chi2) and math.isnan(res.p) and res.df == 0


def test_logrank_group_labels_sorted_and_plain_python():
    res = logrank_test(GEHAN_PBO_T + GEHAN_6MP_T, GEHAN_PBO_E + GEHAN_6MP_E, [2] * 21 + [1] * 21)
    assert list(res.observed) == [1, 2]
    assert all(type(k) is int for k in res.observed)
    assert res.chi2 == pytest.approx(16.79294098921654, rel=1e-12)


def test_survival_at_stays_zero_after_the_curve_reaches_zero():
    km = kaplan_meier([364.0, 675.0], [1, 1])
    at = survival_at(km, [365.25, 1095.75])
    assert list(at["survival"]) == [0.5, 0.0]
    assert np.isnan(at["se"].iloc[1])  # undefined at S = 0 (R: NA), never 0
    assert list(at["n_risk"]) == [1, 0] and list(at["events"]) == [1, 2]
    censored_last = survival_at(kaplan_meier([100.0, 200.0], [1, 0]), [300.0])
    assert np.isnan(censored_last["survival"].iloc[0])


def test_km_se_is_missing_where_survival_reaches_zero():
    # the last two subjects die at the same time: S = 0, Greenwood infinite, R: se NA
    km = kaplan_meier([1, 2, 3, 3], [1, 0, 1, 1])
    last = km.table.iloc[-1]
    assert last["survival"] == 0
    assert np.isnan(last["se"]) and np.isnan(last["lower"]) and np.isnan(last["upper"])
    at = survival_at(km, [2.5, 3, 10])
    assert np.isnan(at["se"].iloc[1]) and np.isnan(at["se"].iloc[2])
    assert at["survival"].iloc[2] == 0  # stays 0 after the curve reached 0
    assert at["se"].iloc[0] > 0
