"""Landmark and Simon-Makuch figures draw what the analyse stage wrote (issue 15: render/ does
not compute statistics), and the figure-name grammar is read in one place."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cohortflow.analyse.adapters import TimedepResult, time_dependent
from cohortflow.analyse.analysis import endpoint_data
from cohortflow.analyse.curves import curves_frame
from cohortflow.analyse.timedep_curves import AT_RISK_MIN_YEARS, timedep_curves
from cohortflow.core.errors import CohortflowError
from cohortflow.core.timescale import DAYS_PER_MONTH, DAYS_PER_YEAR
from cohortflow.render.figure_names import FigureName, read_figure_name
from cohortflow.render.runreport import figure_caption
from cohortflow.render.study_figures import FigureInputs, build_figure
from cohortflow.stats.survival import kaplan_meier, number_at_risk
from cohortflow.stats.timedep import curve_at, landmark, simon_makuch

STUDY = {
    "id": "s",
    "title": "S",
    "data_label": "SYNTHETIC",
    "endpoints": {"OS": {"label": "Overall survival", "origin": "dx_date"}},
    "groupings": {"hsct": {"time_dependent": "hsct_date", "label": "HSCT"}},
    "analyses": [
        {"id": "os_hsct", "title": "OS by HSCT", "endpoint": "OS", "by": "hsct"},
        {"id": "os", "title": "OS", "endpoint": "OS", "landmarks_months": [3, 12]},
    ],
}


def _data(n: int = 40, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Analysed patients with a diagnosis date, some transplanted, and their OS rows."""
    rng = np.random.default_rng(seed)
    dx = pd.Timestamp("2020-01-01")
    hsct = rng.integers(20, 400, n).astype(float)
    hsct[rng.random(n) < 0.5] = np.nan  # never transplanted
    aval = rng.integers(0, 3000, n).astype(float)
    cohort = pd.DataFrame(
        {
            "study_id": [f"P{i:03d}" for i in range(n)],
            "analysed": True,
            "dx_date": dx,
            "hsct_date": [dx + pd.Timedelta(days=d) if d == d else pd.NaT for d in hsct],
        }
    )
    adtte = pd.DataFrame(
        {
            "study_id": cohort["study_id"],
            "PARAMCD": "OS",
            "AVAL": aval,
            "CNSR": (rng.random(n) < 0.4).astype(int),
            "EVENTTYPE": np.nan,
        }
    )
    return cohort, adtte


def _timedep(cohort: pd.DataFrame, adtte: pd.DataFrame, study: dict) -> list[TimedepResult]:
    """The time-dependent analyses' results, as the analyse stage computes them (once)."""
    data = endpoint_data(cohort, adtte, "OS")
    return [
        time_dependent(data, a, study["groupings"][a["by"]], study["endpoints"]["OS"], "S")
        for a in study["analyses"]
        if a.get("by") in study["groupings"]
    ]


def test_timedep_curves_are_the_landmark_sets_and_simon_makuch_curves_of_stats():
    cohort, adtte = _data()
    out = timedep_curves(_timedep(cohort, adtte, STUDY))
    t = adtte["AVAL"].to_numpy(float)
    e = (adtte["CNSR"] == 0).to_numpy(int)
    x = (cohort["hsct_date"] - cohort["dx_date"]).dt.days.to_numpy(float)
    # only the time-dependent analysis has rows; its default landmark is 6 months
    assert set(out["landmark"]["analysis"]) == {"os_hsct_landmark_6m"}
    ld = landmark(t, e, x, 6 * DAYS_PER_MONTH).table
    got = out["landmark"]
    assert got["time"].tolist() == ld["time"].tolist()
    assert got["group"].tolist() == ld["group"].tolist()
    assert got["study_id"].tolist() == cohort["study_id"].iloc[ld["index"]].tolist()
    sm = simon_makuch(t, e, x)
    risk = out["simon_makuch_at_risk"]
    for key, curve in sm.items():
        rows = out["simon_makuch"][out["simon_makuch"]["group"] == key]
        assert rows["survival"].tolist() == curve.table["survival"].tolist()
        counts = risk[risk["group"] == key]
        years = counts["time_years"].to_numpy()
        assert years[0] == 0 and len(years) >= AT_RISK_MIN_YEARS + 1
        assert (
            counts["n_risk"].tolist() == curve_at(curve, years * DAYS_PER_YEAR)["n_risk"].tolist()
        )
        assert counts["n_risk"].iloc[-1] == 0  # the table runs past the last follow-up


def test_no_time_dependent_grouping_gives_empty_tables_with_their_columns():
    cohort, adtte = _data()
    study = {**STUDY, "analyses": [STUDY["analyses"][1]]}
    out = timedep_curves(_timedep(cohort, adtte, study))
    assert all(len(v) == 0 and len(v.columns) >= 4 for v in out.values())


