"""Tests for cohortflow.stats.competing against hand-worked values and R cmprsk::cuminc.

R reference tables in tests/fixtures/competing/ were produced by make_reference.R
there (R 4.2.2, survival 3.5.3, cmprsk 2.2.11; see r_session.txt). The tests need no R.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cohortflow.stats.competing import (
    CIF_CI_METHODS,
    CIFResult,
    cif_at,
    cumulative_incidence,
    gray_test,
)
from cohortflow.stats.survival import kaplan_meier, survival_at

FIXTURES = Path(__file__).parent / "fixtures" / "competing"
TOL = 1e-9  # required agreement with R is 1e-6; the implementation agrees to ~1e-13

# five patients: at t=2 one cause-1, one cause-2 and one censoring; cause 1 at 4; censored 5
HAND5_T = [2, 2, 2, 4, 5]
HAND5_E = [1, 2, 0, 1, 0]


def _read(name: str) -> pd.DataFrame:
    return pd.read_csv(FIXTURES / name, keep_default_na=False, na_values=["NA"])


def _datasets() -> dict[str, pd.DataFrame]:
    cols = ["time", "status", "group", "strata"]
    ties = _read("cr_ties.csv")[cols]
    ab = ties[ties["group"] != "C"]

    def plus(row: tuple) -> pd.DataFrame:
        return pd.concat([ab, pd.DataFrame([dict(zip(cols, row, strict=True))])], ignore_index=True)

    return {
        "ties": ties,
        "ties_AB": ab.reset_index(drop=True),
        "mgus2": _read("cr_mgus2.csv")[cols],
        "hand5": pd.DataFrame({"time": HAND5_T, "status": HAND5_E, "group": "x", "strata": "s"}),
        "one_late": plus((900, 2, "Z", "s1")),
        "one_early": plus((1, 0, "Z", "s1")),
        "one_event": plus((450, 1, "Z", "s2")),
    }


DATASETS = _datasets()
R_AT = _read("r_cuminc_at.csv")
R_CUMINC = _read("r_cuminc.csv")
R_GRAY = _read("r_gray.csv")


def _group(dataset: str, group: str) -> pd.DataFrame:
    d = DATASETS[dataset]
    return d[d["group"].astype(str) == str(group)]


# --------------------------------------------------------------------------- hand-worked


def test_hand_worked_five_patients():
    res = cumulative_incidence(HAND5_T, HAND5_E, cause=1)
    tab = res.table
    assert isinstance(res, CIFResult)
    assert tab["time"].tolist() == [0.0, 2.0, 4.0, 5.0]
    assert tab["n_risk"].tolist() == [5, 5, 2, 1]
    assert tab["n_event"].tolist() == [0, 1, 1, 0]
    assert tab["n_competing"].tolist() == [0, 1, 0, 0]
    assert tab["n_censor"].tolist() == [0, 1, 0, 1]
    # t=2: S(2-)=1, F = 1 * 1/5 = 0.2; all-cause S(2) = 3/5
    # t=4: 2 at risk (4 and 5; the one censored at 2 has gone), F = 0.2 + 3/5 * 1/2 = 0.5
    assert tab["cif"].to_numpy() == pytest.approx([0.0, 0.2, 0.5, 0.5], abs=1e-15)
    # Var(t) = sum over failure times s <= t of S(s-)^2 d/n^2 * (a(s) - F(t) b(s))^2 with
    # cause terms a = 1 + F(s)/S(s), b = 1/S(s) and competing terms a = F(s)/S(s), b = 1/S(s)
    # t=2: cause 1 * 1/25 * 1^2 = 0.04; competing 0.04 * ((0.2 - 0.2)/0.6)^2 = 0
    # t=4: cause@2 0.04 * (1 + (0.2-0.5)/0.6)^2 = 0.01, competing@2 0.04 * (-0.5)^2 = 0.01,
    #      cause@4 (0.6^2 * 1/4) * 1^2 = 0.09; total 0.11
    assert tab["variance"].to_numpy() == pytest.approx([0.0, 0.04, 0.11, 0.11], abs=1e-15)
    assert tab["se"].to_numpy() == pytest.approx(np.sqrt([0.0, 0.04, 0.11, 0.11]), abs=1e-15)
    z = stats.norm.ppf(0.975)
    a = z * math.sqrt(0.04) / (0.2 * math.log(0.2))
    assert tab.loc[1, "lower"] == pytest.approx(0.2 ** math.exp(-a), abs=1e-15)
    assert tab.loc[1, "upper"] == pytest.approx(0.2 ** math.exp(a), abs=1e-15)
    assert (tab.loc[0, "lower"], tab.loc[0, "upper"]) == (0.0, 0.0)  # F = 0: (0, 0)
    assert (res.n, res.events, res.competing, res.cause) == (5, 2, 1, 1)

    # cause 2: F jumps only at 2 (1 * 1/5); variance constant after it
    res2 = cumulative_incidence(HAND5_T, HAND5_E, cause=2).table
    assert res2["cif"].to_numpy() == pytest.approx([0.0, 0.2, 0.2, 0.2], abs=1e-15)
    assert res2["variance"].to_numpy() == pytest.approx([0.0, 0.04, 0.04, 0.04], abs=1e-15)
    assert res2["n_event"].tolist() == [0, 1, 0, 0]
    assert res2["n_competing"].tolist() == [0, 1, 1, 0]


def test_hand_worked_matches_r():
    r = R_AT[R_AT["dataset"] == "hand5"]
    assert r[r["cause"] == 1]["est"].tolist() == pytest.approx([0.2, 0.5, 0.5], abs=1e-15)
    assert r[r["cause"] == 1]["var"].tolist() == pytest.approx([0.04, 0.11, 0.11], abs=1e-15)


def test_cifs_and_event_free_survival_sum_to_one():
    d = DATASETS["ties"]
    causes = sorted(set(d["status"]) - {0})
    times = np.unique(d["time"])
    total = sum(
        cif_at(cumulative_incidence(d["time"], d["status"], cause=c), times)["cif"].to_numpy()
        for c in causes
    )
    km = kaplan_meier(d["time"], (d["status"] > 0).astype(int))
    assert total + survival_at(km, times)["survival"].to_numpy() == pytest.approx(1.0, abs=1e-12)


def test_without_competing_events_cif_is_one_minus_km():
    t = [3, 3, 5, 6, 6, 6, 9, 12]
    e = [1, 0, 1, 1, 1, 0, 0, 1]
    cif = cumulative_incidence(t, e).table
    km = kaplan_meier(t, e).table
    assert cif["cif"].to_numpy() == pytest.approx(1.0 - km["survival"].to_numpy(), abs=1e-15)
    # with one cause cuminc's variance is the Aalen-type S(t)^2 sum d c / (n - d)^2, with the
    # tie factor c = 1 - (d - 1)/(n - 1); not Greenwood's S(t)^2 sum d / (n (n - d))
    n, d = km["n_risk"].to_numpy(float), km["n_event"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.where(d > 1, 1 - (d - 1) / (n - 1), 1.0)
        aalen = km["survival"].to_numpy() ** 2 * np.cumsum(np.where(d > 0, d * c / (n - d) ** 2, 0))
    assert cif["variance"].to_numpy()[:-1] == pytest.approx(aalen[:-1], abs=1e-15)
    assert cif["variance"].iloc[1] == pytest.approx((7 / 8) ** 2 / 7**2)  # 1/64
    assert km["se"].iloc[1] ** 2 == pytest.approx((7 / 8) ** 2 / (8 * 7))  # Greenwood, smaller


# --------------------------------------------------------------------------- R cuminc


def test_fixture_has_the_cases_it_is_for():
    d = DATASETS["ties"]
    by_time = d.groupby("time")["status"]
    assert (by_time.apply(lambda s: {1, 2} <= set(s))).any()  # causes 1 and 2 tied
    assert (by_time.apply(lambda s: 0 in set(s) and len(set(s) - {0}) > 0)).any()
    assert set(d["status"]) == {0, 1, 2, 3}
    assert sorted(set(d["group"])) == ["A", "B", "C"]
    assert sorted(set(d["strata"])) == ["s1", "s2"]
    for name in ("one_late", "one_early", "one_event"):
        assert (DATASETS[name]["group"] == "Z").sum() == 1


AT_KEYS = sorted(
    {(r.dataset, str(r.group), int(r.cause)) for r in R_AT.itertuples()}, key=lambda k: str(k)
)


@pytest.mark.parametrize(("dataset", "group", "cause"), AT_KEYS)
def test_cif_matches_r_cuminc_at_every_time(dataset, group, cause):
    """cuminc + timepoints at every distinct observed time of the group."""
    r = R_AT[(R_AT["dataset"] == dataset) & (R_AT["group"].astype(str) == group)]
    r = r[r["cause"] == cause]
    d = _group(dataset, group)
    res = cumulative_incidence(d["time"], d["status"], cause=cause)
    ours = cif_at(res, r["time"].to_numpy())
    assert ours["cif"].to_numpy() == pytest.approx(r["est"].to_numpy(), abs=TOL)
    assert ours["variance"].to_numpy() == pytest.approx(r["var"].to_numpy(), abs=TOL)
    # every distinct observed time is a table row
    assert set(r["time"]) <= set(res.table["time"])
    # CI: R column computed with est^exp(-/+ z sqrt(var) / (est log est)); where that is
    # undefined R gives NaN (est 0) or 1 (est 1); we give (0, 0) and NaN
    est = r["est"].to_numpy()
    inner = (est > 0) & (est < 1)
    for col in ("lower", "upper"):
        assert ours[col].to_numpy()[inner] == pytest.approx(r[col].to_numpy()[inner], abs=TOL)
        assert (ours[col].to_numpy()[est == 0] == 0.0).all()
        assert np.isnan(ours[col].to_numpy()[est == 1]).all()


def test_cif_matches_r_cuminc_step_vectors():
    """cuminc's own (time, est, var) corner points: value after each jump."""
    checked = 0
    for (dataset, group, cause), r in R_CUMINC.groupby(["dataset", "group", "cause"]):
        d = _group(dataset, str(group))
        res = cumulative_incidence(d["time"], d["status"], cause=int(cause))
        # cuminc's vectors: 0, then pairs (before, after) at each cause time, then the end
        after = r.iloc[2:-1:2] if len(r) > 2 else r.iloc[0:0]
        ours = cif_at(res, after["time"].to_numpy())
        assert ours["cif"].to_numpy() == pytest.approx(after["est"].to_numpy(), abs=TOL)
        assert ours["variance"].to_numpy() == pytest.approx(after["var"].to_numpy(), abs=TOL)
        jumps = res.table[res.table["n_event"] > 0]
        assert jumps["time"].tolist() == after["time"].tolist()
        assert r["time"].iloc[-1] == res.table["time"].iloc[-1]
        checked += len(after)
    assert checked > 500


