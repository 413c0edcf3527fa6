"""Tests for cohortflow.render.plots: CIF, swimmer and forest figures and reproducible files."""

from __future__ import annotations

import itertools
from pathlib import Path

import matplotlib.colors as mcolors
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from cohortflow.render.figures import TIME_UNITS, clear_of, save_figure
from cohortflow.render.plots import (
    AT_RISK_AXES_LABEL,
    CIF_AXES_LABEL,
    FOREST_AXES_LABEL,
    SWIMMER_AXES_LABEL,
    SWIMMER_EVENTS,
    cif_figure,
    forest_figure,
    swimmer_figure,
)

MONTH = TIME_UNITS["months"]


def _axes(fig: Figure, label: str):
    (ax,) = [a for a in fig.axes if a.get_label() == label]
    return ax


def _texts(fig: Figure) -> list[str]:
    """Every text drawn on the figure, its axes and legends."""
    return [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text"))]


# --------------------------------------------------------------------------- CIF

CIF = {
    "SR": (np.array([0.0, 200.0, 400.0, 900.0, 1500.0]), np.array([0.0, 0.02, 0.05, 0.08, 0.08])),
    "HR": (np.array([100.0, 300.0, 700.0, 1200.0]), np.array([0.05, 0.15, 0.25, 0.3])),
}
RISK_TIMES = np.array([0, 12, 24, 36, 48]) * MONTH
RISK = {"SR": (RISK_TIMES, [100, 90, 70, 40, 10]), "HR": (RISK_TIMES, [50, 40, 30, 20, 5])}


def test_cif_builds_with_at_risk_table():
    fig = cif_figure(CIF, title="CIR", at_risk=RISK, p_value_text="Gray p = 0.01", footnote="fn")
    ax = _axes(fig, CIF_AXES_LABEL)
    assert ax.get_title(loc="left") == "CIR"
    assert ax.get_xlabel() == "Time (months)"
    assert ax.get_ylabel() == "Cumulative incidence"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["SR", "HR", "Gray p = 0.01"]
    assert "fn" in _texts(fig)
    # the at-risk times are the x ticks and each count sits under its tick
    np.testing.assert_allclose(ax.get_xticks(), [0, 12, 24, 36, 48])
    ax_risk = _axes(fig, AT_RISK_AXES_LABEL)
    for i, (label, (_, counts)) in enumerate(RISK.items()):
        texts = [t for t in ax_risk.texts if t.get_gid() == f"at-risk:{i}"]
        assert [t.get_text() for t in texts] == [str(c) for c in counts]
        np.testing.assert_allclose([t.get_position()[0] for t in texts], [0, 12, 24, 36, 48])
        assert {mcolors.to_hex(t.get_color()) for t in texts} == {
            mcolors.to_hex(ax.get_legend().legend_handles[i].get_color())
        }
        assert label in [t.get_text() for t in ax_risk.get_yticklabels()]


def test_cif_curves_are_steps_from_the_origin():
    fig = cif_figure(CIF, title="CIR", time_unit="days")
    ax = _axes(fig, CIF_AXES_LABEL)
    assert not [a for a in fig.axes if a.get_label() == AT_RISK_AXES_LABEL]
    (hr,) = [line for line in ax.get_lines() if line.get_gid() == "cif:1"]
    # HR starts at (0, 0), rises to 0.05 at day 100 and holds each value until the next time
    np.testing.assert_allclose(hr.get_xdata()[:4], [0, 100, 100, 300])
    np.testing.assert_allclose(hr.get_ydata()[:4], [0, 0, 0.05, 0.05])
    assert hr.get_xdata()[-1] == 1200 and hr.get_ydata()[-1] == 0.3
    # y axis ends at a round value above the highest curve
    assert ax.get_ylim() == (0.0, 0.4)


def test_cif_legend_is_clear_of_the_curves():
    fig = cif_figure(CIF, title="CIR", at_risk=RISK, p_value_text="p = 0.2")
    fig.draw_without_rendering()
    ax = _axes(fig, CIF_AXES_LABEL)
    bbox = ax.get_legend().get_window_extent(fig.canvas.get_renderer())
    assert clear_of(bbox, [line for line in ax.get_lines() if line.get_gid()])


def test_cif_options():
    fig = cif_figure(CIF, title="CIR", time_unit="years", percent=True, ymax=1.0, tick_step=1)
    ax = _axes(fig, CIF_AXES_LABEL)
    assert ax.get_ylim() == (0.0, 1.05)
    assert [t.get_text() for t in ax.get_yticklabels()][-1] == "100%"
    np.testing.assert_allclose(np.diff(ax.get_xticks()), 1.0)


@pytest.mark.parametrize(
    ("curves", "kwargs", "message"),
    [
        ({}, {}, "at least one curve"),
        ({"a": ([0, 1], [0.2, 0.1])}, {}, "non-decreasing"),
        ({"a": ([0, 1], [0.2, 1.2])}, {}, "non-decreasing"),
        ({"a": ([1, 0], [0.1, 0.2])}, {}, "sorted"),
        ({"a": ([0, 1], [0.1])}, {}, "equally long"),
        (CIF, {"at_risk": {"SR": ([0], [-1])}}, "whole numbers"),
        (CIF, {"time_unit": "fortnights"}, "time_unit"),
        (CIF, {"ymax": 2}, "ymax"),
        (CIF, {"xmax": 0}, "xmax"),
    ],
)
def test_cif_invalid_input_raises(curves, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cif_figure(curves, title="t", **kwargs)


# --------------------------------------------------------------------------- swimmer


def _patients(n: int, seed: int = 0, group: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    end = np.floor(rng.uniform(100, 2000, n))
    dead = rng.random(n) < 0.3
    df = pd.DataFrame(
        {
            "study_id": [f"P{k:03d}-{rng.integers(10**6):06d}" for k in range(n)],
            "end": end,
            "status": np.where(dead, "dead", "alive"),
            "response": np.where(rng.random(n) < 0.8, 30.0, np.nan),
            "hsct": np.where(rng.random(n) < 0.3, np.floor(end * 0.4), np.nan),
            "relapse": np.where(rng.random(n) < 0.3, np.floor(end * 0.7), np.nan),
            # some deaths without a day: drawn at the end of follow-up
            "death": np.where(dead & (rng.random(n) < 0.7), end, np.nan),
        }
    )
    if group:
        df["group"] = rng.choice(["SR", "MR", "HR"], n)
    return df


def _marks(fig: Figure, kind: str) -> np.ndarray:
    ax = _axes(fig, SWIMMER_AXES_LABEL)
    lines = [line for line in ax.get_lines() if line.get_gid() == f"swimmer:{kind}"]
    if not lines:
        return np.empty((0, 2))
    (line,) = lines
    return np.column_stack([line.get_xdata(), line.get_ydata()])


@pytest.mark.parametrize("n", [5, 30, 63])
def test_swimmer_marker_counts_equal_events(n):
    df = _patients(n, seed=n)
    fig = swimmer_figure(df, title="Swimmer", footnote="Time from diagnosis")
    expected = {
        "response": df["response"].notna().sum(),
        "hsct": df["hsct"].notna().sum(),
        "relapse": df["relapse"].notna().sum(),
        "death": (df["status"] == "dead").sum(),
        "alive": (df["status"] == "alive").sum(),
    }
    assert expected["death"] + expected["alive"] == n
    for kind, count in expected.items():
        assert len(_marks(fig, kind)) == count, kind
    ax = _axes(fig, SWIMMER_AXES_LABEL)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[:3] == ["HR", "MR", "SR"]
    assert [SWIMMER_EVENTS[k] for k in SWIMMER_EVENTS if expected[k]] == legend[3:]
    assert "Time from diagnosis" in _texts(fig)


def test_swimmer_bars_sorted_and_marks_on_their_patient():
    df = _patients(12, seed=3)
    fig = swimmer_figure(df, title="Swimmer", time_unit="days")
    ax = _axes(fig, SWIMMER_AXES_LABEL)
    bars = [p for p in ax.patches if p.get_gid() == "swimmer:bars"]
    widths = [b.get_width() for b in bars]
    assert widths == sorted(df["end"], reverse=True)
    # the y of a bar is its patient's row: every mark lies on a bar, within it in x
    row_end = {round(b.get_y() + b.get_height() / 2): b.get_width() for b in bars}
    for kind in ("response", "hsct", "relapse", "death"):
        for x, y in _marks(fig, kind):
            assert 0 <= x <= row_end[round(y)]
    for x, y in _marks(fig, "alive"):
        assert x == row_end[round(y)]
    # deaths without a day are drawn at the end of follow-up
    died = df[df["status"] == "dead"]
    assert sorted(_marks(fig, "death")[:, 0]) == sorted(died["death"].fillna(died["end"]))
    # labels: the first six characters of the IDs, longest follow-up on top
    labels = [t.get_text() for t in ax.get_yticklabels()]
    ids = df.sort_values("end", ascending=False)["study_id"].str[:6]
    assert labels == list(ids)
    assert ax.get_ylim()[0] > ax.get_ylim()[1]  # row 0 at the top


def test_swimmer_many_patients_have_no_labels_and_a_capped_height():
    small = swimmer_figure(_patients(30), title="s")
    many = swimmer_figure(_patients(63), title="s")
    huge = swimmer_figure(_patients(400, group=False), title="s")
    assert len(_axes(small, SWIMMER_AXES_LABEL).get_yticklabels()) == 30
    for fig, n in ((many, 63), (huge, 400)):
        ax = _axes(fig, SWIMMER_AXES_LABEL)
        assert ax.get_yticklabels() == [] or all(not t.get_text() for t in ax.get_yticklabels())
        assert ax.get_ylabel() == f"Patients (n = {n})"
    heights = [f.get_size_inches()[1] for f in (small, many, huge)]
    assert 3.5 <= heights[0] < 10 and 3.5 <= heights[1] <= 10
    assert heights[2] == 10.0


def test_swimmer_minimal_columns():
    df = pd.DataFrame(
        {"study_id": ["abcdefgh", "x"], "end": [400, 30], "status": ["alive", "dead"]}
    )
    fig = swimmer_figure(df, title="s", time_unit="weeks")
    assert len(_marks(fig, "alive")) == 1 and len(_marks(fig, "death")) == 1
    np.testing.assert_allclose(_marks(fig, "death")[:, 0], [30 / 7])
    assert [t.get_text() for t in _axes(fig, SWIMMER_AXES_LABEL).get_yticklabels()] == [
        "abcdef",
        "x",
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"status": ["alive", "lost"]}, "status"),
        ({"relapse": [500.0, np.nan]}, "after end"),
        ({"death": [np.nan, 10.0], "status": ["dead", "alive"]}, "alive patient"),
        ({"end": [np.nan, 30.0]}, "end of follow-up"),
        ({"end": [-1.0, 30.0]}, "non-negative"),
    ],
)
def test_swimmer_invalid_input_raises(change, message):
    df = pd.DataFrame({"study_id": ["a", "b"], "end": [400.0, 30.0], "status": ["alive", "dead"]})
    for col, values in change.items():
        df[col] = values
    with pytest.raises(ValueError, match=message):
        swimmer_figure(df, title="s")


