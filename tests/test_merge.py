"""The study merge in Arrow gives the same bytes as the pandas merge (conform + sort + write),
for canonical per-site files and for the nasty ones that take the pandas path."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cohortflow.core import dictionary
from cohortflow.core.errors import CohortflowError
from cohortflow.core.io import sha256_file, write_arrow, write_parquet
from cohortflow.harmonise.stage import (
    arrow_by_site_and_id,
    by_site_and_id,
    canonical_arrow_schema,
    merge_sites,
    read_tables,
)


def _site(site: str | list[str], ids: list[str], table: str = "patients") -> pd.DataFrame:
    """A canonical per-site frame (as harmonise_site writes it) with a few filled columns."""
    n = len(ids)
    df = dictionary.empty_frame(table).reindex(range(n))
    df["study_id"] = pd.array(ids, dtype="string")
    df["site"] = pd.array([site] * n if isinstance(site, str) else site, dtype="string")
    df["source_row"] = pd.array(range(2, n + 2), dtype="Int64")
    if table == "patients":
        wbc = [np.nan, None, 3.5, -0.0, 1e300][:n] + [float(i) for i in range(n - 5)]
        df["wbc"] = pd.array(np.array(wbc[:n], dtype=float), dtype="Float64")
        df.loc[df.index[:1], "wbc"] = pd.NA  # a real NA next to a stored NaN
        df["cns_involvement"] = pd.array([True, None, False][:1] * n, dtype="boolean")
        df["diagnosis_date"] = pd.to_datetime(["2020-02-29"] * n)
        df["sex"] = pd.array(["F", None, "M", "=1+1", "é"][:1] * n, dtype="string")
    return dictionary.conform(df, table)


def _files(tmp_path, frames: list[pd.DataFrame], name: str = "p") -> list[str]:
    paths = []
    for i, f in enumerate(frames):
        p = tmp_path / f"{name}{i}.parquet"
        write_parquet(f, p, {"stage": "harmonise", "site": str(i)})
        paths.append(str(p))
    return paths


def _pandas_bytes(tmp_path, paths: list[str], table: str = "patients") -> bytes:
    """What the merge wrote before it used Arrow: pandas read, sort, conform, write."""
    frames = [pd.read_parquet(p) for p in paths]
    df = dictionary.conform(
        by_site_and_id(frames) if frames else dictionary.empty_frame(table), table
    )
    out = tmp_path / f"pandas-{table}.parquet"
    write_parquet(df, out, {"x": 1})
    return out.read_bytes()


def _arrow_bytes(tmp_path, paths: list[str], table: str = "patients") -> bytes | None:
    merged = arrow_by_site_and_id(read_tables(paths), table)
    if merged is None:
        return None
    out = tmp_path / f"arrow-{table}.parquet"
    write_arrow(merged, out, {"x": 1})
    return out.read_bytes()


CASES = {
    # per-site files out of site order, each unsorted
    "unsorted sites": [_site("S2", ["z", "a", "m"]), _site("S1", ["q", "b"])],
    # non-ASCII IDs: code point order (pandas) and UTF-8 byte order (Arrow) must agree
    "non-ASCII": [_site("Sé", ["é1", "e2", "\u4e2d", "Z"]), _site("S\u00ff", ["b", "a"])],
    # one file with two sites, another site between them: the global sort must run
    "interleaved": [_site(["A", "C", "A"], ["3", "1", "2"]), _site("B", ["9", "0"])],
    # a file with no rows, a site sent in two files
    "empty and split": [
        _site("S1", ["b"]),
        dictionary.empty_frame(),
        _site("S1", ["a"]),
        _site("S0", ["x"]),
    ],
    "nothing": [],
}


@pytest.mark.parametrize("case", list(CASES))
def test_arrow_merge_gives_the_pandas_bytes(tmp_path, case):
    paths = _files(tmp_path, CASES[case])
    arrow = _arrow_bytes(tmp_path, paths)
    assert arrow is not None, "canonical files must take the Arrow path"
    assert arrow == _pandas_bytes(tmp_path, paths)


def test_longitudinal_rows_of_one_patient_keep_their_order(tmp_path):
    ev = [
        _site("S2", ["p", "p", "a", "p"], "events").assign(
            event=pd.array(["relapse", "death", "cr", "hsct"], dtype="string")
        ),
        _site("S1", ["p", "p"], "events").assign(event=pd.array(["x", "y"], dtype="string")),
    ]
    paths = _files(tmp_path, ev)
    arrow = _arrow_bytes(tmp_path, paths, "events")
    assert arrow is not None and arrow == _pandas_bytes(tmp_path, paths, "events")
    got = pq.read_table(tmp_path / "arrow-events.parquet").to_pandas()
    assert list(got["event"]) == ["x", "y", "cr", "relapse", "death", "hsct"]


def test_files_that_are_not_canonical_take_the_pandas_path(tmp_path):
    good = _site("S1", ["a", "b"])
    # float64 (not Float64) in the pandas metadata: pandas turns NaN into NA on conform,
    # which Arrow would keep as NaN; an extra column; a missing column; a missing key
    floaty = good.assign(wbc=good["wbc"].astype("float64"))
    extra = good.assign(hospital_record="H1")
    missing = good.drop(columns=["karyotype"])
    no_id = good.assign(study_id=pd.array([None, "c"], dtype="string"))
    no_site = good.assign(site=pd.array(["S1", None], dtype="string"))
    for bad in (floaty, extra, missing, no_id, no_site):
        paths = _files(tmp_path, [good, bad])
        assert _arrow_bytes(tmp_path, paths) is None
    # and merge_sites still gives what the pandas path gives for them
    paths = _files(tmp_path, [_site("S2", ["z"]), floaty])
    merge_sites(paths, str(tmp_path / "m.parquet"), "L")
    merged = pd.read_parquet(tmp_path / "m.parquet")
    assert list(merged["study_id"]) == ["a", "b", "z"] and merged["wbc"].isna().sum() == 3


def test_canonical_schema_is_what_pandas_writes():
    for table in dictionary.tables():
        df = dictionary.conform(dictionary.empty_frame(table), table)
        assert pa.Table.from_pandas(df, preserve_index=False).schema.equals(
            canonical_arrow_schema(table), check_metadata=True
        )


def test_merge_sites_bytes_and_errors(tmp_path):
    sites = [_site("S2", ["d", "c"]), _site("S1", ["b", "a"])]
    ev = [_site("S2", ["d"], "events"), _site("S1", ["a", "a"], "events")]
    paths, evp = _files(tmp_path, sites), _files(tmp_path, ev, "e")
    merge_sites(paths, str(tmp_path / "m.parquet"), "L", {"events": evp}, {
        "events": str(tmp_path / "me.parquet")})  # fmt: skip
    frames = [pd.read_parquet(p) for p in paths]
    expected = tmp_path / "expected.parquet"
    meta = {"data_label": "L", "dictionary_version": dictionary.dictionary_version()}
    inputs = {f"p{i}.parquet": sha256_file(p) for i, p in enumerate(paths)}
    write_parquet(
        dictionary.conform(by_site_and_id(frames)),
        expected,
        {"stage": "merge", "table": "patients", **meta, "inputs": inputs},
    )
    assert (tmp_path / "m.parquet").read_bytes() == expected.read_bytes()
    got = pd.read_parquet(tmp_path / "me.parquet")
    assert list(got["study_id"]) == ["a", "a", "d"]
    # a study ID sent by two sites: nothing merged, the count named
    dup = _files(tmp_path, [_site("S1", ["a", "x"]), _site("S2", ["a", "y", "x"])], "d")
    with pytest.raises(CohortflowError, match="4 rows share a study ID across the merge"):
        merge_sites(dup, str(tmp_path / "dup.parquet"), "L")
    assert not (tmp_path / "dup.parquet").exists()


def test_read_tables_keeps_the_order(tmp_path):
    paths = _files(tmp_path, [_site(f"S{i}", [str(i)]) for i in range(7)])
    got = [t.column("study_id")[0].as_py() for t in read_tables(paths)]
    assert got == [str(i) for i in range(7)]


def test_write_arrow_equals_write_parquet(tmp_path):
    df = _site("S1", ["b", "a"])
    write_parquet(df, tmp_path / "a.parquet", {"k": "v"})
    write_arrow(pa.Table.from_pandas(df, preserve_index=False), tmp_path / "b.parquet", {"k": "v"})
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
