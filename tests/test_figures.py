"""Tests for cohortflow.render.figures: KM figure content, at-risk table and reproducible files."""

from __future__ import annotations

from pathlib import Path

import matplotlib.colors as mcolors
import numpy as np
import pytest
from matplotlib.figure import Figure

from cohortflow.render.figures import (
    AT_RISK_AXES_LABEL,
    KM_AXES_LABEL,
    TIME_UNITS,
    clear_of,
    km_figure,
    save_figure,
)
from cohortflow.stats.survival import kaplan_meier, number_at_risk

WEEK = 7.0
GEHAN_6MP_T = np.array(
    [6, 6, 6, 6, 7, 9, 10, 10, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 32, 34, 35]
)
GEHAN_6MP_E = np.array([1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0])
GEHAN_PBO_T = np.array([1, 1, 2, 2, 3, 4, 4, 5, 5, 8, 8, 8, 8, 11, 11, 12, 12, 15, 17, 22, 23])
GEHAN_PBO_E = np.ones(21, dtype=int)

TWO_DATA = {
    "6-MP": (GEHAN_6MP_T * WEEK, GEHAN_6MP_E),
    "Placebo": (GEHAN_PBO_T * WEEK, GEHAN_PBO_E),
}
#: km_figure draws estimates (the study figures read theirs from analyse/curves.parquet)
TWO = {label: kaplan_meier(t, e) for label, (t, e) in TWO_DATA.items()}


def _cohort(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    event_time = rng.exponential(2000, n)
    censor_time = rng.uniform(700, 4000, n)
    return np.floor(np.minimum(event_time, censor_time)), (event_time <= censor_time).astype(int)


def _fit(seed: int, n: int):
    return kaplan_meier(*_cohort(n, seed))


def _axes(fig: Figure, label: str):
    (ax,) = [a for a in fig.axes if a.get_label() == label]
    return ax


def _at_risk_rows(fig: Figure) -> dict[int, list[tuple[float, str]]]:
    rows: dict[int, list[tuple[float, str]]] = {}
    for text in _axes(fig, AT_RISK_AXES_LABEL).texts:
        gid = text.get_gid() or ""
        if gid.startswith("at-risk:"):
            rows.setdefault(int(gid.split(":")[1]), []).append(
                (text.get_position()[0], text.get_text())
            )
    return rows


# --------------------------------------------------------------------------- content


def test_two_curves_build():
    fig = km_figure(TWO, title="Gehan", time_unit="weeks", p_value_text="Log-rank p = 4.2e-05")
    assert isinstance(fig, Figure)
    np.testing.assert_allclose(fig.get_size_inches(), (7.0, 5.5))
    ax = _axes(fig, KM_AXES_LABEL)
    assert ax.get_ylim() == (0.0, 1.05)
    assert ax.get_title(loc="left") == "Gehan"
    assert ax.get_xlabel() == "Time (weeks)"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == [
        "6-MP (n = 21, events = 9)",
        "Placebo (n = 21, events = 21)",
        "Log-rank p = 4.2e-05",
    ]


def test_single_curve_build():
    t, e = _cohort(120, 1)
    fig = km_figure({"All patients": kaplan_meier(t, e)}, title="Overall survival")
    ax = _axes(fig, KM_AXES_LABEL)
    assert ax.get_xlabel() == "Time (months)"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        f"All patients (n = 120, events = {int(e.sum())})"
    ]
    assert list(_at_risk_rows(fig)) == [0]


@pytest.mark.parametrize("k", [3, 4])
def test_three_and_four_curves_build(k):
    curves = {f"Group {i}": _fit(i, 60 + 10 * i) for i in range(k)}
    fig = km_figure(curves, title="EFS", time_unit="years", ci_bands=True, percent=True)
    assert sorted(_at_risk_rows(fig)) == list(range(k))
    labels = [t.get_text() for t in _axes(fig, KM_AXES_LABEL).get_yticklabels()]
    assert labels[-1] == "100%"


