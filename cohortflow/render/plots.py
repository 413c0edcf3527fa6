"""Further publication figures: cumulative incidence, swimmer and forest plots.

Like ``cohortflow.render.figures`` (whose palette, style, tick rules and legend placement
are reused here), every function returns a ``matplotlib.figure.Figure`` on the Agg
canvas without touching pyplot's global state; save it with
``cohortflow.render.figures.save_figure`` for byte-for-byte reproducible PNG, PDF and SVG.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.path import Path as MplPath
from matplotlib.ticker import FuncFormatter, NullLocator
from matplotlib.transforms import blended_transform_factory

from cohortflow.core.formatting import format_p, percent_tick
from cohortflow.render.figures import (
    AT_RISK_AXES_LABEL,
    PALETTE,
    STYLE,
    add_footnote,
    axes_with_risk_table,
    check_axis_args,
    check_time_unit,
    clear_of,
    curve_pairs,
    draw_at_risk,
    nice_step,
    place_legend,
    tick_label,
    time_ticks,
    validate_at_risk,
    wrap_footnote,
)

__all__ = [
    "AT_RISK_AXES_LABEL",
    "CIF_AXES_LABEL",
    "FOREST_AXES_LABEL",
    "SWIMMER_AXES_LABEL",
    "SWIMMER_EVENTS",
    "cif_figure",
    "forest_figure",
    "swimmer_figure",
]

#: ``Axes.get_label()`` of the main axes of each figure (the CIF number-at-risk axes
#: carry ``AT_RISK_AXES_LABEL``, as in the Kaplan-Meier figure).
CIF_AXES_LABEL = "cif"
SWIMMER_AXES_LABEL = "swimmer"
FOREST_AXES_LABEL = "forest"

#: Optional event-day columns of ``swimmer_figure`` and their legend labels, in drawing
#: order. Each kind is drawn as one marker artist whose gid is ``"swimmer:<kind>"``;
#: ``"alive"`` (an arrow after the bar) marks patients alive at last follow-up.
SWIMMER_EVENTS: dict[str, str] = {
    "response": "Response",
    "hsct": "HSCT",
    "death": "Death",
    "relapse": "Relapse",
    "alive": "Alive at last follow-up",
}

_FIG_WIDTH = 7.0  # inches, as the Kaplan-Meier figure
_SHORT_ID = 6  # characters of the study ID shown on the swimmer plot
_MAX_SWIMMER_LABELS = 40  # more patients than this: no ID labels
_MAX_HEIGHT = 10.0  # inches, cap of the swimmer plot

# an arrow pointing right whose tail sits on the data point (custom marker paths are
# scaled, not re-centred, so the arrow starts where the bar ends)
_ARROW = MplPath(
    [(0.15, -0.12), (0.6, -0.12), (0.6, -0.35), (1.0, 0.0), (0.6, 0.35), (0.6, 0.12), (0.15, 0.12)]
    + [(0.15, -0.12)],
    [MplPath.MOVETO] + [MplPath.LINETO] * 6 + [MplPath.CLOSEPOLY],
)

# marker style per swimmer event kind (edges black so marks stand out on any bar colour)
_SWIMMER_MARKERS: dict[str, dict[str, object]] = {
    "response": {
        "marker": "^",
        "markerfacecolor": "white",
        "markeredgecolor": "black",
        "markeredgewidth": 0.8,
    },
    "hsct": {
        "marker": "D",
        "markerfacecolor": "#F0E442",
        "markeredgecolor": "black",
        "markeredgewidth": 0.8,
    },
    "death": {
        "marker": "s",
        "markerfacecolor": "black",
        "markeredgecolor": "black",
        "markeredgewidth": 0.8,
    },
    "relapse": {
        "marker": "X",
        "markerfacecolor": "#D55E00",
        "markeredgecolor": "black",
        "markeredgewidth": 0.5,
    },
    "alive": {
        "marker": _ARROW,
        "markerfacecolor": "black",
        "markeredgecolor": "black",
        "markeredgewidth": 0.3,
    },
}

# marker size relative to the others (the arrow path fills only half its box)
_SWIMMER_MARKER_SCALE = {"relapse": 1.15, "alive": 1.7}

#: Line styles cycled with the colours, so curves can be told apart without colour and
#: overlapping curves (or curves along the x axis) stay visible.
LINE_STYLES = ("-", (0, (5, 2)), (0, (1, 1.5)), (0, (6, 2, 1, 2)))

# y-axis upper limits tried for cumulative incidence, with their tick steps
_CIF_YMAX = ((0.1, 0.02), (0.2, 0.05), (0.3, 0.05), (0.4, 0.1), (0.5, 0.1), (0.6, 0.1))
_CIF_YMAX += ((0.8, 0.2), (1.0, 0.2))

# hazard-ratio axis: candidate ticks (1-2-5 series) and the default plotted range
_HR_TICKS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)
_HR_DECADES = (0.01, 0.1, 1.0, 10.0, 100.0)
_FOREST_LABEL_CHARS = 45  # longer row labels wrap onto further lines


# --------------------------------------------------------------------------- shared


# --------------------------------------------------------------------------- CIF


def _validate_cif(
    curves: Mapping[str, tuple[np.ndarray, np.ndarray]],
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Curves as (label, times, values) after checking shape, range and monotonicity."""
    out = []
    for label, times, cif in curve_pairs(curves, "cif_figure", "times, cif"):
        t = np.asarray(times, dtype=float).ravel()
        v = np.asarray(cif, dtype=float).ravel()
        if t.size == 0 or t.size != v.size:
            raise ValueError(f"curve {label!r}: times and cif must be non-empty and equally long")
        if not (np.isfinite(t).all() and np.isfinite(v).all()):
            raise ValueError(f"curve {label!r}: times and cif must be finite")
        if (t < 0).any() or (np.diff(t) < 0).any():
            raise ValueError(f"curve {label!r}: times must be non-negative and sorted")
        if (v < 0).any() or (v > 1).any() or (np.diff(v) < -1e-12).any():
            raise ValueError(f"curve {label!r}: cif must be non-decreasing within [0, 1]")
        out.append((label, t, v))
    return out


