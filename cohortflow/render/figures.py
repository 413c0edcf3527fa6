"""Publication figures: Kaplan-Meier curves with a number-at-risk table.

Figures are built on ``matplotlib.figure.Figure`` with the Agg canvas (pyplot and
its global state are never used) and saved byte-for-byte reproducibly as PNG, PDF
and SVG by ``save_figure``.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter
from matplotlib.transforms import Bbox

from cohortflow.core.formatting import percent_tick
from cohortflow.core.timescale import DAYS_PER_MONTH, DAYS_PER_YEAR

__all__ = [
    "AT_RISK_AXES_LABEL",
    "FONT_FAMILY",
    "HANGUL_FONT",
    "KM_AXES_LABEL",
    "TIME_UNITS",
    "SurvivalCurve",
    "hangul_font_available",
    "km_figure",
    "save_figure",
]


class SurvivalCurve(Protocol):
    """A Kaplan-Meier curve as ``km_figure`` draws it (``stats.survival.KMResult`` is one; the
    study figures read theirs from ``analyse/curves.parquet``): ``table`` with one row per
    distinct time from 0 (``time`` in days, ``survival``, ``lower``, ``upper``, ``n_risk``,
    ``n_censor``), ``n`` subjects and ``events``."""

    table: pd.DataFrame
    n: int
    events: int


#: Days per unit of the time axis (a month is 365.25 / 12 days).
TIME_UNITS: dict[str, float] = {
    "days": 1.0, "weeks": 7.0, "months": DAYS_PER_MONTH, "years": DAYS_PER_YEAR
}  # fmt: skip

#: ``Axes.get_label()`` of the survival-curve axes and of the number-at-risk axes.
KM_AXES_LABEL = "km"
AT_RISK_AXES_LABEL = "at-risk"

# Okabe-Ito colour-blind-safe palette (black last)
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")

# candidate tick steps per unit, smallest first
_NICE_STEPS: dict[str, tuple[float, ...]] = {
    "days": (1, 2, 5, 7, 14, 30, 60, 90, 180, 365, 730, 1825, 3650),
    "weeks": (1, 2, 4, 5, 10, 13, 26, 52, 104, 260, 520),
    "months": (1, 2, 3, 6, 12, 24, 36, 60, 120, 240),
    "years": (0.25, 0.5, 1, 2, 5, 10, 20, 50),
}
_MAX_TICK_INTERVALS = 8

# inside legend positions tried in turn; if none is clear of the curves it goes on top
_LEGEND_INSIDE = ("upper right", "lower left", "lower right", "center right", "lower center")

#: Font with Hangul glyphs (Debian ``fonts-nanum``), used where DejaVu Sans has no glyph
#: (Korean site or group labels); registered from these files when present.
HANGUL_FONT = "NanumGothic"
HANGUL_FONT_FILES = (
    "/usr/share/fonts/truetype/nanum/NanumGothic.ttf",
    "/usr/share/fonts/truetype/nanum/NanumGothicBold.ttf",
)


def hangul_font_available() -> bool:
    """Register the Hangul font with matplotlib (once) and say whether it is there.

    Matplotlib's font cache may predate the font's installation, so the files are added
    explicitly; the Makefile's ``setup`` and the test set-up install ``fonts-nanum``."""
    found = False
    for f in HANGUL_FONT_FILES:
        if Path(f).is_file():
            if f not in {e.fname for e in font_manager.fontManager.ttflist}:
                font_manager.fontManager.addfont(f)
            found = True
    return found


#: Font families in order: DejaVu Sans, then the Hangul font for glyphs it lacks.
FONT_FAMILY = ["DejaVu Sans", HANGUL_FONT] if hangul_font_available() else ["DejaVu Sans"]

STYLE = {
    "font.family": FONT_FAMILY,
    "font.size": 9.0,
    "axes.titlesize": 11.0,
    "axes.labelsize": 9.5,
    "legend.fontsize": 8.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
}

_SAVE_RC = {
    "svg.hashsalt": "cohortflow",
    "svg.fonttype": "path",
    "pdf.fonttype": 42,
}


