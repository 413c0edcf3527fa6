"""The onboarding assistant reads a column's values, and a code legend in its header or SPSS
variable label: `남/여`, `M/F`, or `1/2` with a label saying 1=남 2=여 is `sex`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyreadstat
import pytest
import yaml

from cohortflow.onboard.check import check_mapping
from cohortflow.onboard.draft import SURE, draft, legend, match_header, normalise_header, render

REPO = Path(__file__).resolve().parents[1]
IDS = ["P-01", "P-02", "P-03", "P-04", "P-05", "P-06"]


def _csv(tmp_path: Path, columns: dict[str, list[str]], name: str = "X01.csv") -> Path:
    path = tmp_path / name
    pd.DataFrame({"연구번호": IDS, **columns}).to_csv(path, index=False, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ("성별 (1=남, 2=여)", {"1": "남", "2": "여"}),
        ("Sex 1=M 2=F", {"1": "M", "2": "F"}),
        ("Gender [1: male / 2: female]", {"1": "male", "2": "female"}),
        ("치료 자료 (0 = 무, 1 = 유, 9 = 미상)", {"0": "무", "1": "유", "9": "미상"}),
        # not legends: one pair only, a time, a ratio, a repeated code, a unit
        ("성별 (1=남)", {}),
        ("채혈 시각 10:30", {}),
        ("CD4:CD8 ratio", {}),
        ("Arm (1=A, 1=B)", {}),
        ("WBC (x10^9/L)", {}),
    ],
)
def test_legend_is_read_from_a_header(text, codes):
    assert legend(text) == codes


def test_a_legend_does_not_hide_the_header_name():
    assert normalise_header("Sex 1=M 2=F") == "sex"
    assert normalise_header("성별 (1=남, 2=여)") == "성별"
    assert normalise_header("WBC (/uL)") == "wbc"  # unchanged without a legend


def test_one_two_with_a_legend_in_the_header_is_sex_with_its_codes(tmp_path):
    path = _csv(tmp_path, {"성별 (1=남, 2=여)": ["1", "2", "2", "1", "", "9"]})
    d = draft(path, site="X01")
    rule = d.mapping["columns"]["sex"]
    assert rule["source"] == "성별 (1=남, 2=여)"
    # the legend gives the meaning; a value it does not explain stays to decide
    assert rule["codes"] == {"1": "M", "2": "F", "9": "TODO"}
    assert "1=남 in the header" in d.code_evidence["sex"]["1"]
    assert "x2" in d.code_evidence["sex"]["2"]
    assert not d.proposals["sex"].flagged  # the header names the variable
    assert any("sex" in t and "'9'" in t for t in d.decide_first)


def test_one_two_with_a_legend_but_no_sex_word_is_proposed_as_sex_and_flagged(tmp_path):
    path = _csv(tmp_path, {"구분 (1=남, 2=여)": ["1", "2", "2", "1", "1", "2"]})
    d = draft(path, site="X01")
    p = d.proposals["sex"]
    assert p.column == "구분 (1=남, 2=여)" and p.confidence < SURE  # flagged for review
    assert any("legend" in e for e in p.evidence), p.evidence
    assert any("2 of 2 values are sex codes" in e for e in p.evidence), p.evidence
    assert d.mapping["columns"]["sex"]["codes"] == {"1": "M", "2": "F"}
    # the draft reads back and check-mapping finds nothing to say about the codes
    (tmp_path / "X01.yaml").write_text(render(d).replace(str(path), "X01.csv"), encoding="utf-8")
    problems = check_mapping("X01.yaml", root=tmp_path)
    assert [p.render() for p in problems if p.severity == "error"] == []


@pytest.mark.parametrize(
    ("cells", "codes"),
    [(["남", "여", "여", "남", "남", "여"], {"남": "M", "여": "F"}),
     (["M", "F", "F", "M", "M", "F"], {"M": "M", "F": "F"})],
)  # fmt: skip
def test_sex_is_found_by_its_values_under_a_header_that_says_nothing(tmp_path, cells, codes):
    path = _csv(tmp_path, {"항목3": cells})
    d = draft(path, site="X01")
    assert d.mapping["columns"]["sex"] == {"source": "항목3", "codes": codes}
    assert d.proposals["sex"].flagged  # values alone: a reviewer confirms
    assert any("no header match" in t for t in d.proposals["sex"].evidence)


def test_one_two_without_a_legend_is_never_guessed(tmp_path):
    """1/2 under 성별 with no legend: which is male is the site's convention, not a guess."""
    path = _csv(tmp_path, {"성별": ["1", "2", "2", "1", "1", "2"], "항목7": list("121212")})
    d = draft(path, site="X01")
    assert d.mapping["columns"]["sex"]["codes"] == {"1": "TODO", "2": "TODO"}
    assert "항목7" in d.unmapped  # 1/2 under a header that says nothing is not sex


def test_a_legend_that_does_not_describe_the_values_is_not_applied(tmp_path):
    """Legend 1=남 2=여 but the cells are 3/4 (a recoded export): the legend is not used."""
    path = _csv(tmp_path, {"성별 (1=남, 2=여)": ["3", "4", "4", "3", "3", "4"]})
    d = draft(path, site="X01")
    assert d.mapping["columns"]["sex"]["codes"] == {"3": "TODO", "4": "TODO"}


def test_a_legend_that_names_something_else_is_not_sex(tmp_path):
    path = _csv(tmp_path, {"Arm (1=A, 2=B)": ["1", "2", "2", "1", "1", "2"]})
    d = draft(path, site="X01")
    assert "sex" not in d.mapping["columns"]