@pytest.mark.parametrize(
    ("unit", "tick_step", "xmax"),
    [("weeks", None, None), ("months", 2, 10), ("days", 50, None), ("years", 0.25, 0.7)],
)
def test_at_risk_numbers_match_number_at_risk_under_ticks(unit, tick_step, xmax):
    fig = km_figure(TWO, title="Gehan", time_unit=unit, tick_step=tick_step, xmax=xmax)
    ax = _axes(fig, KM_AXES_LABEL)
    ticks = np.asarray(ax.get_xticks())
    lo, hi = ax.get_xlim()
    assert lo == 0 and ticks[0] == 0 and ticks[-1] <= hi + 1e-9
    if xmax is not None:
        assert hi == xmax
    if tick_step is not None:
        np.testing.assert_allclose(np.diff(ticks), tick_step)
    rows = _at_risk_rows(fig)
    for i, (time, _) in enumerate(TWO_DATA.values()):
        xs, texts = zip(*rows[i], strict=True)
        np.testing.assert_array_equal(xs, ticks)
        expected = number_at_risk(time, ticks * TIME_UNITS[unit])
        assert [int(s) for s in texts] == expected


def test_at_risk_numbers_sit_under_tick_positions_on_the_page():
    fig = km_figure(TWO, title="Gehan", time_unit="weeks")
    fig.draw_without_rendering()
    ax = _axes(fig, KM_AXES_LABEL)
    ax_risk = _axes(fig, AT_RISK_AXES_LABEL)
    assert ax_risk.get_xlim() == ax.get_xlim()
    renderer = fig.canvas.get_renderer()
    tick_x = [
        t.get_window_extent(renderer).x0 + t.get_window_extent(renderer).width / 2
        for t in ax.get_xticklabels()
    ]
    for row in _at_risk_rows(fig):
        texts = [t for t in ax_risk.texts if t.get_gid() == f"at-risk:{row}"]
        centres = [
            t.get_window_extent(renderer).x0 + t.get_window_extent(renderer).width / 2
            for t in texts
        ]
        np.testing.assert_allclose(centres, tick_x, atol=1.0)  # within a pixel


def test_at_risk_rows_are_labelled_and_coloured_like_curves():
    fig = km_figure(TWO, title="Gehan", time_unit="weeks")
    ax = _axes(fig, KM_AXES_LABEL)
    ax_risk = _axes(fig, AT_RISK_AXES_LABEL)
    line_colours = [mcolors.to_hex(h.get_color()) for h in ax.get_legend().legend_handles]
    # rows are drawn top to bottom: first curve on the highest y
    labels = sorted(ax_risk.get_yticklabels(), key=lambda t: -t.get_position()[1])
    assert [t.get_text() for t in labels] == ["6-MP", "Placebo"]
    assert [mcolors.to_hex(t.get_color()) for t in labels] == line_colours
    for row, colour in enumerate(line_colours):
        texts = [t for t in ax_risk.texts if t.get_gid() == f"at-risk:{row}"]
        assert {mcolors.to_hex(t.get_color()) for t in texts} == {colour}


def test_legend_is_clear_of_the_curves():
    for curves in (TWO, {f"Arm {i}": _fit(i, 300) for i in range(4)}):
        fig = km_figure(curves, title="t", time_unit="weeks", p_value_text="p = 0.01")
        fig.draw_without_rendering()
        ax = _axes(fig, KM_AXES_LABEL)
        legend = ax.get_legend()
        bbox = legend.get_window_extent(fig.canvas.get_renderer())
        drawn = [line for line in ax.get_lines()]
        assert clear_of(bbox, drawn)
        # and never under the title
        title = ax.title.get_window_extent(fig.canvas.get_renderer())
        assert not bbox.overlaps(title)


def test_censor_marks_drawn_at_censored_times():
    fig = km_figure(TWO, title="Gehan", time_unit="weeks")
    ax = _axes(fig, KM_AXES_LABEL)
    marks = [line for line in ax.get_lines() if line.get_marker() == "|"]
    assert len(marks) == 1  # placebo: no censoring, no marks
    # 6-MP censored at weeks 6, 9, 10, 11, 17, 19, 20, 25, 32, 34, 35
    np.testing.assert_array_equal(marks[0].get_xdata(), [6, 9, 10, 11, 17, 19, 20, 25, 32, 34, 35])
    assert mcolors.to_hex(marks[0].get_color()) == mcolors.to_hex(ax.get_lines()[0].get_color())