def nice_step(span: float, unit: str) -> float:
    """A readable tick step giving at most ``_MAX_TICK_INTERVALS`` intervals over ``span``."""
    for step in _NICE_STEPS[unit]:
        if span / step <= _MAX_TICK_INTERVALS:
            return float(step)
    # beyond the table: a power of ten times 1, 2 or 5
    raw = span / _MAX_TICK_INTERVALS
    mag = 10.0 ** math.floor(math.log10(raw))
    return float(next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw))


def tick_label(value: float) -> str:
    """Axis tick text of a number: up to 10 significant digits, no trailing zeros."""
    return f"{value:.10g}"


def check_curve_count(curves: Mapping[str, Any], figure: str) -> None:
    """The check every curve figure (``figure`` in the message) shares: at least one curve,
    no more than the palette has colours (``ValueError`` otherwise)."""
    if not curves:
        raise ValueError(f"{figure} needs at least one curve")
    if len(curves) > len(PALETTE):
        raise ValueError(f"{figure} draws at most {len(PALETTE)} curves, got {len(curves)}")


def curve_pairs(
    curves: Mapping[str, tuple[Any, Any]], figure: str, pair: str
) -> list[tuple[str, Any, Any]]:
    """(label, first, second) of each curve of a figure, after the checks every curve figure
    shares (``check_curve_count``) and that each is a pair of two.

    ``figure`` and ``pair`` name the figure function and the pair's parts in the messages.
    """
    check_curve_count(curves, figure)
    out = []
    for label, two in curves.items():
        if len(two) != 2:
            raise ValueError(f"curve {label!r} must be a ({pair}) pair")
        out.append((str(label), two[0], two[1]))
    return out


#: The columns ``km_figure`` reads from a curve's ``table``.
KM_TABLE_COLUMNS = ("time", "survival", "lower", "upper", "n_risk", "n_censor")


def _validate_curves(curves: Mapping[str, SurvivalCurve]) -> list[tuple[str, SurvivalCurve]]:
    check_curve_count(curves, "km_figure")
    for label, km in curves.items():
        missing = [c for c in KM_TABLE_COLUMNS if c not in getattr(km, "table", {})]
        if missing or not len(km.table):
            raise ValueError(f"curve {label!r} needs a table with rows and columns {missing}")
    return [(str(label), km) for label, km in curves.items()]


def km_figure(
    curves: Mapping[str, SurvivalCurve],
    *,
    title: str,
    time_unit: str = "months",
    tick_step: float | None = None,
    xmax: float | None = None,
    p_value_text: str | None = None,
    ci_bands: bool = False,
    ylabel: str = "Survival probability",
    footnote: str | None = None,
    percent: bool = False,
    at_risk: Mapping[str, tuple[Sequence[float], Sequence[int]]] | None = None,
) -> Figure:
    """Kaplan-Meier curves with censor marks and a number-at-risk table underneath.

    ``curves`` maps a label to an estimate (``SurvivalCurve``: its step table, n and
    events); times are in days and shown in ``time_unit`` ("days", "weeks", "months" =
    days / 30.4375, "years" = days / 365.25). The at-risk table has one row per curve,
    labelled and coloured like the curve: ``at_risk`` maps each label to ``(times_days,
    counts)`` printed under their times (those beyond the axis left out); without it, the
    number still under observation at each x tick is read off the curve's table
    (``n_risk`` of its first time at or after the tick: right only without delayed entry).
    The legend gives n and events per curve, followed by ``p_value_text`` if given.
    ``percent`` labels the y axis 0-100 % instead of 0-1. Raises ``ValueError`` on invalid
    arguments or data.
    """
    per_unit = check_time_unit(time_unit)
    check_axis_args(tick_step, xmax)
    fits = _validate_curves(curves)
    given = validate_at_risk(at_risk) if at_risk else None
    if given is not None and (absent := [label for label, _ in fits if label not in given]):
        raise ValueError(f"at_risk has no row for curve(s) {absent}")
    last = max(float(km.table["time"].max()) for _, km in fits) / per_unit
    ticks, x_right = time_ticks(last, time_unit, tick_step, xmax)

    with mpl.rc_context(STYLE):
        fig, ax, ax_risk = axes_with_risk_table(KM_AXES_LABEL, len(fits), 5.5)
        handles: list[Line2D] = []
        obstacles: list[Line2D] = []
        for i, (label, km) in enumerate(fits):
            drawn = _draw_km_curve(ax, km, label, PALETTE[i], per_unit, x_right, ci_bands)
            handles.append(drawn[0])
            obstacles += drawn
        if p_value_text:
            handles.append(Line2D([], [], linestyle="none", label=p_value_text))
        _km_axes(ax, title, x_right, ticks, percent, time_unit, ylabel)
        risk = {
            label: (given[label][0] / per_unit, given[label][1])
            if given is not None
            else (ticks, _table_at_risk(km.table, ticks * per_unit))
            for label, km in fits
        }
        colours = {label: PALETTE[i] for i, (label, _) in enumerate(fits)}
        draw_at_risk(ax_risk, list(risk), risk, colours, x_right)
        add_footnote(fig, footnote, 5.5)
        place_legend(fig, ax, handles, obstacles)
    return fig