def _cif_ylim(top: float) -> tuple[float, float]:
    """Upper y limit and tick step for curves reaching ``top``."""
    for limit, step in _CIF_YMAX:
        if top <= limit * 0.92 or limit == 1.0:
            return limit, step
    raise AssertionError("unreachable")  # pragma: no cover


def cif_figure(
    curves: Mapping[str, tuple[np.ndarray, np.ndarray]],
    *,
    title: str,
    time_unit: str = "months",
    xmax: float | None = None,
    tick_step: float | None = None,
    p_value_text: str | None = None,
    ylabel: str = "Cumulative incidence",
    footnote: str | None = None,
    at_risk: Mapping[str, tuple[Sequence[float], Sequence[int]]] | None = None,
    ymax: float | None = None,
    percent: bool = False,
    xlabel: str | None = None,
    styles: Mapping[str, tuple[int, int]] | None = None,
) -> Figure:
    """Step curves of cumulative incidence, with an optional number-at-risk table.

    ``styles`` maps a curve label to (colour index, line-style index) into the palette
    and ``LINE_STYLES``; by default both advance with each curve, so every curve differs
    in colour and in line style. Curves are drawn above the axis line (the x axis is
    offset below 0), so a curve that stays at 0 is still visible.

    ``curves`` maps a label to ``(times, cif)``: the estimate ``cif[i]`` holds from
    ``times[i]`` (in days, sorted) until the next time, and the curve is drawn from
    (0, 0) to the last time. Times are shown in ``time_unit`` ("days", "weeks",
    "months" = days / 30.4375, "years" = days / 365.25); x ticks and limits follow
    the Kaplan-Meier figure (``xmax`` and ``tick_step`` in ``time_unit``).

    ``at_risk`` maps row labels (curve labels, or group labels: the part of curve labels
    before ": ") to ``(times_days, counts)``; the counts are printed in a table under
    the axes, one row per key, labelled and coloured like its (first) curve (dark grey
    when none matches), each number under its own time. Unless ``tick_step`` is given these
    times are the x ticks. The y axis ends at ``ymax`` or at a round value above the
    highest curve (0.1, 0.2, ..., 1); ``percent`` labels it in %. The legend lists
    the curves and ``p_value_text`` if given. Raises ``ValueError`` on invalid
    arguments or data.
    """
    per_unit = check_time_unit(time_unit)
    check_axis_args(tick_step, xmax)
    if ymax is not None and not 0 < ymax <= 1:
        raise ValueError(f"ymax must be in (0, 1], got {ymax}")
    data = _validate_cif(curves)
    labels = [label for label, _, _ in data]
    risk = validate_at_risk(at_risk) if at_risk else {}
    last = max(float(t[-1]) for _, t, _ in data) / per_unit
    if risk and tick_step is None:
        ticks = np.unique(np.concatenate([t for t, _ in risk.values()])) / per_unit
        x_right = float(xmax) if xmax is not None else max(last, float(ticks[-1]), 0.0) or 1.0
        ticks = ticks[ticks <= x_right * (1 + 1e-9)]
    else:
        ticks, x_right = time_ticks(last, time_unit, tick_step, xmax)
    top = max(float(v.max()) for _, _, v in data)
    y_lim = _cif_ylim(top) if ymax is None else (float(ymax), _nice_fraction_step(float(ymax)))

    rows = list(risk)
    height = 5.5 if rows else 4.8
    with mpl.rc_context(STYLE):
        if rows:
            fig, ax, ax_risk = axes_with_risk_table(CIF_AXES_LABEL, len(rows), height)
        else:
            fig = Figure(figsize=(_FIG_WIDTH, height), layout="constrained")
            FigureCanvasAgg(fig)
            ax = fig.add_subplot(label=CIF_AXES_LABEL)
        handles, colours = _draw_cif_curves(ax, data, styles or {}, per_unit)
        obstacles = list(handles)
        if p_value_text:
            handles.append(Line2D([], [], linestyle="none", label=p_value_text))
        ax.set_title(title, loc="left")
        _cif_axes(ax, x_right, ticks, y_lim, percent)
        ax.set_xlabel(xlabel or f"Time ({time_unit})")
        ax.set_ylabel(ylabel)
        if rows:
            row_colours = {
                r: next((colours[c] for c in labels if c == r or c.startswith(f"{r}: ")), "0.2")
                for r in rows
            }
            shown = {r: (risk[r][0] / per_unit, risk[r][1]) for r in rows}
            draw_at_risk(ax_risk, rows, shown, row_colours, x_right)
        add_footnote(fig, footnote, height, gid="footnote")
        _place_cif_legend(fig, ax, handles, obstacles)
    return fig


