"""REDCap raw export reader: labels, checkboxes, events, repeating instruments, lineage."""

import csv
import io
from pathlib import Path

import pytest

from cohortflow.core.errors import SubmissionError
from cohortflow.ingest.redcap import (
    load_redcap_dictionary,
    read_redcap,
    redcap_field_labels,
    redcap_identifier_fields,
)

FIX = Path(__file__).parent / "fixtures" / "readers"
DICTIONARY = FIX / "redcap_dictionary.csv"
EXPORT = FIX / "redcap_export.csv"

EXPECTED_COLUMNS = [
    "record_id",
    "patient_name",
    "sex",
    "dx_date",
    "risk",
    "cns",
    "demographics_complete",
    "agents___1",
    "agents___2",
    "agents___3",
    "agents___4",
    "agents",
    "therapy_complete",
    "last_fu[baseline_arm_1]",
    "last_fu[followup_arm_1]",
    "alive[baseline_arm_1]",
    "alive[followup_arm_1]",
    "followup_complete[baseline_arm_1]",
    "followup_complete[followup_arm_1]",
    "tx_date#1",
    "tx_date#2",
    "tx_donor#1",
    "tx_donor#2",
    "transplant_complete#1",
    "transplant_complete#2",
    "_source_row",
    "_source_sheet",
]

EXPECTED_ROWS = [
    # P01: two agents checked, follow-up in both events, two transplants.
    ["P01", "Kim Minjun", "Male", "2015-03-02", "High", "No", "2",
     "1", "0", "1", "0", "Vincristine; Asparaginase", "2",
     "2016-01-10", "2019-06-30", "True", "True", "2", "2",
     "2017-05-01", "2018-02-11", "MUD", "Haplo", "2", "1", 2, ""],
    # P02: no agent checked, baseline only, no transplant.
    ["P02", "Lee Seoyeon", "Female", "2016-07-15", "Standard", "Yes", "2",
     "0", "0", "0", "0", None, "0",
     "2017-01-01", None, "False", None, "1", None,
     None, None, None, None, None, None, 6, ""],
    # P03: empty date and yesno stay None; follow-up only in the follow-up event.
    ["P03", "Park Jiho", "Male", None, "Very high", None, "1",
     "0", "0", "0", "1", "Daunorubicin", "2",
     None, "2018-03-03", None, "False", "0", "2",
     None, None, None, None, None, None, 7, ""],
]  # fmt: skip


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    """A UTF-8 CSV file with ``header`` and ``rows``."""
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def fixture_rows() -> tuple[list[str], list[list[str]]]:
    """Header and rows of the fixture export."""
    recs = list(csv.reader(io.StringIO(EXPORT.read_text(encoding="utf-8-sig"), newline="")))
    return recs[0], recs[1:]


def test_fixture_export_flattened_exactly():
    res = read_redcap(EXPORT, site="S1", dictionary=DICTIONARY)
    assert res.reader == "redcap"
    assert res.encoding == "utf-8-sig"  # REDCap writes a BOM; it must not reach the header
    assert list(res.data.columns) == EXPECTED_COLUMNS
    assert res.data.values.tolist() == EXPECTED_ROWS
    assert res.data["_source_row"].dtype == "int64"
    assert res.describe()["rows_read"] == 3


def test_dictionary_helpers():
    assert redcap_identifier_fields(DICTIONARY) == ["patient_name"]
    labels = redcap_field_labels(DICTIONARY)
    assert list(labels)[:3] == ["record_id", "patient_name", "sex"]
    assert labels["sex"] == "성별 (sex)"
    assert labels["agents"] == "Induction agents"
    fields = {f.name: f for f in load_redcap_dictionary(DICTIONARY)}
    assert fields["agents"].choices == (
        ("1", "Vincristine"),
        ("2", "Dexamethasone"),
        ("3", "Asparaginase"),
        ("4", "Daunorubicin"),
    )


def test_checkbox_zero_filler_of_untouched_form_does_not_split_events():
    # The follow-up rows carry agents___* = 0 and *_complete = 0 for forms without data
    # there: those columns keep their plain names and the baseline values.
    res = read_redcap(EXPORT, site="S1", dictionary=DICTIONARY)
    assert "agents[followup_arm_1]" not in res.data.columns
    assert "demographics_complete[followup_arm_1]" not in res.data.columns
    assert list(res.data["therapy_complete"]) == ["2", "0", "2"]


