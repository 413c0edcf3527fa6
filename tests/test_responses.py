"""Best response and response rates with exact CIs."""

import pandas as pd
import pytest

from cohortflow.analyse.responses import best_response, clopper_pearson, response_rates
from cohortflow.render.tables import compare_published, difference_notes, pct1, published_header


@pytest.mark.parametrize(
    ("k", "n", "lo", "hi"),
    [
        # R: binom.test(k, n)$conf.int
        (24, 63, 0.2614513102, 0.5120366028),
        (27, 63, 0.3045543405, 0.5595290321),
        (0, 10, 0.0, 0.3084971079),
        (10, 10, 0.6915028921, 1.0),
        (1, 2, 0.01257911, 0.98742089),
    ],
)
def test_clopper_pearson(k, n, lo, hi):
    got = clopper_pearson(k, n)
    assert got == pytest.approx((lo, hi), abs=1e-8)


def test_best_response_over_assessments():
    r = pd.DataFrame(
        {
            "study_id": ["a", "a", "b", "b", "c"],
            "response": ["PR", "CR", "refractory", "not_evaluated", None],
        }
    )
    best = best_response(r)
    assert best.to_dict() == {"a": "CR", "b": "refractory"}


def test_rates_denominator_includes_not_evaluated():
    pts = pd.DataFrame({"best_response": ["CR", "CRp", "PR", "refractory", None, "not_evaluated"]})
    spec = {
        "population": "analysed",
        "rates": [
            {"name": "cr", "label": "CR", "numerator": ["CR", "CRp"], "definition": "d"},
            {
                "name": "orr",
                "label": "ORR",
                "numerator": ["CR", "CRp", "PR"],
                "definition": "d2",
                "published_percent": 50.0,
            },
        ],
    }
    out = response_rates(pts, spec).set_index("name")
    assert (out.loc["cr", "n"], out.loc["cr", "N"]) == (2, 6)
    assert out.loc["orr", "rate"] == 0.5 and out.loc["orr", "published_percent"] == 50.0
    assert out.loc["cr", "definition"] == "d"


def test_percentages_round_half_up_and_printed_errors_are_explained():
    assert pct1(4, 64) == "6.3" and pct1(20, 64) == "31.3" and pct1(28, 63) == "44.4"
    row = {"n": 28, "N": 63}
    note = compare_published(row, [28, 44.6], 63)["published_note"]
    assert note.startswith("printed 44.6 % is not 28/63 = 44.4 %")
    assert compare_published(row, [28, 44.4], 63)["published_note"] == ""


def test_published_percentages_use_the_papers_own_n_when_ours_differs():
    """A tenth site makes our N 77: the paper's 39/64 = 60.9 % is still consistent."""
    ours = {"n": 39, "N": 77}
    out = compare_published(ours, [39, 60.9], 64)
    assert out["published_note"] == "" and out["published_N"] == 64
    # without the paper's N nothing is blamed on the paper
    assert compare_published(ours, [39, 60.9])["published_note"] == ""
    # a real inconsistency in the paper is still found over ITS N
    bad = compare_published(ours, [39, 61.9], 64)["published_note"]
    assert bad.startswith("printed 61.9 % is not 39/64 = 60.9 %")
    table = pd.DataFrame(
        [
            {"item": "Sex", "level": "Male", "n": 39, "N": 77, "published_n": 39,
             "published_N": 64, "published_note": ""},
            {"item": "Sex", "level": "Female", "n": 38, "N": 77, "published_n": 25,
             "published_N": 64, "published_note": "count differs: data 38, published 25"},
        ]
    )  # fmt: skip
    notes = difference_notes(table)
    said = [n for n in notes if "differs from the published N" in n]
    assert len(said) == 1 and "(77)" in said[0] and "(64)" in said[0]  # said once
    assert not any("inconsistent" in n for n in notes)
    assert published_header(table) == "Published (N = 64)"
    assert compare_published({"n": 27, "N": 63}, [28])["published_note"] == (
        "count differs: data 27, published 28"
    )