def test_swimmer_missing_column_raises():
    with pytest.raises(ValueError, match="status"):
        swimmer_figure(pd.DataFrame({"study_id": ["a"], "end": [1]}), title="s")


# --------------------------------------------------------------------------- forest

FOREST = pd.DataFrame(
    {
        "label": ["Age ≥ 10 years", "WBC ≥ 50 × 10⁹/L", "T-lineage", "MRD positive", "Poor PRED"],
        "hr": [1.62, 2.05, 1.31, 3.84, 2.71],
        "lower": [1.02, 1.25, 0.71, 2.10, 1.40],
        "upper": [2.57, 3.36, 2.42, 7.02, 5.24],
        "p": [0.041, 0.0043, 0.39, 0.00002, 0.0031],
        "n": [210, 180, 60, 95, 40],
        "events": [40, 38, 12, 30, 14],
    }
)


def _gid_texts(fig: Figure, prefix: str) -> list:
    return [t for t in fig.texts if (t.get_gid() or "").startswith(prefix)]


def test_forest_texts_present():
    fig = forest_figure(FOREST, title="EFS", footnote="HR, hazard ratio")
    texts = _texts(fig)
    for expected in (
        "EFS",
        "HR, hazard ratio",
        "HR (95% CI)",
        "p",
        "Events/N",
        "40/210",
        "1.62 (1.02–2.57)",
        "3.84 (2.10–7.02)",
        "0.041",
        "0.004",
        "0.39",
        "<0.001",
        "Age ≥ 10 years",
    ):
        assert expected in texts, expected
    ax = _axes(fig, FOREST_AXES_LABEL)
    assert ax.get_xscale() == "log"
    lo, hi = ax.get_xlim()
    assert lo <= 0.71 and hi >= 7.02
    # the reference line at 1
    assert any(np.allclose(line.get_xdata(), 1.0) for line in ax.get_lines())