def test_repeating_instrument_in_two_events(tmp_path):
    header, rows = fixture_rows()
    i_ev = header.index("redcap_event_name")
    moved = [list(r) for r in rows]
    moved[2][i_ev] = "baseline_arm_1"  # P01 transplant 1 now at baseline, 2 at follow-up
    res = read_redcap(
        write_csv(tmp_path / "e.csv", header, moved), site="S1", dictionary=DICTIONARY
    )
    tx = [c for c in res.data.columns if c.startswith("tx_date")]
    assert tx == ["tx_date[baseline_arm_1]#1", "tx_date[followup_arm_1]#2"]
    assert res.data.loc[0, "tx_donor[baseline_arm_1]#1"] == "MUD"
    assert res.data.loc[0, "tx_donor[followup_arm_1]#2"] == "Haplo"


def test_classic_project_with_repeating_instrument_and_unknown_column(tmp_path):
    header = [
        "record_id",
        "redcap_repeat_instrument",
        "redcap_repeat_instance",
        "sex",
        "site_note",
        "tx_date",
        "tx_donor",
    ]
    rows = [
        ["7", "", "", "2", "n/a", "", ""],
        ["", "", "", "", "", "", ""],  # blank line: skipped and reported
        ["7", "transplant", "1", "", "", "2020-01-31", "1"],
        ["8", "", "", "1", "", "", ""],
    ]
    res = read_redcap(write_csv(tmp_path / "c.csv", header, rows), site="S", dictionary=DICTIONARY)
    assert list(res.data.columns) == [
        "record_id",
        "sex",
        "site_note",  # not in the dictionary: kept, after its left neighbour
        "tx_date#1",
        "tx_donor#1",
        "_source_row",
        "_source_sheet",
    ]
    assert res.data.values.tolist() == [
        ["7", "Female", "n/a", "2020-01-31", "MSD", 2, ""],
        ["8", "Male", None, None, None, 5, ""],
    ]
    assert res.blank_rows_skipped == [3]
    assert res.encoding == "utf-8"


def _modified(tmp_path: Path, row: int, column: str, value: str) -> Path:
    header, rows = fixture_rows()
    rows = [list(r) for r in rows]
    rows[row - 2][header.index(column)] = value
    return write_csv(tmp_path / "bad.csv", header, rows)


def test_unknown_choice_code_names_row_and_field_not_value(tmp_path):
    bad = _modified(tmp_path, 6, "sex", "9")
    with pytest.raises(SubmissionError) as exc:
        read_redcap(bad, site="S1", dictionary=DICTIONARY)
    err = exc.value
    assert (err.site, err.file, err.row, err.column) == ("S1", "bad.csv", 6, "sex")
    assert "9" not in str(err).replace("S1", "")


def test_label_export_rejected_for_yesno(tmp_path):
    bad = _modified(tmp_path, 2, "cns", "No")
    with pytest.raises(SubmissionError) as exc:
        read_redcap(bad, site="S1", dictionary=DICTIONARY)
    assert (exc.value.row, exc.value.column) == (2, "cns")


def test_checkbox_value_other_than_0_1(tmp_path):
    bad = _modified(tmp_path, 7, "agents___2", "Checked")
    with pytest.raises(SubmissionError) as exc:
        read_redcap(bad, site="S1", dictionary=DICTIONARY)
    assert (exc.value.row, exc.value.column) == (7, "agents___2")
    assert "Checked" not in str(exc.value)


def test_empty_record_id(tmp_path):
    bad = _modified(tmp_path, 5, "record_id", "")
    with pytest.raises(SubmissionError) as exc:
        read_redcap(bad, site="S1", dictionary=DICTIONARY)
    assert (exc.value.row, exc.value.column) == (5, "record_id")
    assert "record id is empty" in str(exc.value)


def test_duplicate_record_event_instance(tmp_path):
    bad = _modified(tmp_path, 5, "redcap_repeat_instance", "1")
    with pytest.raises(SubmissionError) as exc:
        read_redcap(bad, site="S1", dictionary=DICTIONARY)
    assert exc.value.row == 5
    assert "row 4" in str(exc.value)


def test_bad_repeat_instance(tmp_path):
    bad = _modified(tmp_path, 4, "redcap_repeat_instance", "x")
    with pytest.raises(SubmissionError) as exc:
        read_redcap(bad, site="S1", dictionary=DICTIONARY)
    assert (exc.value.row, exc.value.column) == (4, "redcap_repeat_instance")


def test_record_id_column_missing(tmp_path):
    header, rows = fixture_rows()
    header = ["study_id", *header[1:]]
    with pytest.raises(SubmissionError, match="record_id"):
        read_redcap(write_csv(tmp_path / "x.csv", header, rows), site="S", dictionary=DICTIONARY)