def _draw_cif_curves(
    ax: Axes,
    data: list[tuple[str, np.ndarray, np.ndarray]],
    styles: Mapping[str, tuple[int, int]],
    per_unit: float,
) -> tuple[list[Line2D], dict[str, str]]:
    """The step curves from (0, 0), coloured and dashed by ``styles``; returns their lines
    and colours by label."""
    handles: list[Line2D] = []
    colours: dict[str, str] = {}
    for i, (label, t, v) in enumerate(data):
        x = t / per_unit
        if x[0] > 0:  # start at (0, 0)
            x, v = np.concatenate(([0.0], x)), np.concatenate(([0.0], v))
        c_i, s_i = styles.get(label, (i, i))
        colours[label] = PALETTE[c_i % len(PALETTE)]
        # explicit step vertices, so the drawn path is the artist's path
        (line,) = ax.plot(
            np.repeat(x, 2)[1:],
            np.repeat(v, 2)[:-1],
            color=colours[label],
            linestyle=LINE_STYLES[s_i % len(LINE_STYLES)],
            linewidth=1.6,
            label=label,
            gid=f"cif:{i}",
            zorder=3,
        )
        handles.append(line)
    return handles, colours


def _cif_axes(
    ax: Axes, x_right: float, ticks: np.ndarray, y_lim: tuple[float, float], percent: bool
) -> None:
    """Limits and ticks of the cumulative-incidence axes (``y_lim``: top and tick step)."""
    y_top, y_step = y_lim
    ax.set_xlim(0, x_right)
    ax.set_ylim(0, y_top * 1.05 if y_top == 1.0 else y_top)
    # the x axis sits a little below 0, so curves along 0 are not hidden by it
    ax.spines["bottom"].set_position(("outward", 4))
    ax.set_xticks(ticks, labels=[tick_label(v) for v in ticks])
    ax.set_yticks(np.arange(0, y_top + y_step / 2, y_step))
    decimals = max(1, -math.floor(math.log10(y_step) + 1e-9))
    fmt = percent_tick if percent else (lambda v, _p: f"{v:.{decimals}f}")
    ax.yaxis.set_major_formatter(FuncFormatter(fmt))


def _nice_fraction_step(top: float) -> float:
    """A tick step giving 2 to 6 intervals on [0, top]."""
    for step in (0.01, 0.02, 0.05, 0.1, 0.2, 0.25):
        if top / step <= 6:
            return step
    return 0.25


def _place_cif_legend(
    fig: Figure, ax: Axes, handles: list[Line2D], obstacles: list[Line2D]
) -> None:
    """Legend at the upper left if clear of the curves (they rise to the right), else
    where the Kaplan-Meier figure would put it."""
    legend = ax.legend(handles=handles, loc="upper left", frameon=False, handlelength=1.8)
    fig.draw_without_rendering()
    if clear_of(legend.get_window_extent(fig.canvas.get_renderer()).padded(4), obstacles):
        return
    place_legend(fig, ax, handles, obstacles)


# --------------------------------------------------------------------------- swimmer


