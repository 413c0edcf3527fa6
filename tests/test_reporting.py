"""What a reader sees around the numbers (issue 11): each P beside its test, published
percentages over the paper's own N, undefined SEs missing, CIF/swimmer/CONSORT figures a
reviewer accepts, DQ and report pages, DOCX tables, the Hangul font."""

from __future__ import annotations

import io
import json
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest
from matplotlib.lines import Line2D

from cohortflow.analyse.analysis import TREND_TEST, primary_test
from cohortflow.core.catalogue import check_messages
from cohortflow.core.errors import CohortflowError
from cohortflow.render.consort import consort_figure
from cohortflow.render.docx_tables import write_docx
from cohortflow.render.figure_names import swimmer_subset_text
from cohortflow.render.figures import FONT_FAMILY, HANGUL_FONT, km_figure
from cohortflow.render.plots import cif_figure, swimmer_figure
from cohortflow.render.report import NOT_ESTIMABLE, SURVIVAL_FOOTNOTE, survival_table
from cohortflow.render.runreport import render_run_report
from cohortflow.render.study_figures import (
    FigureInputs,
    build_figure,
    origin_words,
    p_value_labels,
)
from cohortflow.render.tables import blank_repeats
from cohortflow.stats.survival import kaplan_meier
from cohortflow.validate.dq import percent_text

from .conftest import REPO

STRATIFIED = "log-rank stratified by site"


def _tests() -> pd.DataFrame:
    rows = [
        ("os_by_status", STRATIFIED, 0.018, 1, 0.885),
        ("os_by_status", "log-rank (unweighted)", 0.263, 1, 0.608),
        ("os_by_age", TREND_TEST, 0.008, 1, 0.927),
        ("os_by_age", "log-rank (unweighted)", 0.905, 2, 0.636),
    ]
    return pd.DataFrame(rows, columns=["analysis", "test", "chi2", "df", "p"])


# ---------------------------------------------------------------- item 1: P and its test


def test_legend_p_is_the_primary_test_and_the_footnote_names_the_others():
    by_status = {"id": "os_by_status", "stratify_by": "site"}
    by_age = {"id": "os_by_age", "trend": True}
    assert primary_test(by_status) == STRATIFIED
    assert primary_test(by_age) == TREND_TEST
    assert primary_test({"id": "x"}) == "log-rank (unweighted)"
    assert primary_test({**by_status, "primary_test": "log-rank"}) == "log-rank (unweighted)"

    legend, others = p_value_labels(_tests(), "os_by_status", primary_test(by_status))
    assert legend == "Log-rank stratified by site P = 0.885"  # not the unstratified 0.608
    assert others == ["Log-rank P = 0.608 (0.26 on 1 df)."]
    legend, others = p_value_labels(_tests(), "os_by_age", primary_test(by_age))
    assert legend == "Log-rank test for trend P = 0.927"  # not the 2-df 0.636
    assert others[0].startswith("Log-rank P = 0.636")


# ---------------------------------------------------------------- item 3: SE where S = 0


def test_survival_table_prints_missing_se_and_not_estimable():
    surv = pd.DataFrame(
        {
            "analysis": "a",
            "stratum": ["x", "x", "y"],
            "n": 3,
            "total_events": 3,
            "time_years": [1, 3, 5],
            "n_risk": [1, 0, 0],
            "estimate": [0.5, 0.0, np.nan],
            "se": [0.2, np.nan, np.nan],
            "lower": [0.1, np.nan, np.nan],
            "upper": [0.9, np.nan, np.nan],
            "published_estimate": np.nan,
            "published_se": np.nan,
        }
    )
    t = survival_table(surv, pd.DataFrame(), pd.DataFrame())
    col = t["Estimate ± SE (%)"].tolist()
    assert col == ["50.0 ± 20.0", "0.0 ± NA", NOT_ESTIMABLE]
    assert "± 0.0" not in " ".join(col)  # an SE of 0 would read as certainty
    assert t["95% CI (%)"].tolist()[2] == NOT_ESTIMABLE
    assert "not estimable" in SURVIVAL_FOOTNOTE and "NA" in SURVIVAL_FOOTNOTE


# ---------------------------------------------------------------- item 4: CIF figures


def _visible_lines(ax) -> list[Line2D]:
    return [ln for ln in ax.get_lines() if str(ln.get_gid() or "").startswith("cif:")]