def test_a_legend_codes_a_yes_no_column_and_its_missing_token(tmp_path):
    path = _csv(tmp_path, {"치료 자료 (0=무, 1=유, 9=미상)": ["1", "1", "0", "9", "1", "0"]})
    d = draft(path, site="X01")
    rule = d.mapping["columns"]["treatment_data_available"]
    assert rule["codes"] == {"1": True, "0": False}
    assert rule["missing"] == ["9"]  # 9=미상 is a missing token, never a code


@pytest.fixture
def sav(tmp_path):
    """An SPSS export with cryptic variable names: the meaning is in labels only."""
    df = pd.DataFrame(
        {
            "pid": IDS,
            "v1": [1.0, 2.0, 2.0, 1.0, 1.0, None],  # value labels 1=남 2=여, label says nothing
            "v2": [1.0, 2.0, 2.0, 1.0, 2.0, 1.0],  # no value labels; label: 성별 (1=M, 2=F)
            "v3": [3.5, 4.0, 2.2, 1.0, 6.1, 5.0],
        }
    )
    path = tmp_path / "X02.sav"
    pyreadstat.write_sav(
        df,
        str(path),
        variable_value_labels={"v1": {1: "남", 2: "여"}},
        column_labels={
            "pid": "Patient ID",
            "v1": "문항 1",
            "v2": "성별 (1=M, 2=F)",
            "v3": "WBC at diagnosis (x10^9/L)",
        },
    )
    return path


def test_spss_variable_label_with_a_legend_is_sex(sav):
    d = draft(sav, site="X02")
    sex = d.mapping["columns"]["sex"]
    assert sex == {"source": "v2", "codes": {"1": "M", "2": "F"}}
    assert not d.proposals["sex"].flagged
    assert any("variable label" in e for e in d.proposals["sex"].evidence)
    # v1 (labels 남/여 applied by the reader) also looks like sex: the reviewer is told
    assert any("'v1' also looks like sex" in t for t in d.decide_first), d.decide_first
    assert d.mapping["local_id"] == "pid"  # by its label 'Patient ID'
    assert d.mapping["columns"]["wbc"] == {"source": "v3", "unit": "x10^9/L"}  # label's unit


def test_spss_value_labels_alone_make_sex(sav, tmp_path):
    df, meta = pyreadstat.read_sav(str(sav))
    only = tmp_path / "X03.sav"
    pyreadstat.write_sav(
        df.drop(columns=["v2"]),
        str(only),
        variable_value_labels={"v1": {1: "남", 2: "여"}},
        column_labels={"pid": "Patient ID", "v1": "문항 1", "v3": "WBC"},
    )
    d = draft(only, site="X03")
    assert d.mapping["columns"]["sex"] == {"source": "v1", "codes": {"남": "M", "여": "F"}}
    assert d.proposals["sex"].flagged
    assert yaml.safe_load(render(d)) == d.mapping


@pytest.mark.parametrize(
    ("header", "var"),
    [
        ("Dx date", "diagnosis_date"),
        ("Initial Dx", "diagnosis_date"),
        ("R/R Dx date", "rr_diagnosis_date"),
        ("Date of R/R Dx", "rr_diagnosis_date"),
        ("Ht", "height_cm"),
        ("Wt (kg)", "weight_kg"),
        ("FU date", "last_followup_date"),
        ("Last F/U", "last_followup_date"),
        ("BMT", "hsct_date"),
        ("SCT date", "hsct_date"),
        ("HSCT donor", "hsct_donor"),
        ("Tx data", "treatment_data_available"),
        ("Pt No", "local_id"),
        # an abbreviation inside a word is not one
        ("PTX", None),
        ("Dxd", None),
    ],
)
def test_abbreviations_are_read(header, var):
    assert match_header(header) == var


def test_an_abbreviated_export_is_drafted_with_confidence(tmp_path):
    """The abbreviations the issue names, each under a header with no other clue."""
    dates = ["2012-01-01", "2013-02-02", "2014-03-03", "2015-01-01", "2016-01-01", "2017-01-01"]
    path = _csv(
        tmp_path,
        {
            "Initial Dx": dates,
            "Date of R/R Dx": dates,
            "Ht": ["150", "160", "170", "150", "160", "170"],
            "Wt": ["40", "50", "60", "40", "50", "60"],
            "BMT": ["2014-01-01", "", "", "", "", ""],
            "FU date": dates,
        },
    )
    d = draft(path, site="X01")
    got = {v: (p.column, p.flagged) for v, p in d.proposals.items()}
    assert got == {
        "diagnosis_date": ("Initial Dx", False),
        "rr_diagnosis_date": ("Date of R/R Dx", False),
        "height_cm": ("Ht", False),
        "weight_kg": ("Wt", False),
        "hsct_date": ("BMT", False),
        "last_followup_date": ("FU date", False),
    }
    assert any("abbreviations read as" in e for e in d.proposals["hsct_date"].evidence)


def test_redcap_field_labels_are_matched_and_one_strong_match_beats_two_weak():
    """S03's REDCap export: cryptic field names ('rr_date', 'lfu_date') are found by their
    field labels, and the combined checkbox column 'agents' (an exact synonym) is not given up
    for a checkbox slot 'agents___N' plus a weak match elsewhere."""
    d = draft(
        REPO / "data/rr_all/S03/S03_2017-03-02_redcap.csv",
        site="S03",
        reader={
            "format": "redcap",
            "dictionary": str(REPO / "data/rr_all/S03/S03_2017-03-02_dictionary.csv"),
        },
    )
    cols = {v: p.column for v, p in d.proposals.items()}
    assert cols["first_cycle_agents"] == "agents"
    assert cols["rr_diagnosis_date"] == "rr_date" and cols["last_followup_date"] == "lfu_date"
    assert any("variable label" in e for e in d.proposals["rr_diagnosis_date"].evidence)