def test_forest_text_boxes_do_not_overlap_and_rows_align():
    rows = FOREST.copy()
    rows.loc[0, "label"] = "A rather long label for a subgroup of patients, to widen the column"
    rows.loc[1, ["hr", "lower", "upper"]] = [12.5, 0.004, 250.0]  # clipped both sides
    fig = forest_figure(rows, title="EFS")
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    texts = [t for t in fig.texts if t.get_text()]
    boxes = [t.get_window_extent(renderer) for t in texts]
    for (a, ta), (b, tb) in itertools.combinations(zip(boxes, texts, strict=True), 2):
        assert not a.overlaps(b), (ta.get_text(), tb.get_text())
    # the text columns stay clear of the plot area
    ax = _axes(fig, FOREST_AXES_LABEL)
    plot_box = ax.get_window_extent(renderer)
    for t, box in zip(texts, boxes, strict=True):
        if (t.get_gid() or "").split(":")[1] in ("label", "count", "hr", "p"):
            assert not box.overlaps(plot_box), t.get_text()
    # every row's texts share the vertical centre of its marker
    for i in range(len(rows)):
        (marker,) = [line for line in ax.get_lines() if line.get_gid() == f"forest:hr:{i}"]
        y_marker = ax.transData.transform((marker.get_xdata()[0], marker.get_ydata()[0]))[1]
        for key in ("label", "count", "hr", "p"):
            (text,) = _gid_texts(fig, f"forest:{key}:{i}")
            box = text.get_window_extent(renderer)
            assert abs((box.y0 + box.y1) / 2 - y_marker) < 2.5, (key, i)
    # and nothing leaves the figure
    fig_box = fig.bbox
    for box in boxes:
        assert fig_box.x0 <= box.x0 and box.x1 <= fig_box.x1
        assert fig_box.y0 <= box.y0 and box.y1 <= fig_box.y1


