"""RMST, Fine-Gray, delayed entry and the weighted log-rank family against R (issue 16).

Reference values: tests/fixtures/methods16/make_reference.R (R survival 3.5, cmprsk 2.2); the
tests read its CSV output and need no R.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cohortflow.core.errors import CohortflowError
from cohortflow.stats.competing import cumulative_incidence
from cohortflow.stats.cox import fit_cox
from cohortflow.stats.finegray import fit_fine_gray
from cohortflow.stats.rmst import compare_rmst, restricted_mean
from cohortflow.stats.survival import kaplan_meier, logrank_test, survival_at
from cohortflow.stats.wlogrank import WEIGHTS, weighted_logrank

FIX = Path(__file__).parent / "fixtures"
M16 = FIX / "methods16"
TOL = 1e-6


def _read(name: str) -> pd.DataFrame:
    return pd.read_csv(M16 / name)


GEHAN = pd.read_csv(FIX / "survtests" / "gehan.csv")
AML = pd.read_csv(FIX / "survtests" / "aml.csv")
ENTRY = _read("entry.csv")
FG = _read("fg.csv")


def _sets() -> dict[str, tuple]:
    return {
        "gehan": (GEHAN.time, GEHAN.event, GEHAN.group),
        "aml": (AML.time, AML.event, AML.nonmaintained),
        "entry_nodelay": (ENTRY.exit, ENTRY.event, ENTRY.group),
    }


# --------------------------------------------------------------------------- RMST


def test_rmst_per_group_difference_and_ratio_match_r():
    ref = _read("r_rmst.csv")
    sets = {**_sets(), "aml_all": (AML.time, AML.event, np.zeros(len(AML)))}
    worst = 0.0
    for (ds, tau), g in ref.groupby(["dataset", "tau"]):
        t, e, grp = sets[ds]
        rows = g.set_index("row")
        labels = [r for r in rows.index if r not in ("difference", "difference_p", "log_ratio")]
        for lab in labels:
            m = np.asarray(grp).astype(str) == str(lab) if ds != "aml_all" else slice(None)
            r = restricted_mean(np.asarray(t)[m], np.asarray(e)[m], tau, extend=True)
            worst = max(worst, abs(r.rmst - rows.loc[lab, "rmst"]), abs(r.se - rows.loc[lab, "se"]))
        if len(labels) == 2:
            c = compare_rmst(t, e, np.asarray(grp).astype(str), tau, order=labels, extend=True)
            assert c.difference == pytest.approx(rows.loc["difference", "rmst"], abs=TOL)
            assert c.diff_se == pytest.approx(rows.loc["difference", "se"], abs=TOL)
            assert c.diff_p == pytest.approx(rows.loc["difference_p", "rmst"], rel=1e-6)
            assert np.log(c.ratio) == pytest.approx(rows.loc["log_ratio", "rmst"], abs=TOL)
            se_log = (np.log(c.ratio_upper) - np.log(c.ratio)) / 1.959963984540054
            assert se_log == pytest.approx(rows.loc["log_ratio", "se"], abs=TOL)
    assert worst < 1e-9, worst


def test_rmst_refuses_tau_beyond_follow_up_unless_extended():
    with pytest.raises(ValueError, match="beyond the largest follow-up time"):
        restricted_mean(AML.time, AML.event, 162)
    assert restricted_mean(AML.time, AML.event, 161).extended is False  # tau == max is fine
    assert restricted_mean(AML.time, AML.event, 200, extend=True).extended is True
    # the group whose follow-up is too short is named
    with pytest.raises(ValueError, match="group 'control'"):
        compare_rmst(GEHAN.time, GEHAN.event, GEHAN.group, 30)


@pytest.mark.parametrize("tau", [0, -1, np.nan, np.inf])
def test_rmst_rejects_bad_tau(tau):
    with pytest.raises(ValueError, match="tau"):
        restricted_mean([1, 2, 3], [1, 0, 1], tau)


def test_rmst_nasty_inputs():
    # all events at one time (S drops to 0): area is tau * 1 up to it, variance term is 0
    r = restricted_mean([5, 5, 5], [1, 1, 1], 5)
    assert (r.rmst, r.se) == (5.0, 0.0)
    # no events: RMST = tau exactly, SE 0
    r = restricted_mean([4, 6, 9], [0, 0, 0], 3)
    assert (r.rmst, r.se) == (3.0, 0.0)
    with pytest.raises(ValueError, match="exactly 2 groups"):
        compare_rmst([1, 2, 3], [1, 1, 1], ["a", "b", "c"], 1)
    with pytest.raises(ValueError, match="missing"):
        compare_rmst([1, 2, 3], [1, 1, 1], ["a", None, "b"], 1)
    with pytest.raises(ValueError, match="order"):
        compare_rmst([1, 2, 3, 4], [1, 1, 1, 0], list("aabb"), 1, order=["a", "z"])
    with pytest.raises(ValueError, match="event must be 0"):
        restricted_mean([1, 2], [1, 2], 1)


# --------------------------------------------------------------------------- Fine-Gray


def _fg_cases() -> dict[str, tuple[pd.DataFrame, list[str]]]:
    mg = pd.read_csv(FIX / "competing" / "cr_mgus2.csv")
    mg["male"] = (mg.group == "M").astype(int)
    mg["age70"] = (mg.strata == "age70+").astype(int)
    fg2 = FG.assign(status=np.where(FG.status == 0, 0, 3 - FG.status))
    return {
        "fg": (FG, ["x1", "x2"]),
        "fg_x1": (FG, ["x1"]),
        "mgus2": (mg, ["male", "age70"]),
        "fg_cause2": (fg2, ["x1", "x2"]),
    }


@pytest.mark.parametrize("dataset", ["fg", "fg_x1", "mgus2", "fg_cause2"])
def test_fine_gray_matches_crr(dataset):
    ref = _read("r_fg.csv")
    d, covs = _fg_cases()[dataset]
    res = fit_fine_gray(d, "time", "status", covs)
    tight = ref[(ref.dataset == dataset) & (ref.gtol == "tight")].set_index("term")
    assert np.abs(res.table["coef"] - tight["coef"]).max() < TOL
    assert np.abs(res.table["se"] - tight["se"]).max() < TOL
    assert res.loglik == pytest.approx(tight["loglik"].iloc[0], abs=TOL)
    assert res.loglik_null == pytest.approx(tight["loglik_null"].iloc[0], abs=TOL)
    # crr's default stopping rule (gtol 1e-6) stops close to, not at, the maximum
    default = ref[(ref.dataset == dataset) & (ref.gtol == "default")].set_index("term")
    assert np.abs(res.table["coef"] - default["coef"]).max() < 1e-4
    assert np.allclose(res.table["shr"], np.exp(res.table["coef"]))


def test_fine_gray_cause_recoding_and_competing_code_does_not_matter():
    # the competing cause's code (2 or 7) must not change anything
    a = fit_fine_gray(FG, "time", "status", ["x1", "x2"])
    b = fit_fine_gray(FG.assign(status=FG.status.replace(2, 7)), "time", "status", ["x1", "x2"])
    assert np.allclose(a.table["coef"], b.table["coef"], atol=1e-12)
    assert np.allclose(a.table["se"], b.table["se"], atol=1e-12)
    # row order must not matter
    c = fit_fine_gray(FG.iloc[::-1].reset_index(drop=True), "time", "status", ["x1", "x2"])
    assert np.allclose(a.table["se"], c.table["se"], atol=1e-12)


def test_fine_gray_refusals():
    small = FG.head(12)
    with pytest.raises(CohortflowError, match=r"Fine-Gray model refused: \d+ events of cause 1"):
        fit_fine_gray(small, "time", "status", ["x1", "x2"])
    with pytest.raises(CohortflowError, match="'const' has no variation"):
        fit_fine_gray(FG.assign(const=1.0), "time", "status", ["x1", "const"])
    with pytest.raises(CohortflowError, match="no events of cause 3"):
        fit_fine_gray(FG, "time", "status", ["x1"], cause=3)
    no_ev = FG.assign(flag=(FG.status != 1).astype(int))  # level 1 never fails from cause 1
    with pytest.raises(CohortflowError, match="'flag' = 1 has 0 events"):
        fit_fine_gray(no_ev, "time", "status", ["flag"])
    with pytest.raises(CohortflowError, match="collinear"):
        fit_fine_gray(FG.assign(x3=2 * FG.x2 + 1), "time", "status", ["x2", "x3"])


def test_fine_gray_bad_input():
    with pytest.raises(ValueError, match="missing"):
        fit_fine_gray(FG.assign(x1=FG.x1.where(FG.id != 3)), "time", "status", ["x1"])
    with pytest.raises(ValueError, match="negative"):
        fit_fine_gray(FG.assign(time=FG.time - 100), "time", "status", ["x1"])
    with pytest.raises(ValueError, match="positive integer cause"):
        fit_fine_gray(FG.assign(status=FG.status * 0.5), "time", "status", ["x1"])
    with pytest.raises(ValueError, match="must be numeric"):
        fit_fine_gray(FG.assign(x1=FG.x1.astype(str)), "time", "status", ["x1"])
    with pytest.raises(ValueError, match="not in the data"):
        fit_fine_gray(FG, "time", "status", ["nope"])


def test_fine_gray_is_vectorised_enough_for_registry_sizes():
    # 3000 subjects with ties: a per-patient Python loop would take minutes; this must not
    rng = np.random.default_rng(1)
    n = 3000
    d = pd.DataFrame(
        {
            "time": rng.integers(1, 400, n).astype(float),
            "status": rng.choice([0, 1, 2], n),
            "x": rng.integers(0, 2, n),
        }
    )
    res = fit_fine_gray(d, "time", "status", ["x"])
    assert np.isfinite(res.table["se"]).all()


# --------------------------------------------------------------------------- delayed entry


@pytest.mark.parametrize("conf", ["log", "log-log"])
def test_km_with_delayed_entry_matches_survfit(conf):
    ref = _read("r_km_entry.csv")
    cases = [("entry_all", "All", ENTRY)] + [
        ("entry_group", g, d) for g, d in ENTRY.groupby("group")
    ]
    for ds, lab, d in cases:
        r = ref[(ref.dataset == ds) & (ref.conf_type == conf) & (ref.stratum == lab)]
        km = kaplan_meier(d.exit, d.event, ci_method=conf, entry=d.entry)
        tab = km.table.set_index("time").loc[r.time]
        assert (tab["n_risk"].to_numpy() == r.n_risk.to_numpy()).all()
        # R reports NA where S = 0; so does cohortflow (SE and limits NaN there, issue 11)
        zero = r.surv.to_numpy() == 0
        assert np.isnan(tab["se"].to_numpy()[zero]).all()
        # R's log-log limits are NA where S = 1; cohortflow documents (1, 1) there
        one = r.surv.to_numpy() == 1
        assert (tab.loc[one, ["lower", "upper"]].to_numpy() == 1).all()
        pairs = [("survival", "surv"), ("se", "se"), ("lower", "lower"), ("upper", "upper")]
        for mine, theirs in pairs:
            keep = ~zero & ~(one & (mine in ("lower", "upper")))
            a, b = tab[mine].to_numpy()[keep], r[theirs].to_numpy()[keep]
            assert np.isnan(a).sum() == np.isnan(b).sum() == 0
            assert np.abs(a - b).max() < TOL


def test_delayed_entry_changes_risk_sets_and_without_entry_nothing_changes():
    plain = kaplan_meier(ENTRY.exit, ENTRY.event)
    zero = kaplan_meier(ENTRY.exit, ENTRY.event, entry=np.zeros(len(ENTRY)))
    pd.testing.assert_frame_equal(plain.table, zero.table)
    late = kaplan_meier(ENTRY.exit, ENTRY.event, entry=ENTRY.entry)
    assert (late.table["n_risk"] <= plain.table["n_risk"]).all()
    # at-risk counts count a patient only from entry (entry < t <= exit; at 0 those entered at 0)
    at = survival_at(late, [0, 30, 31, 60])
    ent, ext = ENTRY.entry.to_numpy(), ENTRY.exit.to_numpy()
    assert at.n_risk.tolist() == [
        int((ent == 0).sum()),
        int(((ent < 30) & (ext >= 30)).sum()),
        int(((ent < 31) & (ext >= 31)).sum()),
        int(((ent < 60) & (ext >= 60)).sum()),
    ]


def test_delayed_entry_rejects_entry_not_before_exit():
    with pytest.raises(ValueError, match="entry >= exit"):
        kaplan_meier([5, 6], [1, 0], entry=[5, 0])
    with pytest.raises(ValueError, match="negative"):
        kaplan_meier([5, 6], [1, 0], entry=[-1, 0])
    with pytest.raises(ValueError, match="same length"):
        kaplan_meier([5, 6], [1, 0], entry=[0])
    with pytest.raises(ValueError, match="entry"):
        cumulative_incidence([5, 6], [1, 2], entry=[6, 0])


def test_logrank_with_delayed_entry_equals_r_cox_exact_score():
    ref = _read("r_entry_tests.csv")
    res = weighted_logrank(ENTRY.exit, ENTRY.event, ENTRY.group, entry=ENTRY.entry)
    assert res.chi2 == pytest.approx(ref.chisq.iloc[0], abs=TOL)
    no_entry = weighted_logrank(ENTRY.exit, ENTRY.event, ENTRY.group)
    assert no_entry.chi2 == pytest.approx(logrank_test(ENTRY.exit, ENTRY.event, ENTRY.group).chi2)
    assert abs(no_entry.chi2 - res.chi2) > 1e-3  # entry matters here


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_cox_with_entry_and_stratified_cox_zph_match_r(ties):
    ref = _read("r_cox_entry.csv")
    zref = _read("r_zph_entry.csv")
    for model in ("entry", "entry_strat", "strat2"):
        kw = {"start_col": "entry"} if model.startswith("entry") else {}
        fit = fit_cox(
            ENTRY,
            "exit",
            "event",
            ["x1", "x2"],
            ties=ties,
            strata="s" if "strat" in model else None,
            **kw,
        )
        r = ref[(ref.model == model) & (ref.ties == ties)].set_index("term")
        z = zref[(zref.model == model) & (zref.ties == ties)].set_index("term")
        assert np.abs(fit.table["coef"] - r["coef"]).max() < TOL
        assert np.abs(fit.table["se"] - r["se"]).max() < TOL
        assert fit.loglik == pytest.approx(r["loglik"].iloc[0], abs=TOL)
        assert np.abs(fit.ph_test["chisq"] - z["chisq"]).max() < TOL
        assert fit.ph_test.loc["GLOBAL", "df"] == 2


def test_aalen_johansen_with_delayed_entry_matches_multistate_survfit():
    ref = _read("r_aj_entry.csv")
    for cause in (1, 2):
        res = cumulative_incidence(ENTRY.exit, ENTRY.state, cause=cause, entry=ENTRY.entry)
        tab = res.table.set_index("time").loc[ref.time]
        assert np.abs(tab["cif"].to_numpy() - ref[f"cif{cause}"].to_numpy()).max() < TOL
        assert (tab["n_risk"].to_numpy() == ref.n_risk.to_numpy()).all()
    # without entry: unchanged
    a = cumulative_incidence(ENTRY.exit, ENTRY.state)
    b = cumulative_incidence(ENTRY.exit, ENTRY.state, entry=np.zeros(len(ENTRY)))
    pd.testing.assert_frame_equal(a.table, b.table)


# --------------------------------------------------------------------------- weighted log-rank

_W = {
    "logrank": ("logrank", 0, 0),
    "breslow": ("breslow", 0, 0),
    "tarone_ware": ("tarone-ware", 0, 0),
    "peto_peto": ("peto-peto", 0, 0),
    "fh_1_1": ("fleming-harrington", 1, 1),
    "fh_0_1": ("fleming-harrington", 0, 1),
    "fh_0.5_2": ("fleming-harrington", 0.5, 2),
    "rho=0": ("logrank", 0, 0),
    "rho=1": ("peto-peto", 0, 0),
    "rho=0.5": ("fleming-harrington", 0.5, 0),
}


def test_weighted_logrank_family_matches_r():
    ref = _read("r_wlogrank.csv")
    sets = _sets()
    n = 0
    for r in ref.itertuples():
        if r.dataset not in sets:
            continue
        w, rho, gamma = _W[r.test]
        res = weighted_logrank(*sets[r.dataset], w, rho=rho, gamma=gamma)
        assert res.chi2 == pytest.approx(r.chisq, abs=TOL), (r.dataset, r.test)
        n += 1
    assert n >= 25


def test_infant_study_spss_tests_and_the_published_p():
    """The issue's figures: relapse first 0.046 / 0.077 / 0.060; between the deaths Breslow
    0.0209, which prints as the published 0.021."""
    ref = _read("r_wlogrank.csv")
    t = np.array([219, 4200, 4000, 675, 3300, 364, 1800, 1500, 1140])
    e = np.array([1, 0, 0, 1, 0, 1, 0, 0, 0])
    g = np.array(["old", "old", "old", "young", "old", "young", "old", "old", "old"])
    for ds, times in (("infant", t), ("infant_between", np.where(t == 219, 500, t))):
        for test in ("logrank", "breslow", "tarone_ware"):
            res = weighted_logrank(times, e, g, _W[test][0])
            r = ref[(ref.dataset == ds) & (ref.test == test)].chisq.iloc[0]
            assert res.chi2 == pytest.approx(r, abs=TOL)
    between = weighted_logrank(np.where(t == 219, 500, t), e, g, "breslow")
    assert f"{between.p:.3f}" == "0.021"
    first = {w: weighted_logrank(t, e, g, w).p for w in ("logrank", "breslow", "tarone-ware")}
    assert [f"{first[w]:.3f}" for w in ("logrank", "breslow", "tarone-ware")] == [
        "0.046",
        "0.077",
        "0.060",
    ]


def test_weighted_logrank_labels_and_bad_input():
    t, e, g = _sets()["aml"]
    labels = {w: weighted_logrank(t, e, g, w).label for w in WEIGHTS}
    assert len(set(labels.values())) == len(WEIGHTS)
    assert "Breslow" in labels["breslow"] and "Tarone-Ware" in labels["tarone-ware"]
    fh = weighted_logrank(t, e, g, "fleming-harrington", rho=1, gamma=0.5)
    assert fh.label == "Fleming-Harrington G(1, 0.5)"
    with pytest.raises(ValueError, match="weights must be one of"):
        weighted_logrank(t, e, g, "wilcoxon")
    with pytest.raises(ValueError, match="only to weights"):
        weighted_logrank(t, e, g, "breslow", rho=1)
    with pytest.raises(ValueError, match="rho must be"):
        weighted_logrank(t, e, g, "fleming-harrington", rho=-1)
    with pytest.raises(ValueError, match="at least 2 groups"):
        weighted_logrank(t, e, np.zeros(len(t)))
    # no events: no information, NaN statistic, not a crash
    res = weighted_logrank([1, 2, 3, 4], [0, 0, 0, 0], ["a", "a", "b", "b"], "breslow")
    assert np.isnan(res.chi2) and res.df == 0
