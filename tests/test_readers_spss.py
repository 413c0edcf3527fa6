"""SPSS .sav reader: value labels, ISO dates, numbers as text, case lineage."""

import datetime as dt

import pandas as pd
import pyreadstat
import pytest

from cohortflow.core.errors import SubmissionError
from cohortflow.ingest.spss import read_sav, sav_variable_labels


@pytest.fixture
def sav(tmp_path):
    """A small .sav file written with pyreadstat (not committed: its header holds a timestamp)."""
    df = pd.DataFrame(
        {
            "pid": ["A-1", "A-2", "A-3", ""],
            "sex": [1.0, 2.0, 3.0, None],  # 3 has no value label
            "dx_date": [dt.date(2011, 2, 28), None, dt.date(2012, 1, 1), None],
            "wbc": [33.9, 2.0, None, None],  # unlabelled numeric
            "seen_at": [dt.datetime(2011, 3, 1, 10, 30), None, dt.datetime(2012, 1, 2), None],
            "comment": ["relapse 2013", "", "없음", ""],
        }
    )
    path = tmp_path / "site.sav"
    pyreadstat.write_sav(
        df,
        str(path),
        variable_value_labels={"sex": {1: "Male", 2: "Female"}},
        column_labels={"pid": "Patient ID", "sex": "Sex", "dx_date": "Date of diagnosis"},
    )
    return path


def test_read_sav_exact_text_table(sav):
    res = read_sav(sav, site="S2")
    assert res.reader == "sav"
    assert res.encoding == "UTF-8"
    assert list(res.data.columns) == [
        "pid",
        "sex",
        "dx_date",
        "wbc",
        "seen_at",
        "comment",
        "_source_row",
        "_source_sheet",
    ]
    assert res.data.values.tolist() == [
        ["A-1", "Male", "2011-02-28", "33.9", "2011-03-01T10:30:00", "relapse 2013", 1, ""],
        ["A-2", "Female", None, "2", None, None, 2, ""],
        ["A-3", "3", "2012-01-01", None, "2012-01-02", "없음", 3, ""],
    ]
    assert res.blank_rows_skipped == [4]  # an all-empty case
    assert all(isinstance(v, str) for v in res.data["sex"])


def test_sav_variable_labels(sav):
    assert sav_variable_labels(sav) == {
        "pid": "Patient ID",
        "sex": "Sex",
        "dx_date": "Date of diagnosis",
    }


def test_unreadable_sav(tmp_path):
    bad = tmp_path / "broken.sav"
    bad.write_bytes(b"not an spss file at all")
    with pytest.raises(SubmissionError) as exc:
        read_sav(bad, site="S2")
    assert (exc.value.site, exc.value.file) == ("S2", "broken.sav")
    with pytest.raises(SubmissionError):
        read_sav(tmp_path / "missing.sav", site="S2")
