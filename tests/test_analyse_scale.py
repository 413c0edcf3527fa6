"""The analyse stage's shortcuts for a million patients give what the plain pandas way gives.

Each shortcut (carried Parquet columns, narrowed cohort, joins by position, the flow table
by groupby, best response by one sort) is checked against the straightforward computation
it replaces, on nasty inputs: missing values of every kind, duplicated study IDs, keys of
two dtypes, responses outside the order, several Parquet row groups.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from cohortflow.analyse.analysis import (
    EndpointRows,
    build_cohort,
    columns_read,
)
from cohortflow.analyse.eligibility import eligibility, exclusion_label, flow_table
from cohortflow.analyse.responses import best_response
from cohortflow.core.defaults import Eligibility
from cohortflow.core.io import write_parquet, write_parquet_carrying


def _patients(n: int = 60, seed: int = 0, ids: str = "string") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = pd.array(rng.integers(0, 30, n), dtype="Int64")
    age[rng.random(n) < 0.1] = pd.NA
    wbc = pd.array(rng.random(n) * 100, dtype="Float64")
    wbc[rng.random(n) < 0.1] = pd.NA
    dates = pd.Series(pd.to_datetime("2010-01-01") + pd.to_timedelta(rng.integers(0, 900, n), "D"))
    dates[rng.random(n) < 0.2] = pd.NaT
    note = pd.Series(rng.choice(["=1+1", "a|b", "", "x"], n), dtype=object)
    note[rng.random(n) < 0.2] = None
    return pd.DataFrame(
        {
            "study_id": pd.Series([f"P{i:04d}" for i in range(n)], dtype=ids),
            "site": pd.Series(rng.choice(["S01", "S02", "S10"], n), dtype="string"),
            "age_years": age,
            "wbc": wbc,
            "cns": pd.array(rng.choice([True, False, None], n), dtype="boolean"),
            "diagnosis_date": dates,
            "free_note": note,
            "empty_text": pd.Series([None] * n, dtype=object),
            "phenotype": pd.Series(rng.choice(["B", "T", "unknown"], n), dtype="string"),
        }
    )


RULES = {
    "inclusion": [{"name": "age", "expr": "age_years < 22"}],
    "exclusion": [{"name": "t_cell", "expr": "phenotype == 'T'", "label": "T-lineage"}],
    "analysed": [
        {"name": "has_date", "expr": "diagnosis_date.notna()"},
        {"name": "has_wbc", "expr": "wbc.notna()"},
    ],
}


def test_a_cohort_written_with_carried_columns_has_the_bytes_of_the_whole_frame(tmp_path):
    patients = _patients(3000)
    src = tmp_path / "patients.parquet"
    write_parquet(patients, src, {"stage": "harmonise"})
    # several row groups: the carried columns arrive in chunks
    pq.write_table(pq.read_table(src), tmp_path / "chunked.parquet", row_group_size=700)
    src = tmp_path / "chunked.parquet"
    assert pq.ParquetFile(src).num_row_groups == 5
    risk = pd.DataFrame(
        {"scheme": "s", "study_id": patients["study_id"].astype(object), "group": "SR"}
    )
    full = build_cohort(pd.read_parquet(src), risk, RULES)
    write_parquet(full, tmp_path / "whole.parquet", {"stage": "analyse"})

    every = pq.read_schema(src).names
    used = ["study_id", "site", "age_years", "phenotype", "diagnosis_date", "wbc"]
    narrow = build_cohort(pd.read_parquet(src, columns=used), risk, RULES)
    carried = pq.read_table(src, columns=[c for c in every if c not in used])
    order = every + [c for c in narrow.columns if c not in every]
    write_parquet_carrying(
        narrow, carried, order, tmp_path / "carried.parquet", {"stage": "analyse"}
    )
    assert (tmp_path / "carried.parquet").read_bytes() == (tmp_path / "whole.parquet").read_bytes()

    with pytest.raises(ValueError, match="rows"):
        write_parquet_carrying(narrow.head(5), carried, order, tmp_path / "x.parquet")


@pytest.mark.parametrize("ids", ["string", "object"])
def test_build_cohort_is_the_merges_it_replaces(ids):
    patients = _patients(80, seed=3, ids=ids)
    rng = np.random.default_rng(4)
    risk = pd.concat(
        [
            pd.DataFrame(
                {
                    "scheme": scheme,
                    "study_id": patients["study_id"].sample(70, random_state=k).astype(object),
                    "group": rng.choice(["SR", "HR"], 70),
                }
            )
            for k, scheme in enumerate(["b", "a"])
        ]
    )
    responses = pd.DataFrame(
        {
            "study_id": pd.Series(
                rng.choice(patients["study_id"].astype(str), 200), dtype="string"
            ),
            "response": pd.Series(rng.choice(["CR", "PR", "PD", "odd", None], 200), dtype="string"),
        }
    )
    order = ["CR", "PR", "PD"]
    got = build_cohort(patients, risk, RULES, responses, order)

    want = patients.copy()
    best = best_response(responses, order).rename("best_response")
    want = want.merge(best, left_on="study_id", right_index=True, how="left")
    for scheme, g in risk.groupby("scheme", sort=True):
        g = g[["study_id", "group"]].rename(columns={"group": f"risk_{scheme}"})
        want = want.merge(g, on="study_id", how="left")
    want = want.merge(eligibility(want, RULES).drop(columns=["site"]), on="study_id", how="left")
    pd.testing.assert_frame_equal(got, want)


def test_build_cohort_with_a_repeated_study_id_merges_as_before():
    patients = _patients(20, seed=5)
    patients.loc[3, "study_id"] = patients.loc[4, "study_id"]
    risk = pd.DataFrame({"scheme": "s", "study_id": patients["study_id"], "group": "SR"})
    got = build_cohort(patients, risk, RULES)
    want = patients.merge(
        risk[["study_id", "group"]].rename(columns={"group": "risk_s"}), on="study_id"
    )
    want = want.merge(eligibility(want, RULES).drop(columns=["site"]), on="study_id", how="left")
    pd.testing.assert_frame_equal(got, want)
    # the repeated ID multiplies as merge multiplies it (2 x 2 risk rows, then 4 x 4)
    assert (got["study_id"] == patients.loc[4, "study_id"]).sum() == 16


def test_best_response_is_the_sorted_groupby_it_replaces():
    rng = np.random.default_rng(6)
    order = ["CR", "PR", "SD", "PD"]
    for _ in range(200):
        n = int(rng.integers(0, 30))
        for dtype in ("object", "string"):
            r = pd.DataFrame(
                {
                    "study_id": pd.Series(rng.choice(["a", "b", "c", None], n), dtype=dtype),
                    "response": pd.Series(rng.choice([*order, "NE", None], n), dtype=dtype),
                }
            )
            s = r.dropna(subset=["response"]).copy()
            s["rank"] = s["response"].map({x: i for i, x in enumerate(order)})
            s = s.sort_values(["study_id", "rank"], kind="stable")
            want = s.groupby("study_id")["response"].first()
            pd.testing.assert_series_equal(best_response(r, order), want)


def test_the_flow_table_is_the_per_site_loop_it_replaces():
    patients = _patients(500, seed=7)
    patients.loc[::17, "site"] = pd.NA  # no site: counted overall only, as groupby does
    elig = eligibility(patients, RULES)
    got = flow_table(elig, RULES)
    crit = Eligibility.of(RULES)
    rows = []
    for site, g in [("All", elig), *sorted(elig.groupby("site"))]:
        rows.append({"site": site, "step": "screened", "n": len(g)})
        for c in [*crit.inclusion, *crit.exclusion]:
            reason = g["exclusion_reason"].str.replace(" (missing)", "", regex=False)
            rows.append(
                {
                    "site": site,
                    "step": f"excluded: {exclusion_label(c, RULES)}",
                    "n": int(reason.eq(c["name"]).sum()),
                }
            )
        rows.append({"site": site, "step": "eligible", "n": int(g["eligible"].sum())})
        for c in crit.analysed:
            hit = (";" + g["not_analysed_reason"] + ";").str.contains(f";{c['name']};")
            rows.append(
                {
                    "site": site,
                    "step": f"not analysed: {c.get('label', c['name'])}",
                    "n": int(hit.sum()),
                }
            )
        rows.append({"site": site, "step": "analysed", "n": int(g["analysed"].sum())})
    pd.testing.assert_frame_equal(got, pd.DataFrame(rows))
    # every count could be wrong: the test data exercise each step
    assert got.loc[got["site"] == "All", "n"].gt(0).all()


def test_columns_read_keeps_every_column_a_study_names_and_nothing_else():
    study = {
        "eligibility": {"inclusion": [{"name": "x", "expr": "age_years<22 and cns.notna()"}]},
        "endpoints": {"OS": {"origin": "diagnosis_date", "events": [{"source": "death_date"}]}},
        "analyses": [{"id": "a", "subset": {"expr": "(phenotype=='B')"}, "stratify_by": "site"}],
        "responses": {"population": "eligible"},
    }
    cols = [
        "study_id",
        "site",
        "age_years",
        "cns",
        "diagnosis_date",
        "death_date",
        "phenotype",
        "free_note",
        "wbc",
        "risk_nci",
        "age",  # a prefix of age_years: not a word of the study
    ]
    unread = {"free_note", "wbc", "age"}
    assert columns_read(study, cols) == [c for c in cols if c not in unread]


@pytest.mark.parametrize("repeat", [False, True])
def test_endpoint_rows_join_by_position_as_merge_joins_by_id(repeat):
    analysed = _patients(40, seed=8)
    if repeat:
        analysed.loc[5, "study_id"] = analysed.loc[6, "study_id"]
    rows = pd.DataFrame(
        {
            "study_id": analysed["study_id"].to_numpy(object),
            "AVAL": np.where(np.arange(40) % 7 == 0, np.nan, np.arange(40.0)),
            "CNSR": pd.array(np.arange(40) % 2, dtype="Int64"),
            "EVENTTYPE": pd.array([pd.NA] * 40, dtype="Int64"),
        }
    )
    ep = EndpointRows(analysed, {"OS": rows})
    assert ep.by_position is not repeat
    cols = ["AVAL", "CNSR", "EVENTTYPE"]
    want = analysed.merge(rows[["study_id", *cols]], on="study_id", how="left")
    pd.testing.assert_frame_equal(ep.join("OS", cols), want)


def test_the_adtte_schema_still_refuses_a_cell_that_is_not_text():
    import pandera.errors

    from cohortflow.analyse.endpoints import adtte_schema

    ok = pd.DataFrame(
        {
            "study_id": ["P1", "P2", "P3"],
            "site": ["S1", "S1", "S2"],
            "PARAMCD": ["OS", "OS", "OS"],
            "AVAL": [1.0, 2.0, np.nan],
            "CNSR": pd.array([0, 1, pd.NA], dtype="Int64"),
            "EVENTTYPE": pd.array([1, 0, pd.NA], dtype="Int64"),
        }
    )
    adtte_schema().validate(ok)
    bad = ok.astype({"study_id": object})
    bad.loc[1, "study_id"] = 17  # a number where a study ID (text) belongs
    bad.loc[2, "site"] = None
    with pytest.raises(pandera.errors.SchemaErrors) as err:
        adtte_schema().validate(bad, lazy=True)
    cases = err.value.failure_cases
    assert set(zip(cases["column"], cases["index"], strict=True)) == {("study_id", 1), ("site", 2)}


def test_write_csv_by_id_writes_the_bytes_of_write_csv(tmp_path, monkeypatch):
    import cohortflow.core.io as cio
    from cohortflow.core.io import write_csv, write_csv_by_id

    rng = np.random.default_rng(9)
    n = 400
    df = pd.DataFrame(
        {
            "study_id": [f"P{i}" for i in range(n)],
            "site": rng.choice(["S1", "S2", None], n),
            "eligible": rng.random(n) < 0.5,
            "reason": rng.choice(["", "age;wbc", "=HYPERLINK(1)", "a, b", 'say "x"', None], n),
            "when": pd.to_datetime(
                rng.choice(["2020-01-01", "2021-06-30 12:00", None], n), format="mixed"
            ),
            "x": rng.choice([0.1, 1 / 3, np.nan], n),
        }
    )
    for frame in (df, df[["study_id", "site"]], df.head(1)):
        write_csv(frame, tmp_path / "a.csv")
        write_csv_by_id(frame, tmp_path / "b.csv")
        assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    # the shortcut is taken for such a frame: write_csv is not called
    write_csv(df, tmp_path / "a.csv")
    monkeypatch.setattr(cio, "write_csv", None)
    write_csv_by_id(df, tmp_path / "c.csv")
    monkeypatch.undo()
    assert (tmp_path / "c.csv").read_bytes() == (tmp_path / "a.csv").read_bytes()
    # IDs that the CSV writer quotes or cellsafe neutralises: the whole frame is written
    hostile = df.assign(study_id=[f"=P{i}" if i % 2 else f"P,{i}" for i in range(n)])
    write_csv(hostile, tmp_path / "a.csv")
    write_csv_by_id(hostile, tmp_path / "b.csv")
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


def test_number_at_risk_with_entry_counts_those_entered_and_still_followed():
    from cohortflow.stats.survival import number_at_risk

    rng = np.random.default_rng(10)
    for _ in range(200):
        n = int(rng.integers(1, 30))
        entry = rng.integers(0, 10, n).astype(float)
        time = entry + rng.integers(0, 10, n)
        if rng.random() < 0.2:  # an entry after the exit (invalid data): counted as such
            time[0] = entry[0] - 1
        at = np.sort(rng.integers(0, 22, 6)).astype(float)
        want = [int(((entry <= x) & (time >= x)).sum()) for x in at]
        assert number_at_risk(time, at, entry) == want