def test_mgus2_progression_values():
    """A spot check on the real data set: men, cause 1 (progression) at 120 months."""
    d = _group("mgus2", "M")
    row = cif_at(cumulative_incidence(d["time"], d["status"], cause=1), [120]).iloc[0]
    r = R_AT[(R_AT["dataset"] == "mgus2") & (R_AT["group"] == "M") & (R_AT["cause"] == 1)]
    r = r[r["time"] <= 120].iloc[-1]
    assert row["cif"] == pytest.approx(r["est"], abs=TOL)
    assert row["variance"] == pytest.approx(r["var"], abs=TOL)
    assert 0.05 < row["cif"] < 0.15


# --------------------------------------------------------------------------- Gray's test


GRAY_ROWS = [r._asdict() for r in R_GRAY.itertuples(index=False)]


@pytest.mark.parametrize(
    "row",
    GRAY_ROWS,
    ids=[f"{r['dataset']}-c{r['cause']}-rho{r['rho']}-strata{r['strata']}" for r in GRAY_ROWS],
)
def test_gray_matches_r_cuminc_tests(row):
    d = DATASETS[row["dataset"]]
    res = gray_test(
        d["time"],
        d["status"],
        d["group"],
        cause=int(row["cause"]),
        strata=d["strata"] if row["strata"] else None,
        rho=float(row["rho"]),
    )
    assert res.df == row["df"]
    if row["stat"] == -1:  # cuminc's code for a singular variance
        assert math.isnan(res.statistic) and math.isnan(res.p)
    else:
        assert res.statistic == pytest.approx(row["stat"], abs=TOL, rel=1e-9)
        assert res.p == pytest.approx(row["pv"], abs=TOL, rel=1e-9)


