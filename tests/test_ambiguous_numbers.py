"""A number that is ambiguous for its unit (`1,234`: thousands separator or decimal comma) is
a finding, never a silent 1234: the rule of README "Data quality" tried with nasty input."""

from __future__ import annotations

import pandas as pd
import pytest

from cohortflow.core import values
from cohortflow.ingest.readers import ROW_COL, SHEET_COL
from cohortflow.validate.mapping import apply_mapping

KEY = b"k" * 32


@pytest.mark.parametrize(
    "text, reading",
    [
        ("1,234", "ambiguous"),
        ("-1,234", "ambiguous"),
        ("+12,345", "ambiguous"),
        (" 123,456 ", "ambiguous"),
        ("1\u00a0,234", "ambiguous"),
        ("1,234,567", "thousands"),  # two commas: never a decimal comma
        ("1,234.5", "thousands"),  # a decimal point after the group
        ("1,5", "decimal"),  # a thousands group has three digits
        ("172,25", "decimal"),
        ("1,2345", "decimal"),
        ("0,500", "decimal"),  # no thousands group starts with 0
        ("-0,5", "decimal"),
        ("1234,5", "decimal"),  # four digits before a thousands separator: impossible
        ("1234", None),
        ("1.234", None),
        ("1,,234", None),
        (",234", None),
        ("1,234,5", None),
        ("1.234,5", None),
        ("12,34,567", None),
        ("abc,def", None),
    ],
)
def test_comma_reading(text, reading):
    assert values.comma_reading(text) == reading


def test_thousands_parse_no_longer_accepts_a_leading_zero_group():
    assert values.parse_number("1,234,567") == 1234567
    with pytest.raises(ValueError):
        values.parse_number("0,123,456")
    assert values.parse_decimal_comma("0,500") == 0.5
    with pytest.raises(ValueError):
        values.parse_decimal_comma("1,234,5")


def test_thousands_plausible_by_unit():
    # WBC 1,234 /uL: 1.234 x10^9/L; a decimal 1.234 cells/uL is never written -> thousands
    # WBC 1,234 x10^3/uL: both 1234 and 1.234 x10^9/L lie in 0-2000 -> ambiguous
    # weight 12,345 kg: 12345 kg implausible, 12.345 kg plausible -> ambiguous (not 12345)
    # height 1,234 cm: neither reading plausible -> ambiguous
    wbc = values.thousands_plausible([1234, 1234], [0.001, 1.0], 0, 2000, whole=[True, False])
    assert wbc.tolist() == [True, False]
    assert values.thousands_plausible([12345], 1.0, 1, 250, whole=False).tolist() == [False]
    assert values.thousands_plausible([1234], 1.0, 30, 230, whole=False).tolist() == [False]
    # only the thousands reading in range: thousands; only the decimal one or both: not
    assert values.thousands_plausible([1234], 1.0, 30, 2300, whole=False).tolist() == [True]
    assert values.thousands_plausible([1234], 1.0, 1300, 2300, whole=False).tolist() == [False]
    assert values.thousands_plausible([1234], 1.0, 1, 2300, whole=False).tolist() == [False]
    # the range bounds are inclusive, for both readings
    assert values.thousands_plausible([2000], 1.0, 2.001, 2000, whole=False).tolist() == [True]
    assert values.thousands_plausible([2000], 1.0, 2, 2000, whole=False).tolist() == [False]
    # open range: the decimal reading is always plausible for a non-count
    assert values.thousands_plausible([1234], 1.0, None, None, whole=False).tolist() == [False]
    # an int variable (whole) with the thousands reading in range: thousands
    assert values.thousands_plausible([1000], 1.0, 0, 2000, whole=True).tolist() == [True]


def _raw(columns: dict[str, list[str]]) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    df = pd.DataFrame({"id": [f"P{i:02d}" for i in range(n)], **columns}, dtype=object)
    df[ROW_COL] = range(2, n + 2)
    df[SHEET_COL] = ""
    return df