def test_cif_curves_differ_in_style_and_stay_visible_along_zero():
    t = np.array([0.0, 100, 200, 400])
    flat = np.zeros(4)  # a curve that stays at 0 (no events) must still be seen
    curves = {
        "< 6 months: Relapse (n = 2, events = 0)": (t, flat),
        "< 6 months: Death (n = 2, events = 2)": (t, np.array([0, 0.5, 1.0, 1.0])),
        ">= 6 months: Relapse (n = 7, events = 1)": (t, np.array([0, 0.14, 0.14, 0.14])),
        ">= 6 months: Death (n = 7, events = 0)": (t, flat),
    }
    styles = {k: (i // 2, i % 2) for i, k in enumerate(curves)}
    at_risk = {"< 6 months": ([0, 200], [2, 1]), ">= 6 months": ([0, 200], [7, 6])}
    fig = cif_figure(curves, title="t", at_risk=at_risk, styles=styles, p_value_text="P")
    ax = next(a for a in fig.axes if a.get_label() == "cif")
    lines = _visible_lines(ax)
    assert len(lines) == 4
    # the two curves along 0 differ in colour AND line style from each other
    zero = [ln for ln in lines if not np.asarray(ln.get_ydata()).any()]
    assert len(zero) == 2
    assert zero[0].get_color() != zero[1].get_color()
    assert zero[0].get_linestyle() != zero[1].get_linestyle()
    # the x axis is drawn below 0, so a curve at 0 is not hidden by the axis line
    assert ax.spines["bottom"].get_position()[0] == "outward"
    legend = ax.get_legend()
    texts = [t.get_text() for t in legend.get_texts()]
    assert all("n = " in x and "events = " in x for x in texts[:4])
    risk = next(a for a in fig.axes if a.get_label() == "at-risk")
    assert [t.get_text() for t in risk.get_yticklabels()] == ["< 6 months", ">= 6 months"]


# ---------------------------------------------------------------- item 5: refused model


def test_refused_cox_model_gets_no_figure_and_the_report_says_why(tmp_path):
    cox = pd.DataFrame(
        [{"model": "m", "title": "Model", "status": "refused: 3 events for 1 parameter"}]
    )
    study = {"id": "s", "title": "S", "cox_models": [{"id": "m", "title": "Model"}]}
    with pytest.raises(CohortflowError, match="not estimable"):
        inputs = FigureInputs(pd.DataFrame({"analysed": []}), pd.DataFrame(), cox, cox)
        build_figure("forest_m", inputs, study)
    (tmp_path / "analyse").mkdir()
    cox.to_csv(tmp_path / "analyse" / "cox.csv", index=False)
    html = render_run_report(study, tmp_path, manifest={})
    assert "no figure, the model was not estimable (refused: 3 events" in html
    assert "<img" not in html


# ---------------------------------------------------------------- item 6: swimmer plot


def test_swimmer_axis_ends_at_the_data_and_markers_do_not_hide_each_other():
    p = pd.DataFrame(
        {
            "study_id": ["a1", "b2", "c3"],
            "end": [400.0, 300.0, 100.0],
            "status": ["alive", "dead", "alive"],
            "relapse": [400.0, np.nan, 100.0],  # relapse on the last day of an alive patient
            "death": [np.nan, 300.0, np.nan],
        }
    )
    fig = swimmer_figure(p, title="t", xlabel=f"Time from {origin_words('rr_diagnosis_date')}")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "Time from R/R diagnosis"
    last_month = 400 / 30.4375
    assert ax.get_xlim()[1] < last_month * 1.25  # no empty tick interval past the data
    assert max(ax.get_xticks()) <= last_month
    rel = next(ln for ln in ax.get_lines() if ln.get_gid() == "swimmer:relapse")
    alive = next(ln for ln in ax.get_lines() if ln.get_gid() == "swimmer:alive")
    fig.draw_without_rendering()
    to_px = ax.transData.transform
    for y in (0.0, 2.0):  # rows with a relapse where the arrow starts
        r = to_px([[x, yy] for x, yy in zip(rel.get_xdata(), rel.get_ydata(), strict=True)])
        a = to_px([[x, yy] for x, yy in zip(alive.get_xdata(), alive.get_ydata(), strict=True)])
        r_x = r[np.isclose(rel.get_ydata(), y)][0][0]
        a_x = a[np.isclose(alive.get_ydata(), y)][0][0]
        assert a_x - r_x >= rel.get_markersize() * fig.dpi / 72 * 0.5  # clear of each other


def test_swimmer_subset_is_stated():
    assert swimmer_subset_text(63, 60).startswith("60 of 63 analysed patients are shown")
    assert "smallest study IDs" in swimmer_subset_text(63, 60)
    assert swimmer_subset_text(9, 60) == "All 9 analysed patients are shown."


# ---------------------------------------------------------------- item 7: CONSORT


def test_consort_names_reasons_and_shows_records_set_aside_before_screening():
    flow = pd.DataFrame(
        [
            ("All", "screened", 70),
            ("All", "excluded: Age outside 1-21 years", 2),
            ("All", "eligible", 68),
            ("All", "analysed", 68),
        ],
        columns=["site", "step", "n"],
    )
    aside = pd.DataFrame(
        [("All", 71, 1, "code_in_list: 1; rr_before_death: 1")],
        columns=["site", "records_received", "set_aside", "reasons"],
    )
    fig = consort_figure(flow, title="t", set_aside=aside, site_detail=False)
    texts = {t.get_gid(): t.get_text() for t in fig.texts if t.get_gid()}
    assert (
        texts["consort:received"].startswith("Records received")
        and "71" in texts["consort:received"]
    )
    assert "Set aside before screening" in texts["consort:set-aside"]
    assert "1" in texts["consort:set-aside"]
    assert any("rr_before_death" in v for k, v in texts.items() if "set-aside:" in k)
    assert any("Age outside 1-21 years" in v for k, v in texts.items() if "excluded:" in k)
    # with the catalogue's words the reasons read as what was found, not as check names, and
    # the box says why its reasons add up to more than its n (one record, two findings)
    words = check_messages(REPO / "config" / "checks.yaml")
    fig = consort_figure(flow, title="t", set_aside=aside, site_detail=False, reason_labels=words)
    texts = {t.get_gid(): t.get_text() for t in fig.texts if t.get_gid()}
    reasons = [" ".join(v.split()) for k, v in texts.items() if k.startswith("consort:set-aside:")]
    assert sorted(reasons) == sorted(
        [f"{words['code_in_list']} (n = 1)", f"{words['rr_before_death']} (n = 1)"]
    )
    assert "Death before R/R diagnosis (n = 1)" in reasons
    assert not any("_" in r for r in reasons), reasons  # no check names
    notes = " ".join(t.get_text() for t in fig.texts).replace("\n", " ")
    assert "A record can fail more than one check." in notes


# ---------------------------------------------------------------- item 8: pages and fonts


def test_dq_shares_are_percentages_and_table_labels_are_not_repeated():
    assert percent_text(0.1666666667) == "16.7 %"
    assert percent_text(0) == "0 %" and percent_text(float("nan")) == ""
    t = pd.DataFrame({"Characteristic": ["Sex", "Sex", "Age", "Age"], "v": [1, 2, 3, 4]})
    assert blank_repeats(t, "Characteristic")["Characteristic"].tolist() == [
        "Sex",
        "",
        "Age",
        "",
    ]


def test_hangul_labels_render_with_the_hangul_font(tmp_path):
    assert HANGUL_FONT in FONT_FAMILY, "fonts-nanum is not installed (make setup installs it)"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph ... missing from font(s)"
        fig = km_figure({"남자": kaplan_meier([1.0, 50, 90], [1, 0, 1])}, title="전체 생존율")
        buf = io.BytesIO()
        fig.savefig(buf, format="png")


def test_manifest_records_the_python_version(tmp_path):
    import platform

    from cohortflow.provenance.manifest import build_manifest

    study = {"id": "s", "title": "S", "cutoff_date": "2016-12-31", "data_label": ""}
    man = build_manifest(
        study,
        submissions=[],
        config_files=[],
        outputs=[],
        ingest_meta=[],
        site_summaries=[],
        superseded=[],
    )
    assert man["python"] == platform.python_version()
    assert "Python" in render_run_report(study, tmp_path, manifest=man)


def test_run_report_puts_results_before_the_run_metadata(tmp_path):
    html = render_run_report({"id": "s", "title": "S"}, tmp_path, manifest={"code": {}})
    assert html.index('id="figures"') < html.index('id="manifest"')
    assert html.index('id="tables"') < html.index('id="manifest"')


# ---------------------------------------------------------------- item 11: DOCX


def test_docx_table_has_title_headers_footnotes_and_identical_bytes(tmp_path):
    from docx import Document

    df = pd.DataFrame({"Characteristic": ["Sex", ""], "": ["Male", "Female"], "N = 64": [39, 25]})
    a = write_docx(df, tmp_path / "a.docx", "Table 1. 환자", ["Note one.", "", "Note two."])
    b = write_docx(df, tmp_path / "b.docx", "Table 1. 환자", ["Note one.", "", "Note two."])
    assert a.read_bytes() == b.read_bytes()
    with zipfile.ZipFile(a) as z:
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert "2000-01-01T00:00:00Z" in z.read("docProps/core.xml").decode()
    doc = Document(str(a))
    paras = [p.text for p in doc.paragraphs if p.text]
    assert paras[0] == "Table 1. 환자" and paras[-2:] == ["Note one.", "Note two."]
    table = doc.tables[0]
    assert [c.text for c in table.rows[0].cells] == ["Characteristic", "", "N = 64"]
    assert [c.text for c in table.rows[2].cells] == ["", "Female", "25"]
    assert table.rows[0].cells[0].paragraphs[0].runs[0].bold
    json.dumps([c.text for c in table.rows[1].cells])  # plain text cells


def test_code_list_query_names_the_allowed_codes():
    from cohortflow.validate.mapping import convert_value

    spec = {"type": "category", "allowed": ["CR", "CRp", "PR"]}
    allowed = r"not in the code list \(allowed: CR, CRp, PR, 완전관해\)"
    with pytest.raises(ValueError, match=allowed):
        convert_value("CRi", spec, {"codes": {"완전관해": "CR"}})


def test_scheme_groups_are_shown_in_words():
    """A risk scheme's group codes ('high', 'standard') are printed in the grouping's words
    (group_labels) in every table and figure; a code without words stays as it is."""
    from cohortflow.classify.groupings import strata

    schemes = {"s": {"groups": [{"group": "high"}], "otherwise": "standard"}}
    cohort = pd.DataFrame({"risk_s": ["standard", "high", "unclassifiable", "high"]})
    grouping = {"scheme": "s", "group_labels": {"high": "High risk", "standard": "Standard risk"}}
    lab, order = strata(cohort, grouping, schemes)
    assert lab.tolist() == ["Standard risk", "High risk", "unclassifiable", "High risk"]
    assert order == ["High risk", "Standard risk", "unclassifiable"]
    lab, order = strata(cohort, {"scheme": "s"}, schemes)  # no words configured: the codes
    assert order == ["high", "standard", "unclassifiable"]


def test_cumulative_incidence_beyond_follow_up_is_not_estimable(tmp_path):
    """A cumulative incidence at a time beyond the group's last follow-up (missing in
    cif.csv) is printed NE with its footnote, never 'NA ± NA'."""
    from cohortflow.render.report import CIF_NOT_ESTIMABLE_NOTE, write_model_tables

    cif = pd.DataFrame(
        {
            "analysis": "rel",
            "stratum": "< 6 months",
            "cause_label": "Relapse",
            "n": 2,
            "time_years": [1, 3],
            "cif": [0.0, np.nan],
            "se": [0.0, np.nan],
            "lower": [0.0, np.nan],
            "upper": [0.0, np.nan],
        }
    )
    study = {"id": "s", "title": "S", "data_label": "DEMO"}
    write_model_tables(pd.DataFrame(columns=["status"]), cif, pd.DataFrame(), study, tmp_path)
    md = (tmp_path / "competing_risks.md").read_text(encoding="utf-8")
    assert "| NE | NE |" in md and "NA ± NA" not in md and "nan" not in md
    assert "| 0.0 ± 0.0 | 0.0-0.0 |" in md
    assert CIF_NOT_ESTIMABLE_NOTE in md
    # without such a time point the note is left out
    write_model_tables(pd.DataFrame(columns=["status"]), cif[:1], pd.DataFrame(), study, tmp_path)
    assert CIF_NOT_ESTIMABLE_NOTE not in (tmp_path / "competing_risks.md").read_text("utf-8")


def test_a_refused_fine_gray_model_is_named_by_its_title(tmp_path):
    """The report's line for a Fine-Gray model without a figure names the model by its
    title, not by its file name turned into words."""
    from cohortflow.render.runreport import figure_caption

    title = "Relapse after HSCT: Fine-Gray model (non-relapse mortality competing)"
    study = {
        "id": "s",
        "title": "S",
        "cif_analyses": [{"id": "rel", "title": "Relapse", "fine_gray": {"title": title}}],
    }
    caption = figure_caption(study, "forest_rel_fine_gray")
    assert caption == f"Forest plot of the Fine-Gray model: {title}"
    (tmp_path / "analyse").mkdir()
    pd.DataFrame(
        [{"model": "rel_fine_gray", "title": title, "status": "refused: no events of cause 1"}]
    ).to_csv(tmp_path / "analyse" / "cox.csv", index=False)
    html = render_run_report(study, tmp_path, manifest={})
    assert f"{title}</strong>: no figure, the model was not estimable" in html
    assert "Forest rel fine gray" not in html