def _draw_km_curve(
    ax: Axes,
    km: SurvivalCurve,
    label: str,
    colour: str,
    per_unit: float,
    x_right: float,
    ci_bands: bool,
) -> list[Line2D]:
    """One Kaplan-Meier curve (with its CI band) and its censor marks within the x range;
    returns the curve's line, then the marks' artist if there are marks."""
    tab = km.table
    x = tab["time"].to_numpy() / per_unit
    s = tab["survival"].to_numpy()
    if ci_bands:
        ax.fill_between(
            x,
            tab["lower"].to_numpy(),
            tab["upper"].to_numpy(),
            step="post",
            color=colour,
            alpha=0.15,
            linewidth=0,
        )
    # explicit step vertices, so the drawn path is the artist's path
    (line,) = ax.plot(
        np.repeat(x, 2)[1:],
        np.repeat(s, 2)[:-1],
        color=colour,
        linewidth=1.6,
        label=f"{label} (n = {km.n}, events = {km.events})",
    )
    # censor marks inside the x range, drawn unclipped so edge marks stay whole
    # (no artist at all without marks: an empty unclipped line upsets the layout)
    cens = thin_marks(x, (tab["n_censor"].to_numpy() > 0) & (x <= x_right), x_right)
    if not cens.any():
        return [line]
    (marks,) = ax.plot(
        x[cens],
        s[cens],
        linestyle="none",
        marker="|",
        markersize=6,
        markeredgewidth=1.0,
        color=colour,
        clip_on=False,
    )
    return [line, marks]


def _km_axes(
    ax: Axes,
    title: str,
    x_right: float,
    ticks: np.ndarray,
    percent: bool,
    time_unit: str,
    ylabel: str,
) -> None:
    """Title, limits, ticks and labels of the survival axes."""
    ax.set_title(title, loc="left")
    ax.set_xlim(0, x_right)
    ax.set_ylim(0, 1.05)
    ax.set_xticks(ticks, labels=[tick_label(v) for v in ticks])
    ax.set_yticks(np.linspace(0, 1, 6))
    if percent:
        ax.yaxis.set_major_formatter(FuncFormatter(percent_tick))
    ax.set_xlabel(f"Time ({time_unit})")
    ax.set_ylabel(ylabel)


def _table_at_risk(table: pd.DataFrame, at: np.ndarray) -> list[int]:
    """Number under observation at each time ``at`` (days) read off a curve's step table:
    ``n_risk`` of its first time at or after it (0 after the last); right without delayed
    entry, where a table row's ``n_risk`` counts everyone whose time is at or after it."""
    idx = np.searchsorted(table["time"].to_numpy(float), at, side="left")
    n_risk = np.append(table["n_risk"].to_numpy(np.int64), 0)
    return [int(c) for c in n_risk[idx]]


def validate_at_risk(
    at_risk: Mapping[str, tuple[Sequence[float], Sequence[int]]],
) -> dict[str, tuple[np.ndarray, list[int]]]:
    """Number-at-risk rows keyed by label, times in days: (times, counts) pairs of equal
    length, finite non-negative times, non-negative whole counts (``ValueError`` otherwise)."""
    out = {}
    for label, pair in at_risk.items():
        if len(pair) != 2:
            raise ValueError(f"at_risk {label!r} must be a (times, counts) pair")
        t = np.asarray(pair[0], dtype=float).ravel()
        counts = np.asarray(pair[1]).ravel()
        if t.size != counts.size:
            raise ValueError(f"at_risk {label!r}: times and counts must be equally long")
        if not np.isfinite(t).all() or (t < 0).any():
            raise ValueError(f"at_risk {label!r}: times must be finite and non-negative")
        if counts.size and (
            not np.issubdtype(counts.dtype, np.number)
            or (counts < 0).any()
            or (counts != np.round(counts)).any()
        ):
            raise ValueError(f"at_risk {label!r}: counts must be non-negative whole numbers")
        out[str(label)] = (t, [int(c) for c in counts])
    return out


