"""Vectorised helpers for per-patient text labels (no per-patient Python loops)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def join_parts(parts: Sequence[np.ndarray | pd.Series], n: int, sep: str = ";") -> np.ndarray:
    """Per row, the non-empty strings of ``parts`` (arrays of length ``n``) joined by ``sep``
    in the order given; an empty string where all are empty."""
    out = np.full(n, "", dtype=object)
    for p in parts:
        p = np.asarray(p, dtype=object)
        has = p != ""
        both = has & (out != "")
        out = np.where(both, out + sep + np.where(both, p, ""), np.where(has, p, out))
    return out


def first_part(parts: Sequence[np.ndarray | pd.Series], n: int) -> np.ndarray:
    """Per row, the first non-empty string of ``parts`` ('' when none)."""
    out = np.full(n, "", dtype=object)
    for p in reversed(parts):
        p = np.asarray(p, dtype=object)
        out = np.where(p != "", p, out)
    return out


def label_where(mask: np.ndarray | pd.Series, label: str) -> np.ndarray:
    """``label`` where ``mask`` holds, '' elsewhere."""
    return np.where(np.asarray(mask, dtype=bool), label, "").astype(object)