def _swimmer_data(patients: pd.DataFrame) -> pd.DataFrame:
    """Validated copy of the swimmer input, longest follow-up first."""
    missing = [c for c in ("study_id", "end", "status") if c not in patients.columns]
    if missing:
        raise ValueError(f"swimmer_figure: patients lacks column(s) {missing}")
    if patients.empty:
        raise ValueError("swimmer_figure needs at least one patient")
    df = patients.copy()
    df["study_id"] = df["study_id"].astype(str)
    df["status"] = df["status"].astype(str).str.strip().str.lower()
    bad = sorted(set(df["status"]) - {"alive", "dead"})
    if bad:
        raise ValueError(f"swimmer_figure: status must be 'alive' or 'dead', got {bad}")
    day_cols = ["end", *(c for c in ("response", "hsct", "relapse", "death") if c in df)]
    for col in day_cols:
        try:
            df[col] = pd.to_numeric(df[col]).astype(float)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"swimmer_figure: column {col!r} must hold days") from exc
        if (df[col] < 0).any() or np.isinf(df[col]).any():
            raise ValueError(f"swimmer_figure: column {col!r} must be finite and non-negative")
    if df["end"].isna().any():
        raise ValueError("swimmer_figure: every patient needs an end of follow-up")
    for col in day_cols[1:]:
        late = df.loc[df[col] > df["end"], "study_id"]
        if len(late):
            raise ValueError(f"swimmer_figure: {col} after end of follow-up for {list(late)}")
    if "death" in df:
        alive = df.loc[df["death"].notna() & (df["status"] == "alive"), "study_id"]
        if len(alive):
            raise ValueError(f"swimmer_figure: death day given for alive patient(s) {list(alive)}")
    order = np.lexsort((df["study_id"].to_numpy(), -df["end"].to_numpy()))
    return df.iloc[order].reset_index(drop=True)


def _groups(df: pd.DataFrame) -> list[str] | None:
    """Group labels in display order (categorical order, else sorted), or None."""
    if "group" not in df:
        return None
    col = df["group"]
    if isinstance(col.dtype, pd.CategoricalDtype):
        present = set(col.dropna().astype(str))
        levels = [str(c) for c in col.cat.categories if str(c) in present]
    else:
        levels = sorted(set(col.dropna().astype(str)))
    if col.isna().any():
        levels.append("Unknown")
    if len(levels) > len(PALETTE) - 1:
        raise ValueError(f"swimmer_figure: at most {len(PALETTE) - 1} groups, got {len(levels)}")
    return levels


