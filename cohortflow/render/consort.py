"""CONSORT-style patient-flow diagram drawn from the pipeline's flow table.

The figure is built on ``matplotlib.figure.Figure`` with the Agg canvas (pyplot and
its global state are never used). Main boxes (screened, eligible, analysed) run down
the left, joined by arrows; side boxes on the right list the exclusions by first
failed criterion and the reasons eligible patients were not analysed; an optional
table at the bottom gives screened / eligible / analysed per site. Files are written
byte-for-byte reproducibly by ``save_consort``.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib as mpl
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.text import Text

from cohortflow.render.figures import FONT_FAMILY, save_figure

__all__ = ["MAX_SITE_COLUMNS", "SITE_NOTE", "consort_figure", "save_consort"]

#: Most sites shown in the per-site table; with more, ``SITE_NOTE`` is printed instead.
MAX_SITE_COLUMNS = 12
#: Printed instead of the per-site table when there are too many sites to show.
SITE_NOTE = "per-site counts in flow.csv"

ALL_SITES = "All"
_EXCLUDED = "excluded: "
_NOT_ANALYSED = "not analysed: "
_MAIN_STEPS = ("screened", "eligible", "analysed")

STYLE = {"font.family": FONT_FAMILY, "font.size": 9.0}

# sizes in inches unless named otherwise
_FIG_W = 8.0
_PNG_DPI = 200  # as written by save_figure
_FIG_H = 7.0  # target height; the figure grows when the content needs more
_MARGIN = 0.3
_TOP = 0.25
_BOTTOM = 0.2
_PAD_X = 0.16  # text to box edge
_PAD_Y = 0.10
_MAIN_MIN_W = 2.0
_H_GAP = 0.45  # main boxes to side boxes
_MIN_GAP = 0.55  # between main boxes
_SIDE_CLEAR = 0.16  # side box to the main boxes above and below (vertically)
_BULLET_INDENT = 0.14
_LINE_GAP = 0.045  # between lines of a side box
_TABLE_COL_GAP = 0.16
_TABLE_ROW_GAP = 0.05
_MAX_EXTRA_GAP = 0.6  # most added to a gap when stretching towards _FIG_H

_FS_TITLE = 11.0
_FS_MAIN = 10.0
_FS_HEAD = 9.0
_FS_ITEM = 8.5
_FS_TABLE = 8.0
_FS_NOTE = 7.5

_INK = "0.15"
_LINE = "0.3"
_MAIN_FACE = "#EAF1F8"
_SIDE_FACE = "white"
_NBSP = "\u00a0"


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class _SiteFlow:
    screened: int
    eligible: int
    analysed: int
    excluded: tuple[tuple[str, int], ...]
    not_analysed: tuple[tuple[str, int], ...]


def _parse_flow(flow: pd.DataFrame) -> tuple[_SiteFlow, dict[str, _SiteFlow]]:
    """Overall and per-site counts from a flow table; ``ValueError`` if it is malformed."""
    missing = {"site", "step", "n"} - set(flow.columns)
    if missing:
        raise ValueError(f"flow table lacks column(s) {sorted(missing)}")
    sites: dict[str, _SiteFlow] = {}
    for site in dict.fromkeys(flow["site"].astype(str)):
        rows = flow[flow["site"].astype(str) == site]
        main: dict[str, int] = {}
        excluded: list[tuple[str, int]] = []
        not_analysed: list[tuple[str, int]] = []
        for step, n in zip(rows["step"].astype(str), rows["n"], strict=True):
            if pd.isna(n):
                raise ValueError(f"flow table: missing n for site {site!r}, step {step!r}")
            if step in _MAIN_STEPS:
                if step in main:
                    raise ValueError(f"flow table: step {step!r} repeated for site {site!r}")
                main[step] = int(n)
            elif step.startswith(_EXCLUDED):
                excluded.append((step[len(_EXCLUDED) :].strip(), int(n)))
            elif step.startswith(_NOT_ANALYSED):
                not_analysed.append((step[len(_NOT_ANALYSED) :].strip(), int(n)))
            else:
                raise ValueError(f"flow table: unknown step {step!r} for site {site!r}")
        lacking = [s for s in _MAIN_STEPS if s not in main]
        if lacking:
            raise ValueError(f"flow table: site {site!r} lacks step(s) {lacking}")
        sites[site] = _SiteFlow(
            main["screened"],
            main["eligible"],
            main["analysed"],
            tuple(excluded),
            tuple(not_analysed),
        )
    if ALL_SITES not in sites:
        raise ValueError(f"flow table has no {ALL_SITES!r} rows")
    overall = sites.pop(ALL_SITES)
    return overall, sites


# --------------------------------------------------------------------------- drawing


def _n(n: int) -> str:
    return f"(n{_NBSP}={_NBSP}{n})"


class _Canvas:
    """Text artists measured in inches and placed top-down once the height is known."""

    def __init__(self, fig: Figure, renderer: RendererAgg) -> None:
        self.fig = fig
        self.renderer = renderer
        self.png_renderer = RendererAgg(8, 8, _PNG_DPI)
        self.texts: list[tuple[Text, float, float]] = []  # artist, x, y from the top
        self.boxes: list[tuple[float, float, float, float, str, str]] = []
        self.arrows: list[tuple[float, float, float, float]] = []
        self.rules: list[tuple[float, float, float, float]] = []

    def text(self, s: str, *, size: float, bold: bool = False, **kwargs: object) -> Text:
        """An unplaced text artist (NBSPs become spaces: they only steer wrapping)."""
        kwargs.setdefault("color", _INK)
        return self.fig.text(
            0.0,
            0.0,
            s.replace(_NBSP, " "),
            transform=self.fig.dpi_scale_trans,
            fontsize=size,
            fontweight="bold" if bold else "normal",
            **kwargs,
        )

    def size(self, t: Text) -> tuple[float, float]:
        """Width and height of a text artist in inches: the larger at screen and PNG dpi.

        Hinting makes text a few per cent wider or narrower depending on the dpi.
        """
        width = height = 0.0
        for dpi, renderer in ((self.fig.dpi, self.renderer), (_PNG_DPI, self.png_renderer)):
            bb = t.get_window_extent(renderer, dpi=dpi)
            width, height = max(width, bb.width / dpi), max(height, bb.height / dpi)
        return width, height

    def wrapped(
        self, s: str, max_w: float, *, size: float, bold: bool = False, **kwargs: object
    ) -> Text:
        """A text artist wrapped (at spaces) to at most ``max_w`` inches wide if it can be."""
        t = self.text(s, size=size, bold=bold, **kwargs)
        width = max(len(line) for line in s.split("\n"))
        while self.size(t)[0] > max_w and width > 8:
            width -= 1
            filled = "\n".join(
                textwrap.fill(par, width=width, break_on_hyphens=False) for par in s.split("\n")
            )
            t.set_text(filled.replace(_NBSP, " "))
        return t

    def place(self, t: Text, x: float, y: float) -> None:
        self.texts.append((t, x, y))

    def finish(self, height: float) -> None:
        """Fix the figure height and put every artist in place."""
        fig = self.fig
        fig.set_size_inches(_FIG_W, height)
        tr = fig.dpi_scale_trans
        for t, x, y in self.texts:
            t.set_position((x, height - y))
        for i, (x, y, w, h, face, gid) in enumerate(self.boxes):
            fig.add_artist(
                FancyBboxPatch(
                    (x, height - y - h),
                    w,
                    h,
                    boxstyle="round,pad=0,rounding_size=0.06",
                    facecolor=face,
                    edgecolor=_LINE,
                    linewidth=1.0,
                    transform=tr,
                    zorder=1 + i * 1e-3,
                    gid=gid,
                )
            )
        for x1, y1, x2, y2 in self.arrows:
            fig.add_artist(
                FancyArrowPatch(
                    (x1, height - y1),
                    (x2, height - y2),
                    arrowstyle="-|>",
                    mutation_scale=11,
                    shrinkA=0,
                    shrinkB=0,
                    linewidth=1.0,
                    color=_LINE,
                    transform=tr,
                    zorder=2,
                )
            )
        for x1, y1, x2, y2 in self.rules:
            fig.add_artist(
                Line2D(
                    [x1, x2], [height - y1, height - y2], color="0.6", linewidth=0.6, transform=tr
                )
            )


@dataclass
class _SideBox:
    """Header and bullet lines of one side box, measured."""

    gid: str
    header: Text
    items: list[Text]
    bullets: list[Text]
    width: float
    height: float
    head_h: float
    item_h: list[float]

    def place(self, cv: _Canvas, x: float, top: float) -> None:
        cv.boxes.append((x, top, self.width, self.height, _SIDE_FACE, f"consort:box:{self.gid}"))
        y = top + _PAD_Y
        cv.place(self.header, x + _PAD_X, y)
        y += self.head_h
        for item, bullet, h in zip(self.items, self.bullets, self.item_h, strict=True):
            y += _LINE_GAP
            cv.place(bullet, x + _PAD_X, y)
            cv.place(item, x + _PAD_X + _BULLET_INDENT, y)
            y += h


def _side_box(
    cv: _Canvas,
    gid: str,
    header: str,
    items: Sequence[tuple[str, int]],
    note: str | None,
    max_w: float,
) -> _SideBox:
    """A side box: a bold header then one wrapped bullet line per (label, n)."""
    head = cv.text(header, size=_FS_HEAD, bold=True, ha="left", va="top", gid=f"consort:{gid}")
    text_w = max_w - 2 * _PAD_X - _BULLET_INDENT
    lines, bullets = [], []
    for i, (label, n) in enumerate(items):
        lines.append(
            cv.wrapped(
                f"{label} {_n(n)}",
                text_w,
                size=_FS_ITEM,
                ha="left",
                va="top",
                gid=f"consort:{gid}:{i}",
                linespacing=1.15,
            )
        )
        bullets.append(cv.text("\u2022", size=_FS_ITEM, ha="left", va="top"))
    if note:
        lines.append(
            cv.wrapped(
                note, text_w, size=_FS_NOTE, ha="left", va="top", style="italic", color="0.35"
            )
        )
        bullets.append(cv.text("", size=_FS_ITEM, ha="left", va="top"))
    head_w, head_h = cv.size(head)
    sizes = [cv.size(t) for t in lines]
    width = 2 * _PAD_X + max([head_w, *(_BULLET_INDENT + w for w, _ in sizes)])
    height = 2 * _PAD_Y + head_h + sum(h + _LINE_GAP for _, h in sizes)
    return _SideBox(gid, head, lines, bullets, width, height, head_h, [h for _, h in sizes])


@dataclass
class _SiteTable:
    """Per-site counts: a header row of site names, then screened / eligible / analysed."""

    cells: list[list[Text]]
    col_w: list[float]
    row_h: float

    @property
    def width(self) -> float:
        return sum(self.col_w)

    @property
    def height(self) -> float:
        return len(self.cells) * self.row_h

    def place(self, cv: _Canvas, x: float, top: float) -> None:
        lefts = [x + sum(self.col_w[:j]) for j in range(len(self.col_w))]
        for i, row in enumerate(self.cells):
            y = top + (i + 0.5) * self.row_h
            for j, t in enumerate(row):
                if j == 0:
                    cv.place(t, lefts[0], y)
                else:
                    cv.place(t, lefts[j] + self.col_w[j] / 2, y)
        y_rule = top + self.row_h
        cv.rules.append((x, y_rule, x + self.width, y_rule))
        x_all = lefts[-1]  # before the "All" column
        cv.rules.append((x_all, top + 0.03, x_all, top + self.height - 0.03))


def _site_table(
    cv: _Canvas, overall: _SiteFlow, sites: dict[str, _SiteFlow], max_w: float
) -> _SiteTable | None:
    """The per-site table, or None if it would not fit in ``max_w`` inches."""
    columns = [*sites.items(), (ALL_SITES, overall)]
    labels = ("Screened", "Eligible", "Analysed")
    cells: list[list[Text]] = [[cv.text("Site", size=_FS_TABLE, bold=True, va="center")]]
    for name, _ in columns:
        cells[0].append(cv.text(name, size=_FS_TABLE, bold=True, ha="center", va="center"))
    for k, label in enumerate(labels):
        row = [cv.text(label, size=_FS_TABLE, ha="left", va="center")]
        for j, (_, f) in enumerate(columns):
            value = (f.screened, f.eligible, f.analysed)[k]
            bold = j == len(columns) - 1
            row.append(
                cv.text(
                    str(value),
                    size=_FS_TABLE,
                    bold=bold,
                    ha="center",
                    va="center",
                    gid=f"consort:site:{columns[j][0]}:{label.lower()}",
                )
            )
        cells.append(row)
    sizes = [[cv.size(t) for t in row] for row in cells]
    col_w = [
        max(sizes[i][j][0] for i in range(len(cells))) + _TABLE_COL_GAP
        for j in range(len(cells[0]))
    ]
    col_w[1:] = [max(w, 0.38) for w in col_w[1:]]
    row_h = max(h for row in sizes for _, h in row) + _TABLE_ROW_GAP
    if sum(col_w) > max_w:
        for row in cells:
            for t in row:
                t.remove()
        return None
    return _SiteTable(cells, col_w, row_h)


def _set_aside_counts(
    set_aside: pd.DataFrame | None,
) -> tuple[int, int, tuple[tuple[str, int], ...]] | None:
    """(records received, set aside, (reason, n) ...) overall, or None without a table."""
    if set_aside is None or set_aside.empty:
        return None
    total = set_aside[set_aside["site"].astype(str) == ALL_SITES]
    if total.empty:
        raise ValueError(f"set-aside table has no {ALL_SITES!r} row")
    row = total.iloc[0]
    reasons: tuple[tuple[str, int], ...] = ()
    text = row.get("reasons")
    if isinstance(text, str) and text.strip():
        pairs = [part.rsplit(":", 1) for part in text.split(";") if ":" in part]
        reasons = tuple((name.strip(), int(n)) for name, n in pairs)
    return int(row["records_received"]), int(row["set_aside"]), reasons


def consort_figure(
    flow: pd.DataFrame,
    *,
    title: str,
    footnote: str | None = None,
    site_detail: bool = True,
    set_aside: pd.DataFrame | None = None,
    reason_labels: dict[str, str] | None = None,
) -> Figure:
    """CONSORT-style patient-flow diagram of a flow table (``analyse/flow.csv``).

    ``flow`` has columns ``site``, ``step`` and ``n``: for site "All" and each site,
    the steps ``screened``, ``excluded: <criterion>`` (patients whose first failed
    criterion it is), ``eligible``, ``not analysed: <reason>`` and ``analysed``.
    Main boxes give screened, eligible and analysed; side boxes list every exclusion
    criterion and not-analysed reason with its n (zero counts included) under a total
    (screened - eligible, eligible - analysed). With ``site_detail`` a table at the
    bottom gives screened / eligible / analysed per site, or, beyond
    ``MAX_SITE_COLUMNS`` sites (or if the table would not fit), the note
    ``SITE_NOTE``. ``footnote`` (e.g. the flow's ``data_label``) is printed small at
    the bottom. Long labels wrap; boxes fit their text. The figure is 8 inches wide
    and about 7 high (higher if the content needs it). ``set_aside`` (the study's
    ``analyse/set_aside.csv``: ``site``, ``records_received``, ``set_aside`` and
    optionally ``reasons``) adds a "Records received" box above screening, with a side
    box of the records set aside by data-quality checks before screening and why;
    ``reason_labels`` (check name -> what the check found, from the check catalogue) words
    those reasons for a reader, and the box says when a record failed more than one check.
    Raises ``ValueError`` on a malformed flow table.
    """
    overall, sites = _parse_flow(flow)
    with mpl.rc_context(STYLE):
        fig = Figure(figsize=(_FIG_W, _FIG_H))
        canvas = FigureCanvasAgg(fig)
        cv = _Canvas(fig, canvas.get_renderer())
        full_w = _FIG_W - 2 * _MARGIN
        title_t = cv.wrapped(
            title, full_w, size=_FS_TITLE, bold=True, ha="left", va="top", gid="consort:title"
        )
        aside = _set_aside_counts(set_aside)
        if aside is not None and reason_labels:
            words = reason_labels
            aside = (aside[0], aside[1], tuple((words.get(k, k), n) for k, n in aside[2]))
        steps = [
            ("screened", "Screened", overall.screened),
            ("eligible", "Eligible", overall.eligible),
            ("analysed", "Analysed", overall.analysed),
        ]
        if aside is not None:
            steps.insert(0, ("received", "Records received", aside[0]))
        mains = [
            cv.text(
                f"{label} {_n(n)}", size=_FS_MAIN, ha="center", va="center", gid=f"consort:{step}"
            )
            for step, label, n in steps
        ]
        main_sizes = [cv.size(t) for t in mains]
        main_w = max(_MAIN_MIN_W, max(w for w, _ in main_sizes) + 2 * _PAD_X)
        main_h = max(h for _, h in main_sizes) + 2 * _PAD_Y
        sides = _side_boxes(cv, overall, aside, full_w - main_w - _H_GAP)
        table, site_note = (None, None)
        if site_detail and sites:
            table, site_note = _site_detail(cv, overall, sites, full_w)
        foot_t = None
        if footnote and footnote.strip():
            foot_t = cv.wrapped(
                footnote.strip(),
                full_w,
                size=_FS_NOTE,
                ha="left",
                va="top",
                color="0.35",
                gid="consort:footnote",
            )
        bottom_h = 0.0
        if table is not None:
            bottom_h = table.height
        elif site_note is not None:
            bottom_h = cv.size(site_note)[1]
        foot_h = cv.size(foot_t)[1] if foot_t is not None else 0.0
        title_h = cv.size(title_t)[1]
        gaps, before_bottom = _stretch_gaps(title_h, len(mains), main_h, sides, bottom_h, foot_h)
        y = _place_flow(cv, (title_t, title_h), steps, mains, (main_w, main_h), sides, gaps)
        y += before_bottom
        if table is not None:
            table.place(cv, (_FIG_W - table.width) / 2, y)
        elif site_note is not None:
            cv.place(site_note, _FIG_W / 2, y)
        y += bottom_h + (0.3 if foot_h else 0.0)
        if foot_t is not None:
            cv.place(foot_t, _MARGIN, y)
        y += foot_h + _BOTTOM
        cv.finish(max(y, 1.0))
    return fig


def _side_boxes(
    cv: _Canvas,
    overall: _SiteFlow,
    aside: tuple[int, int, tuple[tuple[str, int], ...]] | None,
    side_max: float,
) -> list[_SideBox | None]:
    """The side box beside each gap between main boxes (None where there is none): records
    set aside (with ``aside``), exclusions, eligible patients not analysed."""
    sides: list[_SideBox | None] = [None, None]
    if aside is not None:
        several = sum(n for _, n in aside[2]) > aside[1]
        sides.insert(
            0,
            _side_box(
                cv,
                "set-aside",
                f"Set aside before screening {_n(aside[1])}",
                aside[2],
                "Records with fatal data-quality findings (quarantine); see dq/study.html."
                + (" A record can fail more than one check." if several else ""),
                side_max,
            ),
        )
    k = len(sides) - 2  # index of the exclusion box
    if overall.excluded:
        sides[k] = _side_box(
            cv,
            "excluded",
            f"Excluded {_n(overall.screened - overall.eligible)}",
            overall.excluded,
            None,
            side_max,
        )
    if overall.not_analysed:
        n_not = overall.eligible - overall.analysed
        overlap = sum(n for _, n in overall.not_analysed) != n_not
        sides[k + 1] = _side_box(
            cv,
            "not-analysed",
            f"Not analysed {_n(n_not)}",
            overall.not_analysed,
            "Patients may have more than one reason." if overlap else None,
            side_max,
        )
    return sides


def _site_detail(
    cv: _Canvas, overall: _SiteFlow, sites: dict[str, _SiteFlow], full_w: float
) -> tuple[_SiteTable | None, Text | None]:
    """The per-site table, or the note naming flow.csv when there are too many sites or the
    table does not fit."""
    table = _site_table(cv, overall, sites, full_w) if len(sites) <= MAX_SITE_COLUMNS else None
    if table is not None:
        return table, None
    note = cv.wrapped(
        f"{len(sites)} sites: {SITE_NOTE}",
        full_w,
        size=_FS_TABLE,
        ha="center",
        va="top",
        style="italic",
        gid="consort:site-note",
    )
    return None, note


def _stretch_gaps(
    title_h: float,
    n_mains: int,
    main_h: float,
    sides: list[_SideBox | None],
    bottom_h: float,
    foot_h: float,
) -> tuple[list[float], float]:
    """The gaps below each main box (room for its side box) and before the per-site table,
    stretched towards the target height ``_FIG_H``."""
    gaps = [max(_MIN_GAP, side.height + 2 * _SIDE_CLEAR) if side else _MIN_GAP for side in sides]
    before_bottom = 0.4 if bottom_h else 0.0
    before_foot = 0.3 if foot_h else 0.0
    needed = (
        _TOP
        + title_h
        + 0.3
        + n_mains * main_h
        + sum(gaps)
        + before_bottom
        + bottom_h
        + before_foot
        + foot_h
        + _BOTTOM
    )
    spare = max(0.0, _FIG_H - needed)
    extra = min(_MAX_EXTRA_GAP, spare / n_mains)
    gaps = [g + extra for g in gaps]
    if bottom_h:
        before_bottom += min(_MAX_EXTRA_GAP, spare - 2 * extra)
    return gaps, before_bottom


def _place_flow(
    cv: _Canvas,
    title: tuple[Text, float],
    steps: list[tuple[str, str, int]],
    mains: list[Text],
    main_size: tuple[float, float],
    sides: list[_SideBox | None],
    gaps: list[float],
) -> float:
    """Place the title, then the main boxes joined by arrows with the side boxes (of one
    width) beside the gaps, centred as a group; returns the height used (from the top)."""
    main_w, main_h = main_size
    side_w = max((s.width for s in sides if s), default=0.0)
    for side in sides:
        if side is not None:
            side.width = side_w
    group_w = main_w + (_H_GAP + side_w if side_w else 0.0)
    x0 = max(_MARGIN, (_FIG_W - group_w) / 2)
    cx = x0 + main_w / 2
    x_side = x0 + main_w + _H_GAP

    y = _TOP
    cv.place(title[0], _MARGIN, y)
    y += title[1] + 0.3
    for i, t in enumerate(mains):
        cv.boxes.append((x0, y, main_w, main_h, _MAIN_FACE, f"consort:box:{steps[i][0]}"))
        cv.place(t, cx, y + main_h / 2)
        y += main_h
        if i == len(mains) - 1:
            break
        gap, side = gaps[i], sides[i]
        cv.arrows.append((cx, y, cx, y + gap))
        if side is not None:
            mid = y + gap / 2
            cv.arrows.append((cx, mid, x_side, mid))
            side.place(cv, x_side, mid - side.height / 2)
        y += gap
    return y


def save_consort(fig: Figure, stem: Path | str) -> list[Path]:
    """Write ``stem.png`` (200 dpi), ``stem.pdf`` and ``stem.svg``; return their paths.

    The files carry no timestamps or software versions, so the same figure always
    gives the same bytes. Parent directories are created.
    """
    return save_figure(fig, stem)