def _map(raw: pd.DataFrame, columns: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    mapping = {"site": "Q01", "local_id": "id", "columns": columns}
    m = apply_mapping(raw, mapping, key=KEY, source_sha256="0" * 64)
    return m.data, m.findings


def test_wbc_per_ul_with_thousands_is_read_silently_other_units_are_findings():
    cells = ["1,234", "33,900", "1,000", "1,234", "1,234", "12,5", "1,234,567"]
    units = ["/uL", "/uL", "/uL", "x10^3/uL", "x10^9/L", "x10^3/uL", "/uL"]
    raw = _raw({"wbc": cells, "u": units})
    data, findings = _map(raw, {"wbc": {"source": "wbc", "unit_source": "u"}})
    wbc = data["wbc"].tolist()
    assert wbc[0] == pytest.approx(1.234) and wbc[1] == pytest.approx(33.9)
    assert wbc[2] == pytest.approx(1.0)  # `1,000` /uL is a thousand cells, never 1.000
    assert pd.isna(wbc[3]) and pd.isna(wbc[4])  # 1234 or 1.234 x10^9/L: both plausible
    assert wbc[5] == pytest.approx(12.5)  # a decimal comma, read and reported
    assert wbc[6] == pytest.approx(1234.567)
    by_row = findings.set_index("source_row")
    amb = findings[findings["check"] == "number_unambiguous"]
    assert amb["source_row"].tolist() == [5, 6]
    assert set(amb["source_column"]) == {"wbc"} and set(amb["severity"]) == {"fatal"}
    assert amb["study_id"].notna().all()
    # the raw cell goes to the restricted query listing only (value column); the message
    # never quotes it
    assert amb["value"].tolist() == ["1,234", "1,234"]
    for msg in amb["message"]:
        assert "1,234" not in msg and "1234" not in msg and "both readings" in msg
    assert by_row.loc[7, "check"] == "decimal_comma" and by_row.loc[7, "severity"] == "warning"
    assert len(findings) == 3  # nothing about rows 2-4 and 8
    # wbc_raw keeps exactly what was submitted
    assert data["wbc_raw"].tolist() == cells


def test_ranges_and_units_decide_height_weight_blasts_and_counts():
    raw = _raw(
        {
            "h": ["1,234", "172,5", "1,500", "120"],
            "w": ["12,345", "1,250", "12,5", "0,750"],
            "b": ["1,234", "12,500", "1,000", ""],
            "p": ["1,000", "2", "1,5", "10"],
        }
    )
    data, findings = _map(
        raw,
        {
            "height_cm": {"source": "h"},
            "weight_kg": {"source": "w"},
            "pb_blasts_day8": {"source": "b"},
            "prior_regimens": {"source": "p"},
        },
    )
    f = {(r.source_row, r.variable): r.check for r in findings.itertuples()}
    # height 1,234 cm and 1,500 cm: neither reading plausible (30-230 cm)
    assert f[(2, "height_cm")] == "number_unambiguous"
    assert f[(4, "height_cm")] == "number_unambiguous"
    assert pd.isna(data["height_cm"][0]) and pd.isna(data["height_cm"][2])
    assert data["height_cm"][1] == 172.5 and f[(3, "height_cm")] == "decimal_comma"
    # weight 12,345 kg: never a silent 12345 (12.345 kg is plausible for a child)
    assert f[(2, "weight_kg")] == "number_unambiguous" and pd.isna(data["weight_kg"][0])
    assert f[(3, "weight_kg")] == "number_unambiguous"  # 1250 kg no, 1.25 kg yes
    assert data["weight_kg"][2] == 12.5 and data["weight_kg"][3] == 0.75
    # blasts per uL count whole cells: 1,234 and 1,000 are thousands, silently
    assert data["pb_blasts_day8"][:3].tolist() == [1234.0, 12500.0, 1000.0]
    assert not any(v == "pb_blasts_day8" for _, v in f)
    # an int with a thousands reading out of range (0-20 regimens): ambiguous; `1,5` is
    # a decimal comma that is not a whole number: unreadable, never 15
    assert f[(2, "prior_regimens")] == "number_unambiguous"
    assert f[(4, "prior_regimens")] == "type_conformance"
    assert data["prior_regimens"].tolist()[1] == 2 and pd.isna(data["prior_regimens"][2])
    msgs = " ".join(findings["message"])
    for raw_text in ("1,234", "12,345", "1,250", "1,500", "1,000"):
        assert raw_text not in msgs
    assert "outside the plausible range (30-230 cm)" in msgs


def test_a_coded_value_with_a_comma_is_the_code_not_a_number():
    raw = _raw({"p": ["1,234", "3"]})
    data, findings = _map(raw, {"prior_regimens": {"source": "p", "codes": {"1,234": 4}}})
    assert data["prior_regimens"].tolist() == [4, 3] and findings.empty
