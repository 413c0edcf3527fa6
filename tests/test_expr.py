"""Three-valued evaluation of rule expressions."""

import pandas as pd
import pytest

from cohortflow.core.errors import CohortflowError
from cohortflow.core.expr import evaluate, names

DF = pd.DataFrame(
    {
        "a": pd.array([1, 7, None], dtype="Int64"),
        "s": ["rearranged", "unknown", "ptd"],
        "d": pd.to_datetime(["2020-01-01", None, None]),
    }
)


@pytest.mark.parametrize(
    ("expr", "value", "known"),
    [
        ("a < 6", [True, False, False], [True, True, False]),
        ("a < 6 or s == 'rearranged'", [True, False, False], [True, False, False]),
        ("a < 6 and s == 'rearranged'", [True, False, False], [True, True, True]),
        ("not a < 6", [False, True, False], [True, True, False]),
        ("1 <= a < 22", [True, True, False], [True, True, False]),
        ("d.notna()", [True, False, False], [True, True, True]),
        ("a * 2 >= 14", [False, True, False], [True, True, False]),
    ],
)
def test_kleene(expr, value, known):
    r = evaluate(expr, DF)
    assert list(r.value) == value
    assert list(r.known) == known


def test_names():
    assert names("a < 6 or s == 'x' and d.notna()") == ["a", "s", "d"]


@pytest.mark.parametrize("bad", ["__import__('os')", "a.apply(print)", "zz > 1", "a <"])
def test_rejects_unsafe_or_unknown(bad):
    with pytest.raises(CohortflowError):
        evaluate(bad, DF)