def test_gray_group_of_one_patient():
    # at risk at many event times: a valid 3-group test
    d = DATASETS["one_late"]
    res = gray_test(d["time"], d["status"], d["group"], cause=1)
    assert res.groups == ("A", "B", "Z") and res.df == 2
    assert res.statistic == pytest.approx(0.79543867062585649, abs=TOL)
    # censored before any event: the variance matrix is singular (cuminc: stat -1, p 1)
    d = DATASETS["one_early"]
    res = gray_test(d["time"], d["status"], d["group"], cause=1)
    assert math.isnan(res.statistic) and math.isnan(res.p)
    assert np.linalg.matrix_rank(res.variance) == 1


def test_gray_two_groups_published_like_values():
    d = DATASETS["mgus2"]
    res = gray_test(d["time"], d["status"], d["group"], cause=2)
    # cuminc(mgus2): death without progression differs by sex
    assert res.statistic == pytest.approx(11.651259012127738, abs=TOL)
    assert res.p == pytest.approx(0.00064159097640792417, rel=1e-9)
    assert res.groups == ("F", "M")
    assert res.score.shape == (1,) and res.variance.shape == (1, 1)


def test_gray_invariant_to_labels_and_row_order():
    d = DATASETS["ties"]
    base = gray_test(d["time"], d["status"], d["group"], strata=d["strata"])
    relabel = d["group"].map({"A": "z", "B": "y", "C": "x"})
    perm = np.random.default_rng(1).permutation(len(d))
    other = gray_test(
        d["time"].to_numpy()[perm],
        d["status"].to_numpy()[perm],
        relabel.to_numpy()[perm],
        strata=d["strata"].to_numpy()[perm],
    )
    assert other.statistic == pytest.approx(base.statistic, abs=1e-12)