def test_footnote_and_ci_bands():
    fig = km_figure(TWO, title="Gehan", time_unit="weeks", ci_bands=True, footnote="Source: x")
    assert "Source: x" in [t.get_text() for t in fig.texts]
    assert len(_axes(fig, KM_AXES_LABEL).collections) >= 2  # one band per curve


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"time_unit": "fortnights"}, "time_unit"),
        ({"at_risk": {"6-MP": ([0.0], [21])}}, "no row for curve"),
        ({"at_risk": {"6-MP": ([0.0], [21]), "Placebo": ([0.0, 7.0], [21])}}, "equally long"),
        ({"at_risk": {"6-MP": ([0.0], [21]), "Placebo": ([-1.0], [21])}}, "non-negative"),
        ({"tick_step": 0}, "tick_step"),
        ({"xmax": -1}, "xmax"),
    ],
)
def test_invalid_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        km_figure(TWO, title="t", **kwargs)


def test_no_curves_raises():
    with pytest.raises(ValueError, match="at least one curve"):
        km_figure({}, title="t")


def test_a_curve_without_its_step_table_raises():
    """A curve is an estimate's table, not raw (time, event) data: anything else is refused
    with the curve named, never drawn wrong."""
    raw = {"6-MP": TWO_DATA["6-MP"]}
    with pytest.raises(ValueError, match="'6-MP' needs a table"):
        km_figure(raw, title="t")
    km = kaplan_meier(*TWO_DATA["6-MP"])
    km_no_censor = type("Km", (), {"table": km.table.drop(columns="n_censor"), "n": 21})
    with pytest.raises(ValueError, match="n_censor"):
        km_figure({"6-MP": km_no_censor()}, title="t")


def test_given_numbers_at_risk_are_printed_under_their_own_times():
    """With delayed entry the numbers at risk come from the analyse stage (``at_risk``): each
    printed under its time (days shown in the unit), those beyond the axis left out."""
    at = {"6-MP": ([0.0, 70.0, 140.0, 1e6], [3, 2, 1, 0]), "Placebo": ([0.0], [21])}
    fig = km_figure(TWO, title="Gehan", time_unit="weeks", xmax=30, at_risk=at)
    rows = _at_risk_rows(fig)
    assert rows[0] == [(0.0, "3"), (10.0, "2"), (20.0, "1")]
    assert rows[1] == [(0.0, "21")]


# --------------------------------------------------------------------------- files


def test_save_figure_writes_three_formats(tmp_path: Path):
    fig = km_figure(TWO, title="Gehan", time_unit="weeks")
    paths = save_figure(fig, tmp_path / "sub" / "km.efs")
    assert [p.name for p in paths] == ["km.efs.png", "km.efs.pdf", "km.efs.svg"]
    png, pdf, svg = (p.read_bytes() for p in paths)
    assert png.startswith(b"\x89PNG")
    assert pdf.startswith(b"%PDF")
    assert b"<svg" in svg[:1000]
    # 7 x 5.5 in at 200 dpi
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == (1400, 1100)
    assert b"Matplotlib" not in pdf and b"CreationDate" not in pdf
    assert b"<dc:date>" not in svg


def test_save_figure_is_byte_deterministic(tmp_path: Path):
    fig = km_figure(TWO, title="Gehan", time_unit="weeks", p_value_text="p", ci_bands=True)
    first = [p.read_bytes() for p in save_figure(fig, tmp_path / "a")]
    second = [p.read_bytes() for p in save_figure(fig, tmp_path / "b")]
    assert first == second
    # a figure built again from the same data gives the same bytes too
    rebuilt = km_figure(TWO, title="Gehan", time_unit="weeks", p_value_text="p", ci_bands=True)
    third = [p.read_bytes() for p in save_figure(rebuilt, tmp_path / "c")]
    assert first == third