def swimmer_figure(
    patients: pd.DataFrame,
    *,
    title: str,
    time_unit: str = "months",
    footnote: str | None = None,
    xlabel: str | None = None,
) -> Figure:
    """One horizontal bar per patient from the origin to last follow-up, with event marks.

    ``patients`` has ``study_id`` (pseudonymous), ``end`` (days of follow-up from the
    origin) and ``status`` ("alive"/"dead"), and optionally the day columns
    ``response``, ``hsct``, ``relapse`` and ``death`` (NaN where none) and ``group``
    (bar colour, with a legend entry per group). Bars are sorted by follow-up,
    longest on top. Marks: response (white triangle), HSCT (yellow diamond), relapse
    (red cross), death (black square; at ``end`` if the day is missing) and, for
    patients alive at last follow-up, an arrow after the bar. Up to 40 patients the y
    axis shows the first six characters of the study ID; with more, no IDs are shown
    and rows are thinner. The height grows with the number of patients up to 10
    inches. Raises ``ValueError`` on missing columns or inconsistent data (an event
    after ``end``, a death day for a patient alive).
    """
    per_unit = check_time_unit(time_unit)
    df = _swimmer_data(patients)
    n = len(df)
    show_ids = n <= _MAX_SWIMMER_LABELS
    n_foot = wrap_footnote(footnote)[1] if footnote else 0
    base = 1.5 + (0.1 + 0.15 * n_foot if footnote else 0.0)
    height = min(_MAX_HEIGHT, max(3.5, base + (0.19 if show_ids else 0.11) * n))
    pitch_pts = (height - base) / n * 72.0  # approximate row pitch in points
    marker_size = float(np.clip(0.62 * pitch_pts, 3.0, 7.5))

    groups = _groups(df)
    with mpl.rc_context(STYLE):
        fig = Figure(figsize=(_FIG_WIDTH, height), layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot(label=SWIMMER_AXES_LABEL)
        y = np.arange(n, dtype=float)
        ends = df["end"].to_numpy() / per_unit
        handles: list[Line2D | Patch] = []
        if groups is None:
            colours = [PALETTE[5]] * n
        else:
            names = df["group"].astype(object).where(df["group"].notna(), "Unknown").astype(str)
            colours = [PALETTE[groups.index(g)] for g in names]
            handles += [
                Patch(facecolor=PALETTE[k], alpha=0.55, label=g) for k, g in enumerate(groups)
            ]
        ax.barh(y, ends, height=0.62, color=colours, alpha=0.55, linewidth=0, gid="swimmer:bars")
        x_last = float(ends.max()) if n else 1.0
        x_last = x_last if x_last > 0 else 1.0
        # one marker width in data units (the axes span about 5 of the 7 inches)
        width = marker_size * 1.15 / 72.0 / 5.0 * x_last * 1.12
        shown = _draw_swimmer_marks(ax, df, y, per_unit, width, marker_size, handles)
        step = nice_step(x_last, time_unit)
        ticks = step * np.arange(0, math.floor(x_last / step * (1 + 1e-9)) + 1)
        # the axis ends at the data: the last bar plus room for the markers after it
        right = max(float(np.nanmax(np.concatenate([v for v in shown.values()]))), x_last)
        ax.set_xlim(0, right + 1.2 * width)
        ax.set_xticks(ticks, labels=[tick_label(v) for v in ticks])
        _swimmer_axes(ax, df, y, show_ids)
        ax.set_xlabel(xlabel or f"Time ({time_unit})")
        ax.set_title(title, loc="left")
        ax.legend(
            handles=handles,
            loc="upper left",
            bbox_to_anchor=(1.0, 1.0),  # offset by the pad in points, not a fraction of
            frameon=False,  # the axes width: the layout then settles in a single pass
            borderaxespad=0.8,
            handlelength=1.4,
        )
        add_footnote(fig, footnote, height, gid="footnote")
        fig.draw_without_rendering()  # settle the layout, so every save draws the same
    return fig


def _draw_swimmer_marks(
    ax: Axes,
    df: pd.DataFrame,
    y: np.ndarray,
    per_unit: float,
    width: float,
    marker_size: float,
    handles: list[Line2D | Patch],
) -> dict[str, np.ndarray]:
    """The event marks of every bar, one artist per event kind, each with a legend key
    appended to ``handles``; returns the marks' x positions by kind."""
    events = _swimmer_events(df)
    shown = _spread_markers(df, events, per_unit, width)
    for kind, mask in events.items():
        if not mask.any():
            continue
        style = {**_SWIMMER_MARKERS[kind], "linestyle": "none"}
        scale = _SWIMMER_MARKER_SCALE.get(kind, 1.0)
        ax.plot(
            shown[kind][mask.to_numpy()],
            y[mask.to_numpy()],
            markersize=marker_size * scale,
            clip_on=False,
            zorder=4 if kind == "relapse" else 3,
            gid=f"swimmer:{kind}",
            **style,
        )
        # legend keys at a fixed, readable size whatever the row height
        handles.append(Line2D([], [], markersize=7.0 * scale, label=SWIMMER_EVENTS[kind], **style))
    return shown


def _swimmer_axes(ax: Axes, df: pd.DataFrame, y: np.ndarray, show_ids: bool) -> None:
    """The patient axis (short study IDs, or the count), spines and grid of the swimmer plot."""
    n = len(df)
    ax.set_ylim(n - 0.5, -0.5)
    if show_ids:
        ax.set_yticks(y, labels=[s[:_SHORT_ID] for s in df["study_id"]], fontsize=8)
        ax.tick_params(axis="y", length=0)
        ax.set_ylabel("Patient")
    else:
        ax.yaxis.set_major_locator(NullLocator())
        ax.set_ylabel(f"Patients (n = {n})")
    ax.spines["left"].set_visible(False)
    ax.grid(axis="x", color="0.9", linewidth=0.6)
    ax.set_axisbelow(True)


def _spread_markers(
    df: pd.DataFrame, events: dict[str, pd.Series], per_unit: float, width: float
) -> dict[str, np.ndarray]:
    """X position (in the time unit) of each event kind's marker per row, moved right so
    that no marker hides another on the same bar: markers closer than ``width`` to an
    earlier one (in drawing order) move one width per marker before them; the "alive"
    arrow always starts after the bar end and after any marker there."""
    days = {}
    for kind in events:
        col = df["end"] if kind in ("alive", "death") else df.get(kind, df["end"])
        if kind == "death" and "death" in df:
            col = df["death"].fillna(df["end"])
        days[kind] = col.to_numpy(dtype=float) / per_unit
    if not days:
        return {}
    kinds = list(days)
    x = np.vstack([np.where(events[k].to_numpy(), days[k], np.nan) for k in kinds])  # kind x row
    bins = np.floor(x / width)
    shown = x.copy()
    for j in range(1, len(kinds)):  # loops over event kinds (at most 5), vectorised over rows
        earlier = bins[:j]
        crowded = np.isfinite(x[j]) & (np.abs(earlier - bins[j]) <= 1).any(axis=0)
        n_before = np.nansum(np.abs(earlier - bins[j]) <= 1, axis=0)
        shown[j] = np.where(crowded, x[j] + n_before * width, x[j])
    if "alive" in kinds:
        a = kinds.index("alive")
        others = np.nanmax(np.vstack([shown[:a], shown[a + 1 :]]), axis=0, initial=-np.inf)
        base = np.maximum(x[a], np.where(np.isfinite(others), others + 0.6 * width, x[a]))
        shown[a] = np.where(np.isfinite(x[a]), base, np.nan)
    return {k: shown[i] for i, k in enumerate(kinds)}


def _swimmer_events(df: pd.DataFrame) -> dict[str, pd.Series]:
    """Per event kind, which patients (rows of ``df``) get a mark."""
    out = {}
    for kind in SWIMMER_EVENTS:
        if kind == "alive":
            out[kind] = df["status"] == "alive"
        elif kind == "death":
            out[kind] = df["status"] == "dead"
        elif kind in df:
            out[kind] = df[kind].notna()
    return out


# --------------------------------------------------------------------------- forest


def _fmt_ratio(value: float) -> str:
    """A hazard ratio or limit with two decimals (fewer above 10, two digits below 0.01)."""
    if not np.isfinite(value):
        return "NA" if np.isnan(value) else "∞"
    if value < 0.01:
        return f"{value:.2g}"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 100 else f"{value:.0f}"


def _wrap_label(label: str) -> str:
    """A forest-plot row label wrapped to ``_FOREST_LABEL_CHARS``, keeping its indent."""
    indent = label[: len(label) - len(label.lstrip(" "))]
    return "\n".join(
        textwrap.fill(part, width=_FOREST_LABEL_CHARS, subsequent_indent=indent) or part
        for part in label.split("\n")
    )


def _forest_data(rows: pd.DataFrame) -> pd.DataFrame:
    """Validated copy of the forest rows."""
    missing = [c for c in ("label", "hr", "lower", "upper", "p") if c not in rows.columns]
    if missing:
        raise ValueError(f"forest_figure: rows lacks column(s) {missing}")
    if rows.empty:
        raise ValueError("forest_figure needs at least one row")
    df = rows.reset_index(drop=True).copy()
    df["label"] = df["label"].astype(object).where(df["label"].notna(), "").astype(str)
    for col in ("hr", "lower", "upper", "p"):
        df[col] = pd.to_numeric(df[col], errors="raise").astype(float)
    est = df["hr"].notna()
    hr, lo, hi = df["hr"], df["lower"], df["upper"]
    bad = est & ~((hr > 0) & np.isfinite(hr) & (lo > 0) & (lo <= hr) & (hr <= hi))
    if bad.any():
        raise ValueError(
            f"forest_figure: need 0 < lower <= hr <= upper for rows {list(df.loc[bad, 'label'])}"
        )
    if ((df["p"] < 0) | (df["p"] > 1)).any():
        raise ValueError("forest_figure: p must lie in [0, 1]")
    return df


def _hr_limits(df: pd.DataFrame, xlim: tuple[float, float] | None) -> tuple[float, float]:
    """X limits: the 1-2-5 values just outside the intervals, always including 1."""
    if xlim is not None:
        lo, hi = float(xlim[0]), float(xlim[1])
        if not 0 < lo < 1 < hi:
            raise ValueError(f"xlim must satisfy 0 < low < 1 < high, got {xlim}")
        return lo, hi
    est = df["hr"].notna()
    low = df.loc[est, "lower"].min() if est.any() else 1.0
    high = df.loc[est, "upper"].replace(np.inf, np.nan).max() if est.any() else 1.0
    low = min(float(low), 0.99) if np.isfinite(low) else 0.5
    high = max(float(high), 1.01) if np.isfinite(high) else 2.0
    lo = max([t for t in _HR_TICKS if t <= low * 1.0001], default=_HR_TICKS[0])
    hi = min([t for t in _HR_TICKS if t >= high / 1.0001], default=_HR_TICKS[-1])
    return lo, hi


def _hr_ticks(lo: float, hi: float) -> list[float]:
    """1-2-5 ticks within the limits, thinned to decades when there are too many."""
    ticks = [t for t in _HR_TICKS if lo * 0.9999 <= t <= hi * 1.0001]
    if len(ticks) > 7:
        ticks = [t for t in ticks if t in _HR_DECADES or t in (lo, hi)]
    return ticks


def forest_figure(
    rows: pd.DataFrame,
    *,
    title: str,
    footnote: str | None = None,
    xlabel: str = "Hazard ratio (log scale)",
    xlim: tuple[float, float] | None = None,
) -> Figure:
    """Forest plot of hazard ratios with their 95 % CIs and a text column of estimates.

    ``rows`` has ``label``, ``hr``, ``lower``, ``upper`` and ``p`` and optionally ``n``
    and/or ``events`` (shown as "events/n", or alone, in a column before the plot).
    Each row gets a square at the HR and a line over its CI on a log x axis with a
    dashed line at 1; to the right, "HR (95% CI)" and p, aligned with the row. A row
    whose ``hr`` is missing (a heading or reference category) shows its label only, in
    bold. Labels longer than 45 characters wrap (leading spaces, an indent, are kept)
    and their rows grow to fit.
    CIs beyond the x limits (``xlim``, default the 1-2-5 values just outside all CIs)
    end in an arrow. The figure is at least 7 inches wide and grows when the text
    columns need it; all columns are laid out from their measured text widths, so
    they never overlap. Raises ``ValueError`` on invalid rows.
    """
    df = _forest_data(rows)
    lo_lim, hi_lim = _hr_limits(df, xlim)
    est = df["hr"].notna().to_numpy()
    labels = [_wrap_label(label) for label in df["label"]]
    columns = _forest_columns(df, est, labels)

    with mpl.rc_context(STYLE):
        font = FontProperties(size=mpl.rcParams["font.size"])
        bold = FontProperties(size=mpl.rcParams["font.size"], weight="bold")
        fig = Figure(figsize=(_FIG_WIDTH, 4.0))  # resized below once texts are measured
        FigureCanvasAgg(fig)
        g = _forest_geometry(fig, columns, labels, footnote, font, bold)
        ax = fig.add_axes(
            (
                g.plot_left / g.fig_width,
                g.bottom / g.fig_height,
                g.plot_w / g.fig_width,
                g.plot_h / g.fig_height,
            ),
            label=FOREST_AXES_LABEL,
        )
        _forest_axes(ax, (lo_lim, hi_lim), g.plot_h, xlabel)
        _draw_forest_cis(ax, df, est, g.ys, (lo_lim, hi_lim))
        _draw_forest_text(fig, ax, columns, g, est, (font, bold))
        rule_y = (g.fig_height - _FOREST_TOP - _FOREST_ROW) / g.fig_height
        margin = _FOREST_MARGIN / g.fig_width
        fig.add_artist(
            Line2D(
                [margin, 1 - margin], [rule_y, rule_y],
                transform=fig.transFigure, color="0.3", linewidth=0.6,
            )
        )  # fmt: skip
        fig.text(
            margin,
            1 - 0.2 / g.fig_height,
            title,
            ha="left",
            va="top",
            fontsize=mpl.rcParams["axes.titlesize"],
            gid="forest:title",
        )
        if footnote:
            fig.text(
                margin,
                0.06 / g.fig_height,
                g.foot_text,
                ha="left",
                va="bottom",
                fontsize=7.5,
                color="0.3",
                gid="footnote",
            )
    return fig


# forest-plot layout, inches: gap between columns, outer margin, narrowest plot, row height,
# space above the header row and below the rows (axis labels)
_FOREST_GAP, _FOREST_MARGIN, _FOREST_MIN_PLOT = 0.22, 0.15, 2.2
_FOREST_ROW, _FOREST_TOP, _FOREST_BOTTOM = 0.3, 0.42, 0.62


def _forest_columns(
    df: pd.DataFrame, est: np.ndarray, labels: list[str]
) -> list[tuple[str, str, list[str]]]:
    """The text columns of the forest plot as (key, header, one text per row): the labels,
    events/N when given, the HR with its CI, and p."""

    def _count(r: pd.Series) -> str:
        parts = [r.get("events"), r.get("n")]
        shown = [f"{int(v)}" for v in parts if v is not None and pd.notna(v)]
        return "/".join(shown)

    columns: list[tuple[str, str, list[str]]] = [("label", "", labels)]
    has_events, has_n = "events" in df, "n" in df
    if has_events or has_n:
        head = "Events/N" if has_events and has_n else "Events" if has_events else "N"
        columns.append(("count", head, [_count(r) for _, r in df.iterrows()]))
    hr_text = [
        f"{_fmt_ratio(h)} ({_fmt_ratio(lo)}–{_fmt_ratio(hi)})" if e else ""
        for h, lo, hi, e in zip(df["hr"], df["lower"], df["upper"], est, strict=True)
    ]
    columns.append(("hr", "HR (95% CI)", hr_text))
    columns.append(
        ("p", "p", [format_p(p, "figure") if e else "" for p, e in zip(df["p"], est, strict=True)])
    )
    return columns


@dataclass(frozen=True)
class _ForestGeometry:
    """Where the forest plot's parts go, in inches: figure size, the plot's box, the
    anchor (x, alignment) of each text column and the centre of each row."""

    fig_width: float
    fig_height: float
    plot_left: float
    plot_w: float
    plot_h: float
    bottom: float
    anchors: dict[str, tuple[float, str]]
    ys: np.ndarray
    foot_text: str


def _forest_geometry(
    fig: Figure,
    columns: list[tuple[str, str, list[str]]],
    labels: list[str],
    footnote: str | None,
    font: FontProperties,
    bold: FontProperties,
) -> _ForestGeometry:
    """Measure the text columns, size the figure to them and lay the columns out."""
    renderer = fig.canvas.get_renderer()

    def width(texts: list[str], prop: FontProperties) -> float:
        lines = [line for s in texts for line in s.split("\n")]
        sizes = [renderer.get_text_width_height_descent(s, prop, ismath=False) for s in lines]
        return max((w for w, _, _ in sizes), default=0.0) / fig.dpi

    widths = {key: max(width(values, font), width([head], bold)) for key, head, values in columns}
    fixed = 2 * _FOREST_MARGIN + sum(widths.values()) + _FOREST_GAP * len(columns)
    fig_width = max(_FIG_WIDTH, fixed + _FOREST_MIN_PLOT)
    plot_w = fig_width - fixed

    # row heights grow with wrapped labels; y data coordinates are inches from the top
    heights = np.array([_FOREST_ROW + 0.15 * label.count("\n") for label in labels])
    ys = np.cumsum(heights) - heights / 2
    foot_text, n_foot = wrap_footnote(footnote) if footnote else ("", 0)
    foot_h = 0.1 + 0.15 * n_foot if footnote else 0.0
    plot_h = float(heights.sum())
    fig_height = _FOREST_TOP + _FOREST_ROW + plot_h + _FOREST_BOTTOM + foot_h
    fig.set_size_inches(fig_width, fig_height)

    # x positions (inches from the left edge) of each column's anchor
    x = _FOREST_MARGIN
    anchors: dict[str, tuple[float, str]] = {}
    plot_left = 0.0
    for key, _, _ in columns:
        if key == "hr":
            plot_left = x
            x += plot_w + _FOREST_GAP
        anchors[key] = (x, "left") if key == "label" else (x + widths[key], "right")
        x += widths[key] + _FOREST_GAP
    anchors["hr"] = (anchors["hr"][0] - widths["hr"], "left")  # estimates read left-aligned
    return _ForestGeometry(
        fig_width,
        fig_height,
        plot_left,
        plot_w,
        plot_h,
        _FOREST_BOTTOM + foot_h,
        anchors,
        ys,
        foot_text,
    )


def _forest_axes(ax: Axes, limits: tuple[float, float], plot_h: float, xlabel: str) -> None:
    """The log hazard-ratio axis with 1-2-5 ticks and the dashed line at 1."""
    ax.set_xscale("log")
    ax.set_xlim(*limits)
    ax.set_ylim(plot_h, 0.0)
    ticks = _hr_ticks(*limits)
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticks(ticks, labels=[f"{t:g}" for t in ticks])
    ax.yaxis.set_major_locator(NullLocator())
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.set_xlabel(xlabel)
    ax.axvline(1.0, color="0.45", linewidth=0.8, linestyle="--", zorder=1)


def _draw_forest_cis(
    ax: Axes, df: pd.DataFrame, est: np.ndarray, ys: np.ndarray, limits: tuple[float, float]
) -> None:
    """Per estimated row: its CI as a line (arrows where it leaves the axis) and its HR as
    a square."""
    lo_lim, hi_lim = limits
    for i in np.flatnonzero(est):
        h, lo, hi = df.at[i, "hr"], df.at[i, "lower"], df.at[i, "upper"]
        ax.plot(
            [max(lo, lo_lim), min(hi, hi_lim)],
            [ys[i], ys[i]],
            color="black",
            linewidth=1.2,
            solid_capstyle="butt",
            gid=f"forest:ci:{i}",
        )
        for beyond, edge, marker in ((lo < lo_lim, lo_lim, "<"), (hi > hi_lim, hi_lim, ">")):
            if beyond:
                ax.plot([edge], [ys[i]], marker=marker, markersize=5, color="black", clip_on=False)
        if lo_lim <= h <= hi_lim:
            ax.plot(
                [h], [ys[i]], marker="s", markersize=6.5, color=PALETTE[0], linestyle="none",
                zorder=3, gid=f"forest:hr:{i}",
            )  # fmt: skip


def _draw_forest_text(
    fig: Figure,
    ax: Axes,
    columns: list[tuple[str, str, list[str]]],
    g: _ForestGeometry,
    est: np.ndarray,
    fonts: tuple[FontProperties, FontProperties],
) -> None:
    """The text columns, headers in bold, each text on its row (x and y in inches from the
    figure's left and the plot's top); a row without an estimate has a bold label."""
    font, bold = fonts
    trans = blended_transform_factory(fig.dpi_scale_trans, ax.transData)
    for key, head, values in columns:
        x_pos, ha = g.anchors[key]
        if head:
            fig.text(
                x_pos, -_FOREST_ROW / 2, head, transform=trans, ha=ha, va="center",
                fontproperties=bold, gid=f"forest:head:{key}", parse_math=False,
            )  # fmt: skip
        for i, text in enumerate(values):
            heading = key == "label" and not est[i]
            fig.text(
                x_pos, g.ys[i], text, transform=trans, ha=ha, va="center",
                fontproperties=bold if heading else font, gid=f"forest:{key}:{i}",
                parse_math=False,
            )  # fmt: skip