def test_forest_heading_rows_and_clipping():
    heading = pd.DataFrame([{"label": "Risk factors", "hr": np.nan, "lower": np.nan}])
    rows = pd.concat([heading, FOREST.drop(columns=["n", "events"])], ignore_index=True)
    rows.loc[2, "upper"] = np.inf
    fig = forest_figure(rows, title="t", xlim=(0.5, 5))
    assert "Risk factors" in _texts(fig)
    assert _gid_texts(fig, "forest:hr:0")[0].get_text() == ""
    assert not _gid_texts(fig, "forest:count")
    ax = _axes(fig, FOREST_AXES_LABEL)
    assert ax.get_xlim() == (0.5, 5)
    arrows = [line for line in ax.get_lines() if line.get_marker() in ("<", ">")]
    assert len(arrows) == 3  # rows 2 (inf), 4 (7.02) and 5 (5.24) beyond 5; 0.71 within
    assert "2.05 (1.25–∞)" in _texts(fig)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"lower": [3.0, 1.25, 0.71, 2.1, 1.4]}, "lower <= hr <= upper"),
        ({"hr": [-1.0, 2.05, 1.31, 3.84, 2.71]}, "lower <= hr <= upper"),
        ({"p": [2.0, 0.1, 0.1, 0.1, 0.1]}, "p must"),
    ],
)
def test_forest_invalid_rows_raise(change, message):
    rows = FOREST.copy()
    for col, values in change.items():
        rows[col] = values
    with pytest.raises(ValueError, match=message):
        forest_figure(rows, title="t")


def test_forest_missing_column_raises():
    with pytest.raises(ValueError, match="upper"):
        forest_figure(FOREST.drop(columns=["upper"]), title="t")


# --------------------------------------------------------------------------- files

BUILDERS = {
    "cif": lambda: cif_figure(CIF, title="CIR", at_risk=RISK, p_value_text="p", footnote="f"),
    "swimmer": lambda: swimmer_figure(_patients(30, seed=1), title="Swimmer", footnote="f"),
    "swimmer63": lambda: swimmer_figure(_patients(63, seed=2), title="Swimmer"),
    "forest": lambda: forest_figure(FOREST, title="Forest", footnote="f"),
}


@pytest.mark.parametrize("name", list(BUILDERS))
def test_saving_is_byte_deterministic(tmp_path: Path, name):
    fig = BUILDERS[name]()
    first = save_figure(fig, tmp_path / "a" / name)
    assert [p.suffix for p in first] == [".png", ".pdf", ".svg"]
    second = save_figure(fig, tmp_path / "b" / name)
    third = save_figure(BUILDERS[name](), tmp_path / "c" / name)  # rebuilt from the data
    for a, b, c in zip(first, second, third, strict=True):
        assert a.read_bytes() == b.read_bytes() == c.read_bytes(), a.name


def test_forest_long_labels_wrap_and_their_rows_grow():
    rows = FOREST.copy()
    rows.loc[2, "label"] = "  " + "a subgroup label far longer than forty-five characters " * 2
    fig = forest_figure(rows, title="t")
    (label,) = _gid_texts(fig, "forest:label:2")
    lines = label.get_text().split("\n")
    assert len(lines) >= 3 and all(len(line) <= 45 for line in lines)
    assert all(line.startswith("  ") for line in lines)  # the indent is kept
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in fig.texts if t.get_text()]
    assert not any(a.overlaps(b) for a, b in itertools.combinations(boxes, 2))
    assert fig.get_size_inches()[0] < 9.0  # wrapping keeps the figure near page width


def test_swimmer_zero_follow_up_still_draws():
    df = pd.DataFrame({"study_id": ["a"], "end": [0.0], "status": ["dead"]})
    fig = swimmer_figure(df, title="s")
    assert _axes(fig, SWIMMER_AXES_LABEL).get_xlim()[1] > 0
