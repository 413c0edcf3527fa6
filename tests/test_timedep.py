"""Tests for cohortflow.stats.timedep: landmark analysis and Simon-Makuch curves.

R reference tables in tests/fixtures/competing/ were produced by make_reference.R
there (R 4.2.2, survival 3.5.3; see r_session.txt): Simon-Makuch curves are R
``survfit(Surv(start, stop, event) ~ exposed)`` on counting-process data, the landmark
curves and test R ``survfit`` / ``survdiff`` on the landmark subset. The Stanford heart
transplant data (``survival::heart``) are stored one row per patient in
heart_patients.csv (exposure = transplant); R checked that the counting-process rows
rebuilt from it equal ``survival::heart``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cohortflow.stats.survival import kaplan_meier, logrank_test
from cohortflow.stats.timedep import (
    EXPOSED,
    UNEXPOSED,
    counting_process,
    curve_at,
    landmark,
    landmark_compare,
    simon_makuch,
)

FIXTURES = Path(__file__).parent / "fixtures" / "competing"
TOL = 1e-9  # required agreement with R is 1e-6; the implementation agrees to ~1e-15

# eight patients; exposure (e.g. HSCT) times, None = never exposed
SMALL = {
    "time": [2, 3, 4, 5, 6, 7, 8, 9],
    "event": [1, 0, 1, 1, 0, 1, 1, 0],
    "exposure_time": [None, 1, None, 3, 4, None, 3, 5],
}


def _read(name: str) -> pd.DataFrame:
    return pd.read_csv(FIXTURES / name, keep_default_na=False, na_values=["NA", ""])


HEART = _read("heart_patients.csv")
R_SM = _read("r_simon_makuch.csv")
R_LM_KM = _read("r_landmark_km.csv")
R_LM_LR = _read("r_landmark_logrank.csv")
SM_DATA = {"heart": HEART, "small": pd.DataFrame(SMALL)}


# --------------------------------------------------------------------------- Simon-Makuch


def test_simon_makuch_hand_worked():
    """Intervals: unexposed (0, e] then exposed (e, time].

    unexposed: #1 (0,2]+, #2 (0,1], #3 (0,4]+, #4 (0,3], #5 (0,4], #6 (0,7]+, #7 (0,3],
    #8 (0,5]  (+ = event; the others end by switching to exposed)
    exposed:   #2 (1,3], #4 (3,5]+, #5 (4,6], #7 (3,8]+, #8 (5,9]
    """
    curves = simon_makuch(**SMALL)
    un = curves[UNEXPOSED].table
    assert un["time"].tolist() == [0, 1, 2, 3, 4, 5, 7]
    assert un["n_risk"].tolist() == [8, 8, 7, 6, 4, 2, 1]
    assert un["n_event"].tolist() == [0, 0, 1, 0, 1, 0, 1]
    assert un["n_switch"].tolist() == [0, 1, 0, 2, 1, 1, 0]
    assert un["n_censor"].tolist() == [0, 1, 0, 2, 1, 1, 0]
    s2 = 6 / 7
    s4 = s2 * 3 / 4
    assert un["survival"].to_numpy() == pytest.approx([1, 1, s2, s2, s4, s4, 0], abs=1e-15)
    gw4 = 1 / (7 * 6) + 1 / (4 * 3)
    assert un["se"].iloc[4] == pytest.approx(s4 * math.sqrt(gw4), abs=1e-15)
    assert math.isnan(un["se"].iloc[-1]) and math.isnan(un["lower"].iloc[-1])

    ex = curves[EXPOSED].table
    # at 3: only #2 is at risk (#4 and #7 enter just after 3); at 5 #8 enters just after
    assert ex["time"].tolist() == [0, 3, 5, 6, 8, 9]
    assert ex["n_risk"].tolist() == [0, 1, 3, 3, 2, 1]
    assert ex["n_event"].tolist() == [0, 0, 1, 0, 1, 0]
    assert ex["n_switch"].tolist() == [0] * 6
    assert ex["survival"].to_numpy() == pytest.approx([1, 1, 2 / 3, 2 / 3, 1 / 3, 1 / 3])
    assert ex["se"].iloc[-1] == pytest.approx(1 / 3 * math.sqrt(1 / 6 + 1 / 2), abs=1e-15)
    assert (curves[UNEXPOSED].n, curves[EXPOSED].n) == (8, 5)
    assert (curves[UNEXPOSED].events, curves[EXPOSED].events) == (3, 2)


SM_KEYS = sorted({(r.dataset, r.conf_type, r.curve) for r in R_SM.itertuples()})


@pytest.mark.parametrize(("dataset", "conf_type", "curve"), SM_KEYS)
def test_simon_makuch_matches_r_survfit_counting_process(dataset, conf_type, curve):
    d = SM_DATA[dataset]
    ours = simon_makuch(d["time"], d["event"], d["exposure_time"], ci_method=conf_type)[curve]
    r = R_SM[(R_SM["dataset"] == dataset) & (R_SM["conf_type"] == conf_type)]
    r = r[r["curve"] == curve]
    tab = ours.table
    # our table = R's rows plus the time-0 row
    assert tab["time"].iloc[0] == 0.0
    assert tab["time"].iloc[1:].tolist() == r["time"].tolist()
    tab = tab.iloc[1:]
    for col in ("n_risk", "n_event", "n_censor"):
        assert tab[col].tolist() == r[col].tolist()
    assert tab["survival"].to_numpy() == pytest.approx(r["surv"].to_numpy(), abs=TOL)
    r_se = r["se"].to_numpy()
    ok = ~np.isnan(r_se)  # R: NaN where the curve is 0; so do we
    assert tab["se"].to_numpy()[ok] == pytest.approx(r_se[ok], abs=TOL)
    assert np.isnan(tab["se"].to_numpy()[~ok]).all()
    for col in ("lower", "upper"):
        rv = r[col].to_numpy()
        ok = ~np.isnan(rv)  # R log-log: NA where S = 1; we report 1
        assert tab[col].to_numpy()[ok] == pytest.approx(rv[ok], abs=TOL)
        rest = tab[col].to_numpy()[~ok]
        surv = tab["survival"].to_numpy()[~ok]
        assert np.all((surv == 1) & (rest == 1) | (surv == 0) & np.isnan(rest))


def test_heart_counting_process_has_survival_heart_shape():
    cp = counting_process(HEART["time"], HEART["event"], HEART["exposure_time"])
    assert len(HEART) == 103
    assert len(cp) == 172  # rows of survival::heart
    assert int(cp["exposed"].sum()) == 69  # transplanted
    assert int(cp["switch"].sum()) == 69
    assert int(cp["event"].sum()) == 75
    # patient 38: transplanted at 4.5 (R's data moved it half a day before death at 5)
    p38 = cp[cp["index"] == int(np.flatnonzero(HEART["id"] == 38)[0])]
    assert p38[["start", "stop", "event", "exposed"]].values.tolist() == [
        [0.0, 4.5, 0, 0],
        [4.5, 5.0, 1, 1],
    ]


def test_heart_simon_makuch_values():
    curves = simon_makuch(HEART["time"], HEART["event"], HEART["exposure_time"])
    at = {k: curve_at(c, [0, 100, 365]) for k, c in curves.items()}
    r = R_SM[(R_SM["dataset"] == "heart") & (R_SM["conf_type"] == "log-log")]
    for label in (UNEXPOSED, EXPOSED):
        rc = r[(r["curve"] == label) & (r["time"] <= 365)].iloc[-1]
        assert at[label]["survival"].iloc[2] == pytest.approx(rc["surv"], abs=TOL)
    # the unexposed risk set shrinks fast (deaths and transplants): at day 100 only
    # candidates still waiting are in it
    assert at[UNEXPOSED]["n_risk"].tolist()[0] == 103
    assert at[EXPOSED]["n_risk"].tolist()[0] == 0
    assert curves[EXPOSED].n == 69 and curves[UNEXPOSED].n == 103


def test_without_exposure_simon_makuch_is_kaplan_meier():
    t = [0, 3, 3, 5, 6, 6, 9, 12]
    e = [1, 1, 0, 1, 1, 0, 0, 1]
    curves = simon_makuch(t, e, [None] * 8)
    assert list(curves) == [UNEXPOSED]
    km = kaplan_meier(t, e).table
    sm = curves[UNEXPOSED].table
    for col in ("time", "n_risk", "n_event", "n_censor", "survival", "se", "lower", "upper"):
        pd.testing.assert_series_equal(sm[col], km[col], check_dtype=False)
    # exposure at or after the end of follow-up is ignored
    same = simon_makuch(t, e, [None, 3, 4, None, 6, None, 20, 12])
    pd.testing.assert_frame_equal(same[UNEXPOSED].table, sm)


def test_exposure_at_origin_is_exposed_throughout():
    curves = simon_makuch([2, 4, 5], [1, 1, 0], [0, None, 0])
    assert curves[EXPOSED].table["n_risk"].tolist() == [2, 2, 1]
    assert curves[EXPOSED].table["survival"].tolist() == pytest.approx([1, 0.5, 0.5])
    assert curves[UNEXPOSED].table["time"].tolist() == [0, 4]


def test_curve_at():
    curves = simon_makuch(**SMALL)
    out = curve_at(curves[EXPOSED], [0, 2, 3, 3.5, 5, 8.5, 9, 10])
    # n_risk: in the exposed risk set at t (start < t <= stop)
    assert out["n_risk"].tolist() == [0, 1, 1, 2, 3, 1, 1, 0]  # 3.5: #4, #7
    assert out["events"].tolist() == [0, 0, 0, 0, 1, 2, 2, 2]
    assert out["survival"].iloc[:7].tolist() == pytest.approx([1, 1, 1, 1, 2 / 3, 1 / 3, 1 / 3])
    assert math.isnan(out["survival"].iloc[7])
    un = curve_at(curves[UNEXPOSED], [8])  # curve reached 0 at 7: stays 0
    assert un["survival"].iloc[0] == 0 and un["n_risk"].iloc[0] == 0


# --------------------------------------------------------------------------- landmark


def test_landmark_conventions():
    d = landmark(
        time=[5, 10, 10, 12, 15, 20, 30],
        event=[1, 1, 0, 1, 0, 1, 0],
        exposure_time=[None, 2, None, 10, 11, None, 9],
        landmark=10,
    )
    # time <= 10 excluded (event at exactly the landmark and censoring at it too)
    assert d.n_excluded == 3 and d.n_input == 7
    tab = d.table
    assert tab["index"].tolist() == [3, 4, 5, 6]
    assert tab["time"].tolist() == [2, 5, 10, 20]  # re-based
    # exposure at exactly 10 counts as exposed; exposure at 11 (after) stays unexposed
    assert tab["group"].tolist() == [EXPOSED, UNEXPOSED, UNEXPOSED, EXPOSED]
    assert d.n_exposed_later == 1

    cmp = landmark_compare(d)
    assert cmp.n == {EXPOSED: 2, UNEXPOSED: 2}
    assert cmp.km[EXPOSED].table["survival"].tolist() == pytest.approx([1, 0.5, 0.5])
    assert cmp.logrank is not None and cmp.logrank.df == 1


def test_landmark_one_group_has_no_test():
    cmp = landmark_compare(landmark([5, 8], [1, 0], [None, None], landmark=1))
    assert list(cmp.km) == [UNEXPOSED] and cmp.logrank is None
    assert cmp.n[EXPOSED] == 0
    with pytest.raises(ValueError, match="no subject"):
        landmark_compare(landmark([5, 8], [1, 0], [None, None], landmark=8))


@pytest.mark.parametrize("lm", [21, 51])
def test_landmark_matches_r_on_heart(lm):
    # the fixture landmarks coincide with observed end times and transplant times
    assert (HEART["time"] == lm).any() and (HEART["exposure_time"] == lm).any()
    data = landmark(HEART["time"], HEART["event"], HEART["exposure_time"], landmark=lm)
    cmp = landmark_compare(data, ci_method="log-log")
    rl = R_LM_LR[R_LM_LR["landmark"] == lm].set_index("group")
    assert cmp.n == {g: int(rl.loc[g, "n"]) for g in (EXPOSED, UNEXPOSED)}
    assert cmp.logrank.chi2 == pytest.approx(rl["chisq"].iloc[0], abs=TOL)
    assert cmp.logrank.p == pytest.approx(rl["p"].iloc[0], abs=TOL)
    for g in (EXPOSED, UNEXPOSED):
        assert cmp.logrank.observed[g] == rl.loc[g, "observed"]
        assert cmp.logrank.expected[g] == pytest.approx(rl.loc[g, "expected"], abs=TOL)
        r = R_LM_KM[(R_LM_KM["landmark"] == lm) & (R_LM_KM["group"] == g)]
        tab = cmp.km[g].table.set_index("time").loc[r["time"].to_numpy()]
        assert tab["n_risk"].tolist() == r["n_risk"].tolist()
        for ours, theirs in (("survival", "surv"), ("se", "se"), ("lower", "lower")):
            rv = r[theirs].to_numpy()
            ok = ~np.isnan(rv)
            assert tab[ours].to_numpy()[ok] == pytest.approx(rv[ok], abs=TOL)


def test_landmark_removes_immortal_time_bias_on_heart():
    """Naive 'ever transplanted' from day 0 vs landmark at day 51."""
    ever = HEART["exposure_time"].notna()
    naive = logrank_test(HEART["time"], HEART["event"], ever)
    assert naive.p < 1e-4  # transplant looks strongly protective
    cmp = landmark_compare(
        landmark(HEART["time"], HEART["event"], HEART["exposure_time"], landmark=51)
    )
    assert cmp.logrank.p > 0.5


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"time": [1, 2], "event": [1], "exposure_time": [None, None]}, "equal lengths"),
        ({"time": [], "event": [], "exposure_time": []}, "empty"),
        ({"time": [1, float("nan")], "event": [1, 0], "exposure_time": [1, 1]}, "missing"),
        ({"time": [-1, 2], "event": [1, 0], "exposure_time": [1, 1]}, "negative"),
        ({"time": [1, 2], "event": [1, 2], "exposure_time": [1, 1]}, "event must be"),
        ({"time": [1, 2], "event": [1, 0], "exposure_time": [-1, 1]}, "negative"),
    ],
)
def test_invalid_input_raises(kwargs, message):
    with pytest.raises(ValueError, match=message):
        simon_makuch(**kwargs)
    with pytest.raises(ValueError, match=message):
        landmark(**kwargs, landmark=1)


def test_invalid_options_raise():
    with pytest.raises(ValueError, match="ci_method"):
        simon_makuch(**SMALL, ci_method="arcsin")
    with pytest.raises(ValueError, match="alpha"):
        simon_makuch(**SMALL, alpha=0)
    with pytest.raises(ValueError, match="landmark"):
        landmark(**SMALL, landmark=-1)
    with pytest.raises(ValueError, match="landmark"):
        landmark(**SMALL, landmark=float("nan"))


# --------------------------------------------------------------------------- delayed entry

ENTRY_FIXTURES = Path(__file__).parent / "fixtures" / "timedep_entry"
R_SM_ENTRY = pd.read_csv(ENTRY_FIXTURES / "r_sm_entry.csv", na_values=["NA"])
SM_ENTRY_DATA = {
    "small": pd.DataFrame({**SMALL, "entry": [0, 0.5, 1, 2, 0, 3, 1, 6]}),
    "random": pd.read_csv(ENTRY_FIXTURES / "sm_entry_random.csv"),
}


@pytest.mark.parametrize(
    ("dataset", "curve"), sorted({(r.dataset, r.curve) for r in R_SM_ENTRY.itertuples()})
)
def test_simon_makuch_with_delayed_entry_matches_r(dataset, curve):
    """R: survfit(Surv(tstart, tstop, event) ~ exposed) on the rows survival::tmerge builds
    with tstart = entry (tests/fixtures/timedep_entry/make_reference.R): subjects exposed
    before or at their entry, at the origin, during follow-up, never."""
    d = SM_ENTRY_DATA[dataset]
    curves = simon_makuch(d["time"], d["event"], d["exposure_time"], entry=d["entry"])
    tab = curves[curve].table
    r = R_SM_ENTRY[(R_SM_ENTRY["dataset"] == dataset) & (R_SM_ENTRY["curve"] == curve)]
    assert tab["time"].iloc[0] == 0.0
    tab = tab.iloc[1:]
    assert tab["time"].tolist() == pytest.approx(r["time"].tolist(), abs=1e-12)
    for col in ("n_risk", "n_event", "n_censor"):
        assert tab[col].tolist() == r[col].tolist(), col
    assert tab["survival"].to_numpy() == pytest.approx(r["surv"].to_numpy(), abs=TOL)
    for ours, theirs in (("se", "se"), ("lower", "lower"), ("upper", "upper")):
        rv = r[theirs].to_numpy()
        ok = ~np.isnan(rv)  # R: NA where S = 1 (limits) or S = 0; we report 1 / NaN
        assert tab[ours].to_numpy()[ok] == pytest.approx(rv[ok], abs=TOL)


def test_delayed_entry_at_zero_is_no_entry_and_late_entry_changes_risk_sets():
    d = pd.DataFrame(SMALL)
    plain = simon_makuch(d["time"], d["event"], d["exposure_time"])
    zero = simon_makuch(d["time"], d["event"], d["exposure_time"], entry=[0] * 8)
    for key in plain:
        pd.testing.assert_frame_equal(plain[key].table, zero[key].table)
    # subject 8 (time 9, exposed at 5) entering at 6 is exposed from entry: one exposed row
    cp = counting_process(d["time"], d["event"], d["exposure_time"], entry=[0] * 7 + [6])
    assert cp[cp["index"] == 7][["start", "stop", "exposed", "switch"]].values.tolist() == [
        [6.0, 9.0, 1, 0]
    ]
    # nobody entered late is at risk before entry: at time 4 only those entered before 4
    late = simon_makuch(d["time"], d["event"], d["exposure_time"], entry=[0, 0, 3.5, 0, 0, 5, 0, 0])
    at = curve_at(late[UNEXPOSED], [4, 5.5])
    assert at["n_risk"].tolist() == [3, 1]


@pytest.mark.parametrize(
    ("entry", "match"),
    [
        ([0, 0, 4, 0, 0, 0, 0, 0], "entry >= exit"),
        ([-1] + [0] * 7, "negative"),
        ([0], "same length"),
    ],
)
def test_delayed_entry_refuses_entry_not_before_exit(entry, match):
    with pytest.raises(ValueError, match=match):
        simon_makuch(**SMALL, entry=entry)
