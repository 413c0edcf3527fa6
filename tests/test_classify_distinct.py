"""Classification done once per distinct row gives what row-by-row work gives: the helpers of
``classify.distinct``, ``classify`` against one-patient-at-a-time classification on nasty
random cohorts, and ``core.io.write_csv_coded`` against ``write_csv``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cohortflow.classify.distinct import absent_distinct, distinct_bits, evaluate_distinct
from cohortflow.classify.schemes import classify, classify_all, classify_all_coded
from cohortflow.classify.stage import classify_study
from cohortflow.core.config import load_risk_scheme
from cohortflow.core.errors import CohortflowError
from cohortflow.core.expr import evaluate
from cohortflow.core.io import (
    coded_arrow_table,
    sha256_file,
    write_arrow,
    write_csv,
    write_csv_coded,
    write_parquet,
)
from cohortflow.core.vectors import distinct_rows, first_rows

SCHEMES = {s: load_risk_scheme(s) for s in ("nci_rome", "infant_yonsei_2011", "bfm_relapse")}
SCHEMES["interfant06"] = load_risk_scheme("interfant06")


def cohort(n: int, seed: int = 7) -> pd.DataFrame:
    """Random canonical inputs of every bundled scheme, with repeats, NA, stored NaN,
    'unknown' codes and values on the boundaries of the rules."""
    rng = np.random.default_rng(seed)

    def pick(values, dtype):
        return pd.array(list(rng.choice(np.array(values, dtype=object), n)), dtype=dtype)

    df = pd.DataFrame(
        {
            "study_id": pd.array([f"p{i}" for i in range(n)], dtype="string"),
            "age_at_diagnosis_years": pick([0.5, 1.0, 0.999, 9.99, 10.0, 15, None], "Float64"),
            "age_at_diagnosis_months": pick([5, 6, 11, 12, 120, None], "Int64"),
            "wbc": pick([10.0, 49.999, 50.0, 300.0, None], "Float64"),
            "immunophenotype": pick(["B", "T", "mixed", "unknown", None], "string"),
            "kmt2a_status": pick(["rearranged", "ptd", "germline", "unknown", None], "string"),
            "prednisone_response": pick(["good", "poor", None], "string"),
            "relapse_timing": pick(["very_early", "early", "late", None], "string"),
            "relapse_site": pick(["isolated_bm", "combined", "isolated_em", None], "string"),
        }
    )
    wbc = df["wbc"].array
    wbc._data[:3] = np.nan  # a stored NaN is not NA: it is a known (if odd) value
    wbc._mask[:3] = False
    return df


def one_by_one(df: pd.DataFrame, scheme) -> pd.DataFrame:
    return pd.concat(
        [classify(df.iloc[[i]].reset_index(drop=True), scheme) for i in range(len(df))],
        ignore_index=True,
    )


@pytest.mark.parametrize("scheme", list(SCHEMES))
def test_classify_equals_one_patient_at_a_time(scheme):
    base = cohort(30)
    ref = one_by_one(base, SCHEMES[scheme])
    # every patient repeated and shuffled: classified on the distinct rows
    at = np.random.default_rng(5).permutation(np.repeat(np.arange(30), 8))
    big = base.iloc[at].reset_index(drop=True)
    got = classify(big, SCHEMES[scheme])
    pd.testing.assert_frame_equal(got, ref.iloc[at].reset_index(drop=True))
    assert got["group"].nunique() > 1  # the cohort reaches several groups


def test_classify_all_coded_parts_rebuild_the_long_table():
    df = cohort(120, seed=3)
    long, codes, distinct = classify_all_coded(df, SCHEMES)
    pd.testing.assert_frame_equal(long, classify_all(df, SCHEMES))
    again = distinct.iloc[codes].reset_index(drop=True).assign(study_id=long["study_id"])
    pd.testing.assert_frame_equal(again, long)
    assert len(distinct) < len(long)
    empty, codes0, distinct0 = classify_all_coded(df, {})
    assert empty.empty and not len(codes0) and list(empty.columns) == list(distinct0.columns)


def test_no_patients():
    out = classify(cohort(0), SCHEMES["nci_rome"])
    assert out.empty and list(out.columns)[:3] == ["study_id", "scheme", "scheme_version"]


def test_distinct_rows_numbers_by_first_appearance():
    a = np.array([3, 1, 3, 2, 1, 3])
    b = pd.array(["x", "y", "x", None, "y", "z"], dtype="string")
    codes, first = distinct_rows([a, b])
    assert list(codes) == [0, 1, 0, 2, 1, 3] and list(first) == [0, 1, 3, 5]
    assert list(first_rows(np.array([0, 0, 1, 0, 2, 1]))) == [0, 2, 4]
    assert not len(first_rows(np.zeros(0, dtype=np.int64)))
    with pytest.raises(TypeError):
        distinct_rows([np.array([{"a": 1}, {"b": 2}], dtype=object)])


def test_distinct_bits_beyond_one_word():
    rng = np.random.default_rng(1)
    bits = [rng.random(500) < 0.02 for _ in range(130)]  # three words
    codes, first = distinct_bits(bits, 500)
    ref_codes, ref_first = distinct_rows(bits)
    assert list(codes) == list(ref_codes) and list(first) == list(ref_first)
    for b in bits:
        assert (b[first][codes] == b).all()
    assert list(distinct_bits([], 3)[0]) == [0, 0, 0]


@pytest.mark.parametrize(
    "expr",
    [
        "wbc >= 50",
        "1 <= age_at_diagnosis_years < 10",
        "age_at_diagnosis_months * 2 + 1 > 23 or wbc.isna()",
        "not (immunophenotype == 'T') and kmt2a_status.notna()",
        "wbc / age_at_diagnosis_years > 20",
    ],
)
def test_evaluate_distinct_equals_evaluate(expr):
    df = cohort(300, seed=11)
    cache = {}
    evaluate_distinct("wbc > 1 and age_at_diagnosis_years > 1", df, cache)  # cache filled
    got, ref = evaluate_distinct(expr, df, cache), evaluate(expr, df)
    assert (got.value.to_numpy() == ref.value.to_numpy()).all()
    assert (got.known.to_numpy() == ref.known.to_numpy()).all()
    assert (got.value.index == df.index).all()


def test_evaluate_distinct_on_every_row_when_rows_differ_and_on_errors():
    df = pd.DataFrame({"x": pd.array(np.arange(10.0), dtype="Float64")}, index=range(5, 15))
    assert list(evaluate_distinct("1 < 2", pd.concat([df] * 3)).value) == [True] * 30
    r = evaluate_distinct("x > 4.5", df)
    assert list(r.value) == [False] * 5 + [True] * 5 and list(r.value.index) == list(df.index)
    with pytest.raises(CohortflowError, match="unknown variable 'y'"):
        evaluate_distinct("y > 1", pd.concat([df] * 3))
    # Python objects (1, 1.0 and True hash alike; lists do not hash): every row
    odd = pd.DataFrame({"x": [[1], [1], 2, 2]})
    assert list(evaluate_distinct("x.notna()", odd).value) == [True] * 4
    mixed = pd.DataFrame({"x": [1, 1.0, True, "1", "unknown", None] * 2})
    for expr in ("x == 1", "x.isna()", "x == 'unknown'"):
        got, ref = evaluate_distinct(expr, mixed), evaluate(expr, mixed)
        assert list(got.value) == list(ref.value) and list(got.known) == list(ref.known)
    assert list(absent_distinct(mixed["x"])) == [False] * 4 + [True, True] + [False] * 4 + [
        True,
        True,
    ]


def test_absent_distinct():
    s = pd.Series(["unknown", None, "B", "B", "unknown", "T"] * 5, dtype="string")
    assert list(absent_distinct(s)) == [True, True, False, False, True, False] * 5
    f = cohort(50)["wbc"]  # NA, and a stored NaN (missing too: its text is NA)
    whole = (f.isna() | (f.astype("string") == "unknown")).to_numpy(dtype=bool, na_value=True)
    assert (absent_distinct(f) == whole).all() and whole[:3].all() and not whole.all()


def _coded_vs_full(tmp_path, table, codes, values, **kw):
    full = table.iloc[codes].reset_index(drop=True).assign(sid=np.asarray(values, dtype=object))
    full = full[table.columns]
    write_csv(full, tmp_path / "full.csv")
    ok = write_csv_coded(
        table, np.asarray(codes), "sid", pd.Series(values), tmp_path / "c.csv", **kw
    )
    return ok, (tmp_path / "full.csv").read_bytes()


def test_write_csv_coded_gives_write_csv_bytes(tmp_path):
    table = pd.DataFrame(
        {
            "label": ["DEMO; not real", "DEMO; not real", "DEMO; not real"],
            "sid": "",
            "text": ["a,b", '=HYPERLINK("x")', 'é "q"'],  # quoted, neutralised, escaped
            "x": [1.0, 0.1 + 0.2, np.nan],
            "empty": ["", None, ""],
        }
    )
    codes = [2, 0, 0, 1, 2, 1, 0]
    values = ["p1", None, "p3", "", "ü7", "p6", "p7"]
    ok, expected = _coded_vs_full(tmp_path, table, codes, values, batch=3)
    assert ok and (tmp_path / "c.csv").read_bytes() == expected


@pytest.mark.parametrize("bad", ["a,b", 'q"', "=1+1", "-2", "'x", "@x", "\tx", "x\ry", "x\ny", 5])
def test_write_csv_coded_declines_values_it_cannot_write_verbatim(tmp_path, bad):
    table = pd.DataFrame({"sid": ["", ""], "t": ["u", "v"]})
    ok = write_csv_coded(table, np.array([0, 1]), "sid", pd.Series(["p", bad]), tmp_path / "c")
    assert not ok and not (tmp_path / "c").exists()


def test_write_csv_coded_declines_line_breaks_and_nothing(tmp_path):
    table = pd.DataFrame({"sid": ["", ""], "t": ["u", "two\nlines"]})
    assert not write_csv_coded(
        table, np.array([0, 1]), "sid", pd.Series(["a", "b"]), tmp_path / "c"
    )
    assert not write_csv_coded(
        table, np.zeros(0, int), "sid", pd.Series([], dtype=object), tmp_path / "c"
    )
    assert not (tmp_path / "c").exists()


def _arrow_vs_pandas(tmp_path, table, codes, values):
    full = table.iloc[codes].reset_index(drop=True).assign(sid=pd.Series(values, dtype=object))
    full = full[table.columns]
    got = coded_arrow_table(table, np.asarray(codes), "sid", pd.Series(values, dtype=object))
    if got is None:
        return None
    write_arrow(got, tmp_path / "a.parquet", {"k": 1})
    write_parquet(full, tmp_path / "p.parquet", {"k": 1})
    return (tmp_path / "a.parquet").read_bytes() == (tmp_path / "p.parquet").read_bytes()


def test_coded_arrow_table_gives_from_pandas_bytes(tmp_path):
    table = pd.DataFrame(
        {"label": ["L", "L", "L"], "sid": "", "g": ["a", None, "c"], "none": [None] * 3}
    )
    codes = [2, 0, 0, 1, 2]
    assert _arrow_vs_pandas(tmp_path, table, codes, [None, "p2", "p3", None, "p5"])
    assert _arrow_vs_pandas(tmp_path, table, codes, [None] * 5)  # all missing: a null column
    assert _arrow_vs_pandas(tmp_path, table, codes, ["ü", "p2", "", "=1", "a,b"])


def test_coded_arrow_table_declines(tmp_path):
    table = pd.DataFrame({"sid": ["", ""], "n": [1.5, 2.5]})  # a float column
    assert _arrow_vs_pandas(tmp_path, table, [0, 1], ["a", "b"]) is None
    table = pd.DataFrame({"sid": ["", ""], "t": ["u", "v"]})
    assert _arrow_vs_pandas(tmp_path, table, [0, 1], [1, 2]) is None  # numbers, not text
    assert _arrow_vs_pandas(tmp_path, table, [0, 1], ["a", 2]) is None  # mixed
    assert coded_arrow_table(table, np.zeros(0, int), "sid", pd.Series([], dtype=object)) is None


def test_classify_study_writes_what_pandas_writes(tmp_path):
    """The stage's Arrow and coded-CSV writers against write_parquet/write_csv of the long
    table, on a cohort with hostile study IDs (which take the write_csv path) and without."""
    schemes = {k: SCHEMES[k] for k in ("nci_rome", "interfant06")}
    for ids in ("plain", "hostile"):
        df = cohort(400, seed=2)
        if ids == "hostile":
            df.loc[df.index[5], "study_id"] = '=HYPERLINK("x"),1'
        write_parquet(df, tmp_path / "patients.parquet", {})
        out = tmp_path / ids
        classify_study(
            str(tmp_path / "patients.parquet"), schemes, out / "g.parquet", out / "e.csv", "DEMO"
        )
        risk = classify_all(df, schemes)
        risk.insert(0, "data_label", "DEMO")
        write_parquet(
            risk,
            out / "ref.parquet",
            {
                "stage": "classify",
                "schemes": {k: v["version"] for k, v in schemes.items()},
                "inputs": {"patients_sha256": sha256_file(tmp_path / "patients.parquet")},
            },
        )
        write_csv(risk, out / "ref.csv")
        assert (out / "g.parquet").read_bytes() == (out / "ref.parquet").read_bytes()
        assert (out / "e.csv").read_bytes() == (out / "ref.csv").read_bytes()
    assert "'=HYPERLINK" in (tmp_path / "hostile" / "e.csv").read_text()