def test_gray_one_group_or_bad_input_raises():
    with pytest.raises(ValueError, match="at least 2 groups"):
        gray_test([1, 2, 3], [1, 2, 0], ["a", "a", "a"])
    with pytest.raises(ValueError, match="same length"):
        gray_test([1, 2, 3], [1, 2, 0], ["a", "b"])
    with pytest.raises(ValueError, match="missing"):
        gray_test([1, 2, 3], [1, 2, 0], ["a", None, "b"])
    with pytest.raises(ValueError, match="missing"):
        gray_test([1, 2, 3], [1, 2, 0], ["a", "b", "b"], strata=["s", None, "s"])


# --------------------------------------------------------------------------- determinism


def test_deterministic_and_order_independent():
    d = DATASETS["ties"]
    first = cumulative_incidence(d["time"], d["status"]).table
    second = cumulative_incidence(d["time"], d["status"]).table
    pd.testing.assert_frame_equal(first, second, check_exact=True)
    perm = np.random.default_rng(7).permutation(len(d))
    shuffled = cumulative_incidence(d["time"].to_numpy()[perm], d["status"].to_numpy()[perm])
    pd.testing.assert_frame_equal(first, shuffled.table, check_exact=False, rtol=0, atol=1e-15)


def test_lifelines_aalen_johansen_depends_on_its_jitter_seed():
    """lifelines breaks tied times by random jitter, so an event tied with a censoring
    lands before or after it depending on the seed. cuminc (and we) give 0.5 here."""
    import lifelines

    finals = []
    for seed in (0, 1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            aj = lifelines.AalenJohansenFitter(seed=seed).fit(HAND5_T, HAND5_E, 1)
        finals.append(float(aj.cumulative_density_.iloc[-1, 0]))
    assert finals[0] != pytest.approx(finals[1], abs=1e-6)
    assert 0.5 in [pytest.approx(f, abs=1e-12) for f in finals]
    assert cif_at(cumulative_incidence(HAND5_T, HAND5_E), [5])["cif"].iloc[0] == 0.5


# --------------------------------------------------------------------------- API details


def test_cif_at_step_function_and_beyond_follow_up():
    res = cumulative_incidence(HAND5_T, HAND5_E)
    out = cif_at(res, [0, 1, 2, 3, 4, 5, 6])
    assert out["cif"].tolist()[:6] == pytest.approx([0, 0, 0.2, 0.2, 0.5, 0.5], abs=1e-15)
    assert math.isnan(out["cif"].iloc[6]) and math.isnan(out["variance"].iloc[6])
    assert out["n_risk"].tolist() == [5, 5, 5, 2, 2, 1, 0]
    assert out["events"].tolist() == [0, 0, 1, 1, 2, 2, 2]
    assert out["competing"].tolist() == [0, 0, 1, 1, 1, 1, 1]


def test_time_zero_rows_and_absent_cause():
    res = cumulative_incidence([0, 0, 3], [1, 0, 2], cause=1)
    assert res.table["time"].tolist() == [0.0, 3.0]  # no extra row when 0 is observed
    assert res.table["cif"].tolist() == pytest.approx([1 / 3, 1 / 3])
    none = cumulative_incidence([1, 2, 3], [2, 0, 2], cause=1)
    assert (none.table["cif"] == 0).all() and (none.table["variance"] == 0).all()
    assert none.events == 0 and none.competing == 2


def test_cif_reaching_one_has_nan_interval():
    res = cumulative_incidence([1, 2], [1, 1])
    assert res.table["cif"].iloc[-1] == 1.0
    assert math.isnan(res.table["lower"].iloc[-1]) and math.isnan(res.table["upper"].iloc[-1])


def test_plain_ci_and_alpha():
    d = DATASETS["ties"]
    plain = cumulative_incidence(d["time"], d["status"], ci_method="plain").table
    z = stats.norm.ppf(0.975)
    expected = np.clip(plain["cif"] - z * plain["se"], 0, 1)
    assert plain["lower"].to_numpy() == pytest.approx(expected.to_numpy(), abs=1e-15)
    narrow = cumulative_incidence(d["time"], d["status"], alpha=0.5).table
    wide = cumulative_incidence(d["time"], d["status"], alpha=0.01).table
    inner = (wide["cif"] > 0).to_numpy()
    assert (wide["lower"].to_numpy()[inner] < narrow["lower"].to_numpy()[inner]).all()
    assert CIF_CI_METHODS == ("log-log", "plain")


@pytest.mark.parametrize(
    ("time", "event", "kwargs", "message"),
    [
        ([1, 2], [1], {}, "equal lengths"),
        ([], [], {}, "empty"),
        ([1, float("nan")], [1, 0], {}, "missing"),
        ([-1, 2], [1, 0], {}, "negative"),
        ([1, 2], [1, -1], {}, "positive integer"),
        ([1, 2], [1, 1.5], {}, "positive integer"),
        ([1, 2], [1, 0], {"cause": 0}, "cause"),
        ([1, 2], [1, 0], {"ci_method": "log"}, "ci_method"),
        ([1, 2], [1, 0], {"alpha": 1.5}, "alpha"),
    ],
)
def test_invalid_input_raises(time, event, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cumulative_incidence(time, event, **kwargs)
