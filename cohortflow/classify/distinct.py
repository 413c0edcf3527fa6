"""Row-wise work done once per distinct row (``core.vectors.distinct_rows``): a million
patients carry a few thousand distinct ages and a few dozen distinct explanations, so rules
are evaluated and explanations written for the distinct rows and spread back to every patient
by index (no per-patient loops)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from cohortflow.core.expr import Tri, evaluate, names
from cohortflow.core.vectors import distinct_rows, first_rows

#: Bits packed into one integer key word by ``distinct_rows``.
WORD_BITS = 62


def distinct_bits(bits: Sequence[np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
    """``distinct_rows`` of boolean arrays, packed ``WORD_BITS`` to an integer first."""
    words = []
    for start in range(0, len(bits), WORD_BITS):
        word = np.zeros(n, dtype=np.int64)
        for j, b in enumerate(bits[start : start + WORD_BITS]):
            word |= np.asarray(b, dtype=np.int64) << j
        words.append(word)
    if not words:
        return np.zeros(n, dtype=np.int64), first_rows(np.zeros(n, dtype=np.int64))
    return distinct_rows(words)


def value_codes(
    df: pd.DataFrame, columns: Sequence[str], cache: dict[str, np.ndarray | None] | None = None
) -> tuple[np.ndarray, np.ndarray] | None:
    """``distinct_rows`` of the values of ``columns`` (a missing value told apart by its kind:
    NA and a stored NaN differ), or None for a column of Python objects (where 1, 1.0 and
    True would count as one value) or of unhashable values. ``cache`` keeps each column's
    codes for the next call on the same ``df``."""
    cache = {} if cache is None else cache
    per = []
    for c in columns:
        if c not in cache:
            cache[c] = _column_codes(df[c])
        if cache[c] is None:
            return None
        per.append(cache[c])
    if len(per) == 1:
        return per[0], first_rows(per[0])
    return distinct_rows(per)


def _column_codes(s: pd.Series) -> np.ndarray | None:
    if s.dtype == object:
        return None
    try:
        return distinct_rows([s, s.isna().to_numpy()])[0]
    except TypeError:
        return None


def evaluate_distinct(
    expr: str, df: pd.DataFrame, cache: dict[str, np.ndarray | None] | None = None
) -> Tri:
    """``core.expr.evaluate(expr, df)``, evaluated on the distinct rows of the columns the
    expression reads and spread back (the evaluation is row-wise, so the result is the same;
    at 1,000,000 patients a comparison took 2 s on every row and milliseconds on the distinct
    ages). Falls back to every row when most rows are distinct, the expression reads no
    column or a value is unhashable. ``cache``: as for ``value_codes``."""
    cols = [c for c in names(expr) if c in df.columns]
    coded = value_codes(df, cols, cache) if len(df) and cols else None
    if coded is None or len(coded[1]) * 2 > len(df):
        return evaluate(expr, df)
    codes, first = coded
    r = evaluate(expr, df.iloc[first])
    return Tri(
        pd.Series(r.value.to_numpy()[codes], index=df.index),
        pd.Series(r.known.to_numpy()[codes], index=df.index),
    )


def absent_distinct(s: pd.Series, cache: dict[str, np.ndarray | None] | None = None) -> np.ndarray:
    """Per row, whether ``s`` is missing: NA or the code 'unknown' (checked once per
    distinct value). ``cache``: as for ``value_codes``, keyed by the series' name."""
    named = isinstance(s.name, str)
    key = s.name if named else "v"
    coded = value_codes(s.to_frame(key), [key], cache if named else None) if len(s) else None
    if coded is None:
        return _absent(s)
    codes, first = coded
    return _absent(s.iloc[first])[codes]


def _absent(s: pd.Series) -> np.ndarray:
    return (s.isna() | (s.astype("string") == "unknown")).to_numpy(dtype=bool, na_value=True)
