"""Configured RMST, weighted log-rank, Fine-Gray and delayed entry: analysis wiring (issue 16).

Unit tests on small frames shaped like the analysis data (AVAL, CNSR, EVENTTYPE), plus checks of
the bundled studies' outputs on the shared workflow run.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cohortflow.analyse.survmethods import (
    DAYS_PER_MONTH,
    DAYS_PER_YEAR,
    entry_days,
    fine_gray_rows,
    rmst_rows,
    weighted_tests,
)
from cohortflow.stats.finegray import fit_fine_gray
from cohortflow.stats.rmst import restricted_mean

FG = pd.read_csv(Path(__file__).parent / "fixtures" / "methods16" / "fg.csv")
BASE = {"data_label": "TEST", "study": "s", "analysis": "a", "endpoint": "OS", "grouping": "g"}


def _data() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(7)
    n = 60
    d = pd.DataFrame(
        {
            "study_id": [f"P{i:03d}" for i in range(n)],
            "AVAL": rng.integers(30, 2000, n).astype(float),
            "CNSR": rng.choice([0, 1], n),
        }
    )
    lab = pd.Series(np.where(np.arange(n) % 3 == 0, "B", "A"), dtype=object)
    return d, lab


def test_rmst_rows_groups_difference_ratio_and_units():
    d, lab = _data()
    a = {"id": "a", "by": "g", "rmst": {"tau_years": 3}, "time_unit": "months"}
    rows = pd.DataFrame(rmst_rows(d, lab, ["A", "B"], a, None, BASE))
    assert rows["kind"].tolist() == ["group", "group", "difference", "ratio"]
    a_row, b_row, diff, ratio = rows.to_dict("records")
    m = (lab == "A").to_numpy()
    ref = restricted_mean(d.AVAL[m], d.CNSR[m] == 0, 3 * DAYS_PER_YEAR)
    assert a_row["estimate_days"] == ref.rmst and a_row["se_days"] == ref.se
    assert a_row["estimate"] == pytest.approx(ref.rmst / DAYS_PER_MONTH)
    assert diff["estimate_days"] == pytest.approx(b_row["estimate_days"] - a_row["estimate_days"])
    assert diff["stratum"] == "B - A" and ratio["stratum"] == "B / A"
    assert ratio["estimate"] == pytest.approx(b_row["estimate_days"] / a_row["estimate_days"])
    assert ratio["unit"] == "ratio" and a_row["unit"] == "months"
    assert 0 < diff["p"] < 1


def test_rmst_rows_refuse_time_dependent_grouping_and_short_follow_up():
    d, lab = _data()
    a = {"id": "a", "by": "hsct", "rmst": {"tau_years": 3}}
    rows = rmst_rows(d, lab, ["A", "B"], a, {"time_dependent": "hsct_date"}, BASE)
    assert len(rows) == 1 and rows[0]["status"].startswith("refused")
    assert "immortal-time" in rows[0]["note"]
    # tau beyond the follow-up of group B only: B refused with the reason, no comparison
    d2 = d.copy()
    d2.loc[(lab == "B").to_numpy(), "AVAL"] = 100.0
    rows = rmst_rows(d2, lab, ["A", "B"], {"rmst": {"tau_years": 3}}, None, BASE)
    kinds = {(r["stratum"], r["status"]) for r in rows}
    assert ("A", "estimated") in kinds
    assert ("B", "refused: horizon beyond follow-up") in kinds
    assert all(r["kind"] == "group" for r in rows)
    ext = rmst_rows(d2, lab, ["A", "B"], {"rmst": {"tau_years": 3, "extend": True}}, None, BASE)
    assert [r["kind"] for r in ext] == ["group", "group", "difference", "ratio"]
    assert "carried forward" in ext[1]["note"]


def test_weighted_tests_rows_are_labelled_and_carry_the_published_p():
    d, lab = _data()
    a = {"logrank_weights": ["breslow", {"weights": "fleming-harrington", "rho": 1, "gamma": 1}]}
    rows = weighted_tests(d, lab, ["A", "B"], a, BASE, 0.021)
    assert [r["test"] for r in rows] == [
        "Breslow (generalised Wilcoxon, weights n at risk)",
        "Fleming-Harrington G(1, 1)",
    ]
    assert all(r["published_p"] == 0.021 and 0 <= r["p"] <= 1 for r in rows)


def test_entry_days_clips_flags_and_drops(caplog):
    d = pd.DataFrame(
        {
            "study_id": ["P1", "P2", "P3", "P4", "P5"],
            "origin": pd.to_datetime(["2020-01-01"] * 5),
            "enrol": pd.to_datetime(["2019-12-01", "2020-02-01", None, "2020-06-01", "2020-03-01"]),
            "AVAL": [100.0, 100.0, 100.0, 100.0, 60.0],
            "CNSR": [0, 0, 0, 1, 0],
        }
    )
    ep = {"origin": "origin", "entry": "enrol"}
    with caplog.at_level(logging.WARNING, logger="cohortflow"):
        out = entry_days(d, ep, "a")
    assert out["study_id"].tolist() == ["P1", "P2"]
    assert out["ENTRY"].tolist() == [0.0, 31.0]  # entry before the origin counts as 0
    text = caplog.text
    assert "1 patient(s) without enrol" in text
    assert "FINDING: 2 patient(s) have their event or censoring on or before" in text
    assert "P4" in text and "P5" in text
    # no entry configured: the data come back unchanged
    pd.testing.assert_frame_equal(entry_days(d, {"origin": "origin"}, "a"), d)


def test_fine_gray_rows_fit_or_refuse_with_counts():
    d = FG.rename(columns={"time": "AVAL", "status": "EVENTTYPE"}).assign(
        grp=lambda x: np.where(x.x1 == 1, "B", "A")
    )
    ep = {
        "label": "Relapse",
        "events": [{"description": "Relapse"}],
        "competing": [{"description": "Death without relapse"}],
    }
    a = {
        "id": "rel",
        "endpoint": "REL",
        "fine_gray": {
            "covariates": [
                {"label": "Group B", "expr": "grp == 'B'"},
                {"label": "Score", "variable": "x2"},
            ]
        },
    }
    rows = fine_gray_rows(d, a, ep, "TEST")
    direct = fit_fine_gray(FG, "time", "status", ["x1", "x2"])
    assert [r["covariate"] for r in rows] == ["Group B", "Score"]
    assert rows[0]["hr"] == pytest.approx(float(direct.table.loc["x1", "shr"]), abs=1e-12)
    assert rows[1]["se"] == pytest.approx(float(direct.table.loc["x2", "se"]), abs=1e-12)
    assert all(r["method"] == "fine-gray" and r["model"] == "rel_fine_gray" for r in rows)
    # no events of the cause: refused, with counts and the configured note
    none = d.assign(EVENTTYPE=d.EVENTTYPE.replace(1, 2))
    a["fine_gray"]["refusal_note"] = "No relapse dates."
    (row,) = fine_gray_rows(none, a, ep, "TEST")
    assert row["status"].startswith("refused: there are no events of cause 1")
    assert "0 relapse" in row["status"] and "No relapse dates." in row["status"]


# --------------------------------------------------------------------------- bundled outputs


def test_infant_outputs_show_the_three_spss_tests_beside_the_published_p(workflow_run):
    t = pd.read_csv(workflow_run / "results/infant_all/analyse/tests.csv")
    t = t[t["analysis"] == "efs_by_age"].set_index("test")
    got = {name: f"{t.loc[name, 'p']:.3f}" for name in t.index}
    assert got == {
        "log-rank (unweighted)": "0.046",
        "Breslow (generalised Wilcoxon, weights n at risk)": "0.077",
        "Tarone-Ware (weights sqrt of n at risk)": "0.060",
    }
    assert (t["published_p"] == 0.021).all()
    md = (workflow_run / "results/infant_all/tables/survival.md").read_text(encoding="utf-8")
    assert "Breslow (generalised Wilcoxon" in md and "Tarone-Ware" in md
    assert "published P = 0.021" in md


def test_rr_all_rmst_by_status_and_age_not_by_hsct(workflow_run):
    r = pd.read_csv(workflow_run / "results/rr_all/analyse/rmst.csv")
    status = r[r["analysis"] == "os_by_status"]
    assert status["kind"].tolist() == ["group", "group", "difference", "ratio"]
    assert (status["tau_years"] == 3).all()
    age = r[r["analysis"] == "os_by_age"]
    assert (age["kind"] == "group").sum() == 3 and (age["kind"] == "difference").sum() == 2
    grp = status.set_index("stratum")
    diff = status[status["kind"] == "difference"].iloc[0]
    assert diff["estimate_days"] == pytest.approx(
        grp.loc["Refractory", "estimate_days"] - grp.loc["Relapsed", "estimate_days"]
    )
    assert (status["estimate_days"].dropna() <= 3 * DAYS_PER_YEAR).all()
    hsct = r[r["analysis"] == "os_by_hsct_naive"]
    assert len(hsct) == 1 and hsct["status"].iloc[0].startswith("refused")
    md = (workflow_run / "results/rr_all/tables/rmst.md").read_text(encoding="utf-8")
    assert "Not computed by HSCT" in md and "immortal" in md


def test_rr_all_fine_gray_refusal_is_explained_not_drawn(workflow_run):
    cox = pd.read_csv(workflow_run / "results/rr_all/analyse/cox.csv")
    fg = cox[cox["method"] == "fine-gray"]
    assert fg["model"].unique().tolist() == ["relapse_after_hsct_fine_gray"]
    assert fg["status"].iloc[0].startswith("refused: there are no events of cause 1")
    assert "no relapse dates" in fg["status"].iloc[0]
    assert (cox.loc[cox["method"] == "cox", "status"] != "").all()
    # a refused model gets no figure (issue 11); the tables and the report say why
    base = workflow_run / "results/rr_all/figures/forest_relapse_after_hsct_fine_gray"
    assert not base.with_suffix(".png").exists()
    for page in ("tables/cox.md", "tables/cox.html", "report.html"):
        assert "no events of cause 1" in (workflow_run / "results/rr_all" / page).read_text()


def test_rr_all_os_from_diagnosis_is_left_truncated_at_rr_diagnosis(workflow_run):
    """Registry patients are observed only from R/R diagnosis: OS from initial diagnosis uses
    (entry, exit] risk sets, and the naive KM (everyone at risk from diagnosis) is higher."""
    from cohortflow.stats.survival import kaplan_meier, survival_at

    base = workflow_run / "results/rr_all"
    s = pd.read_csv(base / "analyse/survival.csv")
    lt = s[s["analysis"] == "os_from_diagnosis"].set_index("time_years")
    assert list(lt.index) == [1, 3, 5] and (lt["origin"] == "diagnosis_date").all()
    cohort = pd.read_parquet(base / "analyse/cohort.parquet")
    adtte = pd.read_parquet(base / "analyse/adtte.parquet")
    d = cohort[cohort["analysed"]].merge(
        adtte[adtte["PARAMCD"] == "OS_DX"][["study_id", "AVAL", "CNSR"]], on="study_id"
    )
    d = d[d["AVAL"].notna() & (d["AVAL"] >= 0)].reset_index(drop=True)
    ep = {"origin": "diagnosis_date", "entry": "rr_diagnosis_date"}
    d = entry_days(d, ep, "os_from_diagnosis")
    t, e, entry = d["AVAL"].to_numpy(float), (d["CNSR"] == 0).to_numpy(int), d["ENTRY"]
    assert lt["n"].iloc[0] == len(d) > 30
    # patients enter long after diagnosis; only those with entry 0 are at risk at time 0
    assert entry.median() > DAYS_PER_YEAR
    km = kaplan_meier(t, e, entry=entry)
    tab = km.table
    assert tab["time"].iloc[0] == 0 and tab["n_risk"].iloc[0] == (entry == 0).sum() < len(d)
    assert tab["survival"].notna().all()  # nobody at risk yet is no event, not 0/0
    first = tab[tab["n_event"] > 0].iloc[0]
    assert first["n_risk"] == ((entry < first["time"]) & (t >= first["time"])).sum()
    naive = survival_at(kaplan_meier(t, e), [y * DAYS_PER_YEAR for y in (1, 3)])
    for y, nv in zip((1, 3), naive.to_dict("records"), strict=True):
        row = lt.loc[y]
        # at risk at y years: entered before y and still followed (not everyone followed)
        at = DAYS_PER_YEAR * y
        assert row["n_risk"] == ((entry < at) & (t >= at)).sum() < nv["n_risk"]
        assert row["estimate"] < nv["survival"] - 0.05  # the naive KM is biased upward
    md = (base / "tables/survival.md").read_text(encoding="utf-8")
    assert "DELAYED ENTRY (LEFT TRUNCATION)" in md and "immortal time" in md
    tests = pd.read_csv(base / "analyse/tests.csv")
    small = tests[(tests["analysis"] == "os_from_diagnosis")]
    assert small["test"].tolist() == ["delayed entry: small risk sets"]
    assert "fewer than 10" in small["note"].iloc[0] and "fewer than 10" in md
    html = (base / "tables/survival.html").read_text(encoding="utf-8")
    assert "os_from_diagnosis: All: delayed entry leaves only" in html
    for ext in ("png", "pdf", "svg"):
        assert (base / f"figures/km_os_from_diagnosis.{ext}").stat().st_size > 1000
