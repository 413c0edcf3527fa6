"""Vectorised helpers for per-patient text labels and for work done once per distinct row
(no per-patient Python loops)."""

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


def distinct_rows(keys: Sequence[np.ndarray | pd.Series]) -> tuple[np.ndarray, np.ndarray]:
    """``(codes, first)``: per row, the number of its distinct combination of ``keys`` (equal
    length arrays; values compared as ``pd.factorize`` compares them, a missing value as a
    value of its own), numbered in order of first appearance, and the first row of each
    combination. ``keys[j][first][codes]`` gives back ``keys[j]``.

    Raises TypeError when a key holds unhashable values."""
    n = len(keys[0]) if len(keys) else 0
    codes = np.zeros(n, dtype=np.int64)
    for key in keys:
        k, _ = pd.factorize(key, use_na_sentinel=False)
        codes = pd.factorize(codes * (int(k.max(initial=-1)) + 1) + k)[0]
    return codes, first_rows(codes)


def first_rows(codes: np.ndarray) -> np.ndarray:
    """The first row of each code of ``codes`` numbered in order of first appearance (as
    ``pd.factorize`` numbers them)."""
    if not len(codes):
        return np.zeros(0, dtype=np.int64)
    seen = np.maximum.accumulate(codes)
    return np.flatnonzero(np.diff(seen, prepend=-1) > 0)