def test_landmark_and_simon_makuch_figures_need_the_analyse_tables():
    cohort, adtte = _data()
    tests = pd.DataFrame(columns=["analysis", "test", "p"])
    bare = FigureInputs(cohort, adtte, tests, pd.DataFrame())
    for name in ("km_os_hsct_landmark_6m", "km_os_hsct_simon_makuch"):
        with pytest.raises(CohortflowError, match="rerun the analyse stage"):
            build_figure(name, bare, STUDY)
    results = _timedep(cohort, adtte, STUDY)
    curves = curves_frame([c for r in results for c in r.curves])
    full = FigureInputs(cohort, adtte, tests, pd.DataFrame(), timedep_curves(results), curves)
    for name in ("km_os_hsct_landmark_6m", "km_os_hsct_simon_makuch"):
        fig = build_figure(name, full, STUDY)
        assert fig.axes, name
    # the numbers at risk printed under the Simon-Makuch curves are the analyse stage's
    sm = build_figure("km_os_hsct_simon_makuch", full, STUDY)
    printed = [t.get_text() for t in sm.axes[1].texts if t.get_text().isdigit()]
    risk = full.timedep["simon_makuch_at_risk"]
    expected = [
        str(n)
        for key in ("exposed", "unexposed")
        for n in risk[risk["group"] == key]["n_risk"].iloc[: AT_RISK_MIN_YEARS + 1]
    ]
    assert printed == expected


def test_landmark_curves_are_the_landmark_kaplan_meier_and_the_figure_draws_them():
    """curves.parquet holds the Kaplan-Meier estimate of each landmark group (the one
    survival.csv is read from) and its numbers under observation each year; the landmark
    figure draws exactly those values, computing nothing."""
    cohort, adtte = _data()
    (result,) = _timedep(cohort, adtte, STUDY)
    curves = curves_frame(result.curves)
    ((months, ld),) = result.landmarks
    assert months == 6
    fig = build_figure(
        "km_os_hsct_landmark_6m",
        FigureInputs(cohort, adtte, pd.DataFrame(), pd.DataFrame(), curves=curves),
        STUDY,
    )
    lines = [ln for ln in fig.axes[0].get_lines() if ln.get_marker() != "|"]
    for k, key in enumerate(("exposed", "unexposed")):
        d = ld.table[ld.table["group"] == key]
        km = kaplan_meier(d["time"], d["event"])
        rows = curves[(curves["group"] == key) & (curves["analysis"] == "os_hsct_landmark_6m")]
        steps = rows[rows["row"] == "step"]
        assert steps["estimate"].tolist() == km.table["survival"].tolist()
        assert steps["n_censor"].tolist() == km.table["n_censor"].tolist()
        assert (steps["n"].iloc[0], steps["events"].iloc[0]) == (km.n, km.events)
        risk = rows[rows["row"] == "at_risk"]
        assert risk["time"].tolist() == [y * DAYS_PER_YEAR for y in range(len(risk))]
        assert risk["n_risk"].tolist() == number_at_risk(d["time"], risk["time"])
        # the drawn step path: its y values are the estimate's, repeated at each step
        np.testing.assert_array_equal(
            np.unique(lines[k].get_ydata()), np.unique(km.table["survival"])
        )


def test_figure_names_are_read_by_one_grammar():
    assert read_figure_name(STUDY, "km_os_hsct_landmark_12.5m") == FigureName(
        "landmark", "os_hsct", 12.5
    )
    # the longest analysis ID wins: km_os_hsct is not "km_os" + "_hsct"
    assert read_figure_name(STUDY, "km_os_hsct") == FigureName("km", "os_hsct")
    assert read_figure_name(STUDY, "km_os_simon_makuch") == FigureName("simon_makuch", "os")
    assert read_figure_name(STUDY, "km_nope") is None
    assert read_figure_name(STUDY, "km_os_landmark_m") is None
    assert FigureName("landmark", "os", 6).analysis == "os_landmark_6m"
    assert FigureName("km", "os").analysis == "os"
    assert figure_caption(STUDY, "km_os_hsct_landmark_12.5m") == (
        "Landmark analysis from 12.5 months: OS by HSCT"
    )
    assert figure_caption(STUDY, "forest_unknown_model") == "Forest unknown model"


def test_only_the_swimmer_plot_reads_the_patient_rows():
    """The figure jobs get the cohort and ADTTE as readers: a curve figure draws from
    curves.parquet and never reads them (seconds per figure job at 1,000,000 patients); the
    swimmer plot reads them once."""
    cohort, adtte = _data()
    (result,) = _timedep(cohort, adtte, STUDY)
    curves = curves_frame(result.curves)
    dead = adtte["CNSR"].eq(0).to_numpy()
    days = pd.to_timedelta(adtte["AVAL"].where(dead), unit="D")
    cohort = cohort.assign(death_date=cohort["dx_date"] + days)
    reads: list[str] = []

    def reader(name: str, frame: pd.DataFrame):
        return lambda: reads.append(name) or frame

    def inputs() -> FigureInputs:
        return FigureInputs(
            reader("cohort", cohort), reader("adtte", adtte), pd.DataFrame(), pd.DataFrame(),
            curves=curves,
        )  # fmt: skip

    assert build_figure("km_os_hsct_landmark_6m", inputs(), STUDY).axes
    assert reads == []
    swimmer = inputs()
    study = {**STUDY, "swimmer": {"endpoint": "OS"}}
    assert build_figure("swimmer", swimmer, study).axes
    assert sorted(reads) == ["adtte", "cohort"]