def check_time_unit(time_unit: str) -> float:
    """Days per unit of ``time_unit``; ``ValueError`` if it is unknown."""
    if time_unit not in TIME_UNITS:
        raise ValueError(f"time_unit must be one of {tuple(TIME_UNITS)}, got {time_unit!r}")
    return TIME_UNITS[time_unit]


def check_axis_args(tick_step: float | None, xmax: float | None) -> None:
    """``ValueError`` unless the optional tick step and axis end are positive."""
    if tick_step is not None and not tick_step > 0:
        raise ValueError(f"tick_step must be positive, got {tick_step}")
    if xmax is not None and not xmax > 0:
        raise ValueError(f"xmax must be positive, got {xmax}")


def time_ticks(
    x_last: float, unit: str, tick_step: float | None, xmax: float | None
) -> tuple[np.ndarray, float]:
    """X ticks and right axis limit of a curve figure whose data end at ``x_last``: every
    ``tick_step`` (else a readable step) up to ``xmax``, else to a tick past the data."""
    x_right = float(xmax) if xmax is not None else (x_last if x_last > 0 else 1.0)
    step = float(tick_step) if tick_step is not None else nice_step(x_right, unit)
    ticks = step * np.arange(0, math.floor(x_right / step * (1 + 1e-9)) + 1)
    if xmax is None and ticks[-1] < x_right:  # end the axis on a tick past the data
        ticks = np.append(ticks, ticks[-1] + step)
        x_right = float(ticks[-1])
    return ticks, x_right


def axes_with_risk_table(label: str, n_rows: int, height: float) -> tuple[Figure, Axes, Axes]:
    """A 7-inch-wide figure ``height`` inches high with curve axes (``label``) above a
    number-at-risk axes of ``n_rows`` rows sharing its x axis."""
    fig = Figure(figsize=(7.0, height), layout="constrained")
    FigureCanvasAgg(fig)
    risk_height = 0.3 + 0.22 * n_rows  # inches
    gs = fig.add_gridspec(2, 1, height_ratios=[4.6 - risk_height, risk_height])
    ax = fig.add_subplot(gs[0], label=label)
    ax_risk = fig.add_subplot(gs[1], sharex=ax, label=AT_RISK_AXES_LABEL)
    return fig, ax, ax_risk


def draw_at_risk(
    ax_risk: Axes,
    rows: list[str],
    risk: Mapping[str, tuple[Any, Sequence[int]]],
    colours: Mapping[str, str],
    x_right: float,
) -> None:
    """The number-at-risk table: one row per label of ``rows`` (first on top), labelled and
    coloured as its curve, each count centred under its x position (in axis units; those
    beyond ``x_right`` are left out)."""
    n_rows = len(rows)
    ax_risk.set_ylim(-0.5, n_rows - 0.5)
    ys = [n_rows - 1 - k for k in range(n_rows)]
    ax_risk.set_yticks(ys, labels=rows)
    for tick, label in zip(ax_risk.get_yticklabels(), rows, strict=True):
        tick.set_color(colours[label])
    ax_risk.tick_params(axis="y", length=0, pad=14)
    ax_risk.tick_params(axis="x", bottom=False, labelbottom=False)
    for spine in ax_risk.spines.values():
        spine.set_visible(False)
    ax_risk.set_title("Number at risk", loc="left", fontsize=9, pad=4)
    for i, (y, label) in enumerate(zip(ys, rows, strict=True)):
        xs, counts = risk[label]
        for x, count in zip(xs, counts, strict=True):
            if x > x_right * (1 + 1e-9):
                continue
            ax_risk.text(
                x,
                y,
                str(count),
                ha="center",
                va="center",
                color=colours[label],
                fontsize=8.5,
                gid=f"at-risk:{i}",
            )


