"""How numbers are printed in tables and figures: P values, percentages, scaled estimates.

One place for each convention, so a table and a figure of the same result print it alike.
"""

from __future__ import annotations

import pandas as pd


def format_p(p: float | None, style: str = "table") -> str:
    """A P value as printed.

    ``style="table"``: 3 decimals from 0.01, 4 from 0.001, then 2 significant digits, and
    ``< 0.0001`` below that; ``NA`` when missing. ``style="figure"`` (forest plots): as
    journals print beside a plot, ``<0.001``, three decimals below 0.1, else two; empty when
    missing.

    >>> format_p(0.04321), format_p(0.00042), format_p(0.00001)
    ('0.043', '0.00042', '< 0.0001')
    >>> format_p(0.04321, "figure"), format_p(0.2, "figure"), format_p(0.0004, "figure")
    ('0.043', '0.20', '<0.001')
    """
    missing = p is None or pd.isna(p)
    if style == "figure":
        if missing:
            return ""
        if p < 0.001:
            return "<0.001"
        return f"{p:.3f}" if p < 0.1 else f"{p:.2f}"
    if style != "table":
        raise ValueError(f"unknown P value style {style!r}: 'table' or 'figure'")
    if missing:
        return "NA"
    if p < 0.0001:
        return "< 0.0001"
    if p < 0.001:
        return f"{p:.2g}"
    return f"{p:.3f}" if p >= 0.01 else f"{p:.4f}"


def format_scaled(x: float | None, scale: float = 100.0, decimals: int = 1) -> str:
    """``x * scale`` with ``decimals`` decimals (a proportion as a percentage by default);
    ``NA`` when missing.

    >>> format_scaled(0.4567), format_scaled(12.345, 1, 2), format_scaled(None)
    ('45.7', '12.35', 'NA')
    """
    return "NA" if x is None or pd.isna(x) else f"{x * scale:.{decimals}f}"


def percent_tick(value: float, _pos: object = None) -> str:
    """Axis tick of a proportion as a whole percentage (0.25 -> '25%').

    >>> percent_tick(0.25)
    '25%'
    """
    return f"{100 * value:.0f}%"
