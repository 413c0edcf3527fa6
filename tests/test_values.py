"""Cell parsers: dates, numbers, units, KMT2A status."""

import datetime as dt

import pytest

from cohortflow.core import values


@pytest.mark.parametrize(
    ("text", "expected", "note"),
    [
        ("2011-02-28", dt.date(2011, 2, 28), None),
        ("2011-2-8", dt.date(2011, 2, 8), None),
        ("2011.02.28", dt.date(2011, 2, 28), None),
        ("2011. 2. 28.", dt.date(2011, 2, 28), None),
        ("2011/02/28", dt.date(2011, 2, 28), None),
        ("2011년 2월 28일", dt.date(2011, 2, 28), None),
        ("2011-02-28T00:00:00", dt.date(2011, 2, 28), None),
        ("40602", dt.date(2011, 2, 28), None),  # Excel serial, 1900 system
        ("1", dt.date(1899, 12, 31), None),
        ("73415", dt.date(2100, 12, 31), None),  # the largest serial read as a date
        ("20110228", dt.date(2011, 2, 28), None),  # YYYYMMDD from hospital systems
        ("2008-01", dt.date(2008, 1, 15), "day imputed as 15 (mid rule)"),
        ("2008년 1월", dt.date(2008, 1, 15), "day imputed as 15 (mid rule)"),
        ("2008", dt.date(2008, 7, 1), "month and day imputed as 07-01 (mid rule)"),
    ],
)
def test_parse_date_forms(text, expected, note):
    assert values.parse_date(text) == (expected, note)


@pytest.mark.parametrize("text", ["2008-01", "2008년 1월", "2008"])
def test_parse_date_partial_without_a_rule_is_refused(text):
    with pytest.raises(ValueError, match="no imputation rule"):
        values.parse_date(text, partial=None)
    assert values.parse_date("2008-01-20", partial=None) == (dt.date(2008, 1, 20), None)


def test_parse_date_partial_first_rule():
    assert values.parse_date("2008-03", partial="first") == (
        dt.date(2008, 3, 1),
        "day imputed as 1 (first rule)",
    )


@pytest.mark.parametrize(
    "bad",
    [
        "28/02/2011",
        "2011-02-30",
        "yesterday",
        "2011-13-01",
        "",
        "950312",  # YYMMDD: not guessed, and far beyond any Excel serial of a real date
        "73416",
        "20111301",
        "20110230",
    ],
)
def test_parse_date_rejects(bad):
    with pytest.raises(ValueError):
        values.parse_date(bad)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("33,900", 33900.0),
        ("1,234,567.5", 1234567.5),
        ("11.41", 11.41),
        ("-3", -3.0),
        ("2e3", 2000.0),
        (" 42 ", 42.0),
    ],
)
def test_parse_number(text, expected):
    assert values.parse_number(text) == expected


@pytest.mark.parametrize("bad", ["12,34", "1.2.3", "abc", "5 x10^9"])
def test_parse_number_rejects(bad):
    with pytest.raises(ValueError):
        values.parse_number(bad)


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        (33900, "/uL", 33.9),
        (33900, "/μL", 33.9),
        (33.9, "x10^3/uL", 33.9),
        (33.9, "10^9/L", 33.9),
        (50000, "/mm3", 50.0),
        (139.8, "K/uL", 139.8),
    ],
)
def test_wbc_units(value, unit, expected):
    assert values.to_10e9_per_l(value, unit) == pytest.approx(expected)


def test_unknown_unit_is_an_error_not_a_guess():
    with pytest.raises(ValueError, match="unknown unit"):
        values.normalise_unit("thousand")