def wrap_footnote(footnote: str) -> tuple[str, int]:
    """The footnote wrapped to the figure width, and its number of lines."""
    text = "\n".join(textwrap.fill(par, width=115) for par in footnote.split("\n") if par.strip())
    return text, text.count("\n") + 1


def add_footnote(fig: Figure, footnote: str | None, height: float, gid: str | None = None) -> None:
    """Small grey footnote at the bottom left of a figure ``height`` inches high; the
    constrained layout keeps clear of it."""
    if not footnote:
        return
    text, n_lines = wrap_footnote(footnote)
    bottom = (0.1 + 0.15 * n_lines) / height
    fig.get_layout_engine().set(rect=(0, bottom, 1, 1 - bottom))
    fig.text(0.015, 0.012, text, ha="left", va="bottom", fontsize=7.5, color="0.3", gid=gid)


def clear_of(bbox: Bbox, obstacles: Sequence[Line2D]) -> bool:
    """Whether no curve segment or censor mark lies within ``bbox`` (display units)."""
    for artist in obstacles:
        path = artist.get_transform().transform_path(artist.get_path())
        if artist.get_linestyle() in ("None", "none", ""):  # markers only
            if len(path.vertices) and bbox.count_contains(path.vertices) > 0:
                return False
        elif len(path.vertices) and path.intersects_bbox(bbox, filled=False):
            return False
    return True


def place_legend(fig: Figure, ax: Axes, handles: list[Line2D], obstacles: list[Line2D]) -> None:
    """Put the legend in the first inside corner clear of the data, else above the axes."""
    style = {"frameon": False, "handlelength": 1.8}
    renderer = fig.canvas.get_renderer()
    for loc in _LEGEND_INSIDE:
        legend = ax.legend(handles=handles, loc=loc, **style)
        fig.draw_without_rendering()  # lay out, so positions are final
        if clear_of(legend.get_window_extent(renderer).padded(4), obstacles):
            return
    legend = ax.legend(
        handles=handles,
        loc="lower left",
        bbox_to_anchor=(0.0, 1.0),
        borderaxespad=0.5,
        ncols=1 if len(handles) == 1 else 2,
        **style,
    )
    fig.draw_without_rendering()
    # lift the title above the legend (sizes in points do not change with the layout)
    legend_pts = legend.get_window_extent(renderer).height * 72.0 / fig.dpi
    pad_pts = 0.5 * legend.prop.get_size_in_points()
    ax.set_title(ax.get_title(loc="left"), loc="left", pad=legend_pts + pad_pts + 4.0)


def save_figure(fig: Figure, stem: Path | str) -> list[Path]:
    """Write ``stem.png`` (200 dpi), ``stem.pdf`` and ``stem.svg``; return their paths.

    Outputs carry no timestamps or software versions, so the same figure always gives
    the same bytes. Parent directories are created.
    """
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    formats: Sequence[tuple[str, dict, dict]] = (
        ("png", {"Software": None}, {"dpi": 200}),
        ("pdf", {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None}, {}),
        ("svg", {"Date": None, "Creator": None}, {}),
    )
    paths = []
    with mpl.rc_context(_SAVE_RC):
        for ext, metadata, kwargs in formats:
            path = stem.parent / f"{stem.name}.{ext}"
            fig.savefig(path, format=ext, metadata=metadata, **kwargs)
            paths.append(path)
    return paths


#: At most this many censor marks per curve: beyond it (registry scale) one mark is kept per
#: 1/MAX_CENSOR_MARKS of the x axis, so a figure of a million patients stays small and legible.
MAX_CENSOR_MARKS = 400


def thin_marks(x: np.ndarray, keep: np.ndarray, x_right: float) -> np.ndarray:
    """``keep`` unchanged up to MAX_CENSOR_MARKS marks; above, only the first mark in each of
    MAX_CENSOR_MARKS equal slices of [0, x_right]."""
    if int(keep.sum()) <= MAX_CENSOR_MARKS or x_right <= 0:
        return keep
    slot = np.floor(np.asarray(x, float) / (x_right / MAX_CENSOR_MARKS)).astype(np.int64)
    slot = np.clip(slot, 0, MAX_CENSOR_MARKS - 1)  # a mark at x_right shares the last slice
    out = np.zeros_like(keep)
    idx = np.flatnonzero(keep)
    _, first = np.unique(slot[idx], return_index=True)
    out[idx[first]] = True
    return out
