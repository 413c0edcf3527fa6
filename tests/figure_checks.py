"""Layout checks a reader would make of a figure, done with matplotlib's bounding boxes."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from matplotlib.text import Text
from matplotlib.transforms import Bbox

TOL = 1.5  # pixels


def _inside(inner: Bbox, outer: Bbox) -> bool:
    return (
        inner.x0 >= outer.x0 - TOL
        and inner.y0 >= outer.y0 - TOL
        and inner.x1 <= outer.x1 + TOL
        and inner.y1 <= outer.y1 + TOL
    )


def _overlap(a: Bbox, b: Bbox) -> bool:
    return min(a.x1, b.x1) - max(a.x0, b.x0) > TOL and min(a.y1, b.y1) - max(a.y0, b.y0) > TOL


def _texts(fig: Figure) -> list[Text]:
    return [
        t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip() and t.figure is fig
    ]


def layout_problems(fig: Figure, name: str) -> list[str]:
    """What a reader would send back: text outside the figure, text on the plotting area or
    on the number-at-risk table, a legend outside the figure, curves that cannot be seen."""
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    whole = fig.bbox
    problems: list[str] = []
    axes = [a for a in fig.axes if a.get_visible()]
    main = [a for a in axes if a.get_label() in ("km", "cif", "swimmer", "forest")]
    risk = [a for a in axes if a.get_label() == "at-risk"]

    # 1. every text and legend lies inside the figure
    for t in _texts(fig):
        if not _inside(t.get_window_extent(renderer), whole):
            problems.append(f"{name}: text outside the figure: {t.get_text()[:40]!r}")
    for leg in fig.findobj(Legend):
        if not _inside(leg.get_window_extent(renderer), whole):
            problems.append(f"{name}: legend outside the figure")

    # 2. figure-level texts (title, footnote, forest columns) keep off every plotting area
    for t in fig.texts:
        if not t.get_visible() or not t.get_text().strip():
            continue
        box = t.get_window_extent(renderer)
        for ax in axes:
            if ax.get_label() == "at-risk" or not ax.axison:
                continue
            if _overlap(box, ax.bbox):
                problems.append(f"{name}: text on the axes: {t.get_text()[:40]!r}")

    # 3. the at-risk numbers keep off the main axes and its labels, and off each other
    for ra in risk:
        numbers = [t for t in ra.texts if t.get_visible() and t.get_text().strip()]
        boxes = [t.get_window_extent(renderer) for t in numbers]
        for ax in main:
            tight = ax.get_tightbbox(renderer)
            for t, b in zip(numbers, boxes, strict=True):
                if _overlap(b, tight) or _overlap(b, ax.bbox):
                    problems.append(f"{name}: at-risk number {t.get_text()} on the plot")
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                if _overlap(boxes[i], boxes[j]):
                    problems.append(
                        f"{name}: at-risk numbers {numbers[i].get_text()} and "
                        f"{numbers[j].get_text()} overlap"
                    )

    # 4. every drawn curve is visible: inside the axes, and told apart from an identical one
    for ax in main:
        if ax.get_label() not in ("km", "cif"):
            continue
        x0, x1 = sorted(ax.get_xlim())
        y0, y1 = sorted(ax.get_ylim())
        curves = [
            ln
            for ln in ax.get_lines()
            if isinstance(ln, Line2D)
            and ln.get_linestyle() not in ("None", "none", "")
            and not str(ln.get_label()).startswith("_")
        ]
        for ln in curves:
            x = np.asarray(ln.get_xdata(), float)
            y = np.asarray(ln.get_ydata(), float)
            seen = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
            if ln.get_linewidth() <= 0 or ln.get_alpha() == 0 or not seen.any():
                problems.append(f"{name}: curve {ln.get_label()!r} cannot be seen")
            spine = ax.spines["bottom"]
            on_axis = spine.get_visible() and spine.get_position() in ("zero", ("outward", 0.0))
            if on_axis and seen.any() and np.allclose(y[seen], y0):
                problems.append(f"{name}: curve {ln.get_label()!r} is hidden under the x axis")
        for i, a in enumerate(curves):
            for b in curves[i + 1 :]:
                same = np.array_equal(a.get_xydata(), b.get_xydata())
                if same and (a.get_color(), a.get_linestyle()) == (
                    b.get_color(),
                    b.get_linestyle(),
                ):
                    problems.append(
                        f"{name}: curves {a.get_label()!r} and {b.get_label()!r} coincide "
                        "and look the same"
                    )
    return problems