@pytest.mark.parametrize(
    ("text", "status", "partner"),
    [
        ("t(4;11)(q21;q23)", "rearranged", "t(4;11)(q21;q23)"),
        ("46,XY,t(4;11)(q21;q23)[20]", "rearranged", "t(4;11)(q21;q23)"),
        ("t(11;19)(q23;p13.3)", "rearranged", "t(11;19)(q23;p13.3)"),
        ("t(11;19)(q23;q13)", "rearranged", "t(11;19)(q23;q13)"),
        ("46,XX,t(9;11)(p22;q23)[15]/46,XX[5]", "rearranged", "t(9;11)(p22;q23)"),
        ("dupMLL(11q23)", "ptd", None),
        ("MLL-PTD", "ptd", None),
        # a normal karyotype does not establish germline (cryptic rearrangements: FISH/PCR)
        ("46,XY[20]", "not_seen_by_karyotype", None),
        ("46,XX", "not_seen_by_karyotype", None),
        ("normal", "not_seen_by_karyotype", None),
        ("-", "unknown", None),  # in a karyotype column '-' may be 'not done'
        ("negative", "germline", None),
        ("46,XY,t(9;22)(q34;q11.2)[20]", "not_seen_by_karyotype", None),
        ("", "unknown", None),
        (None, "unknown", None),
        ("see report", "unknown", None),
        ("t(1;19)(q23;p13)", "unknown", None),
        ("t(4;11)", "rearranged", "t(4;11)"),  # no bands: a classic KMT2A partner chromosome
        ("46,XX,t(9;11)[12]", "rearranged", "t(9;11)"),
        ("t(11;14)", "unknown", None),  # 11p13 (LMO2), not KMT2A
        ("MLL-AF4", "rearranged", "KMT2A::AFF1"),
        ("KMT2A-AFF1 positive", "rearranged", "KMT2A::AFF1"),
        ("KMT2A::MLLT3", "rearranged", "KMT2A::MLLT3"),
        ("MLL-ENL", "rearranged", "KMT2A::MLLT1"),
        ("MLL negative", "germline", None),
        ("KMT2A not rearranged", "germline", None),
        ("MLL rearrangement not detected", "germline", None),
        ("no MLL rearrangement", "germline", None),
        ("MLL rearranged", "rearranged", None),
    ],
)
def test_kmt2a(text, status, partner):
    assert values.parse_kmt2a(text) == (status, partner)


def test_mapping_imputes_partial_dates_only_by_a_stated_rule():
    from cohortflow.validate.mapping import convert_value

    spec = {"type": "date"}
    assert convert_value("2009-05", spec, {"partial_dates": "first"}) == (
        dt.date(2009, 5, 1),
        "day imputed as 1 (first rule)",
    )
    with pytest.raises(ValueError, match="partial_dates: mid"):
        convert_value("2009-05", spec, {})


@pytest.mark.parametrize(
    ("karyotype", "fish", "pcr", "status", "partner"),
    [
        ("46,XX[20]", None, None, "not_seen_by_karyotype", None),  # never germline alone
        ("46,XX[20]", "negative", None, "germline", None),
        ("46,XX[20]", None, "negative", "germline", None),
        ("46,XX[20]", "rearranged", None, "rearranged", None),  # cryptic: FISH finds it
        ("46,XY[20]", None, "rearranged", "rearranged", None),
        ("46,XY,t(4;11)(q21;q23)[20]", "negative", None, "rearranged", "t(4;11)(q21;q23)"),
        (None, None, "ptd", "ptd", None),
        ("dupMLL(11q23)", "negative", None, "ptd", None),
        (None, "negative", "ptd", "ptd", None),
        (None, None, None, "unknown", None),
        ("see report", None, None, "unknown", None),
        (None, "negative", None, "germline", None),
    ],
)
def test_kmt2a_status_combines_karyotype_fish_and_pcr(karyotype, fish, pcr, status, partner):
    assert values.kmt2a_status(karyotype, fish, pcr) == (status, partner)


@pytest.mark.parametrize(
    ("karyotype", "group"),
    [
        ("46,XX[20]", "diploid"),
        ("46,XY", "diploid"),
        ("45,XX,-7[10]", "hypodiploid"),
        ("55,XY,+4,+6,+10,+21,+21[15]/46,XY[5]", "hyperdiploid"),
        ("47~50,XX,+21[cp8]", "hyperdiploid"),
        ("46,XY,t(9;22)(q34;q11.2)[20]", "t(9;22)"),
        ("46,XX,der(19)t(1;19)(q23;p13)[12]", "t(1;19)"),
        ("46,XY,t(4;11)(q21;q23)[20]", "other"),
        ("46,XX,del(9)(p21)[8]", "other"),
        ("not done", None),
        ("-", None),
        (None, None),
    ],
)
def test_cytogenetics_group_from_karyotype(karyotype, group):
    assert values.cytogenetics_group(karyotype) == group
