"""Cell-level identifier detection: every form, realistic negatives, and removal at
validation (marker in shareable outputs, raw value only in the restricted query listing)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from cohortflow.core.errors import SubmissionError
from cohortflow.core.identifiers import detect_kind
from cohortflow.ingest.stage import ingest_site
from cohortflow.validate.presubmit import validate_file

RRN = "resident registration number"
PHONE = "phone number"
EMAIL = "e-mail address"
DOB = "date of birth"
NAME = "name"

POSITIVES = [
    # RRNs: with/without hyphen, other separators, full-width digits; 900101-1 has a wrong
    # check digit, which a delimited RRN does not need
    ("900101-1234567", RRN),
    ("9001011234568", RRN),  # bare: valid check digit
    ("900101 1234567", RRN),
    ("900101/1234567", RRN),
    ("900101.1234567", RRN),
    ("900101–1234567", RRN),  # en dash
    ("９００１０１－１２３４５６７", RRN),  # full-width digits and hyphen
    ("pt RRN 050312-3123456 checked", RRN),
    ("2101013123456", RRN),  # born 2021: random last digits, no check digit to test
    ("010-1234-5678", PHONE),
    ("010.1234.5678", PHONE),
    ("010 1234 5678", PHONE),
    ("01012345678", PHONE),
    ("011-234-5678", PHONE),
    ("+82 10-1234-5678", PHONE),
    ("+82-10-1234-5678", PHONE),
    ("+821012345678", PHONE),
    ("+82 (0)10 1234 5678", PHONE),
    ("０１０－１２３４－５６７８", PHONE),
    ("02-123-4567", PHONE),
    ("02-1234-5678", PHONE),
    ("(02) 1234-5678", PHONE),
    ("031.123.4567", PHONE),
    ("051 123 4567", PHONE),
    ("0212345678", PHONE),
    ("+82 2 1234 5678", PHONE),
    ("070-1234-5678", PHONE),
    ("보호자 연락 010-9876-5432 (모)", PHONE),
    ("jane.doe@example.com", EMAIL),
    ("send to kim_mj+crf@hospital.ac.kr please", EMAIL),
    ("DOB 2008-01-03", DOB),
    ("d.o.b.: 03/01/2008", DOB),
    ("born 3 Jan 2008, referred", DOB),
    ("date of birth January 3, 2008", DOB),
    ("생년월일: 2008.01.03", DOB),
    ("생년월일 2008년 1월 3일", DOB),
    ("생일 080103", DOB),
    ("김민준", NAME),
    ("환자 김민준 보호자 동의", NAME),
    ("이서연님 전원", NAME),
    ("박지훈 환아", NAME),
    ("남궁민수", NAME),
    ("Kim Minjun", NAME),
    ("LEE SEO-YEON", NAME),
    ("Park, Jiwoo", NAME),
    ("Minseo Choi", NAME),
    ("referred by John Smith", NAME),
    ("Mary O'Brien-Smith".replace("O'Brien-", ""), NAME),
]

NEGATIVES = [
    "2008-01-15",
    "2008.01.15",
    "15/01/2008",
    "20080115",
    "died 2015-03-02",
    "33,900",
    "1,000,000",
    "12.5",
    "-",
    "+",
    "46,XY,t(4;11)(q21;q23)",
    "46,XX,del(9)(p21)[12]/46,XX[8]",
    "47,XY,+21c",
    "t(12;21)(p13;q22) ETV6-RUNX1",
    "POG 9407",
    "COG AALL0232",
    "AALL0031",
    "Interfant-06",
    "KRLLG 0901",
    "BFM-95",
    "ALL-REZ BFM 2002",
    "Hyper CVAD",
    "FLAG Ida",
    "Blinatumomab Mono",
    "Complete Remission",
    "Flu/Bu/ATG",
    "TBI 1200 cGy + Cy 120 mg/kg",
    "CR after cycle 1, MRD < 0.01%",
    "CD10-, CD19+, CD34+",
    "8801234567890",  # EAN-13 barcode: "born" 2088, not an RRN
    "1234567890123",
    "9001011234567",  # bare 13 digits with a wrong check digit, in free text
    "1588-1234",  # business number, not a person's
    "ANC 1,234 on day 28",
    "이식 후 재발",
    "정상 핵형",
    "고위험군",
    "유지요법 중 재발",
    "관해유도 후 완전관해",
    "조혈모세포이식 시행",
    "여아",
    "남아",
    "진단 시 백혈구 상승",
]


@pytest.mark.parametrize(("text", "kind"), POSITIVES)
def test_each_form_is_recognised(text, kind):
    assert detect_kind(pd.Series([text]), "free").iloc[0] == kind


@pytest.mark.parametrize("text", NEGATIVES)
def test_realistic_clinical_text_is_not_an_identifier(text):
    assert detect_kind(pd.Series([text]), "free").iloc[0] is None


def test_contexts():
    # a date field holds dates: a date is not a date of birth there, names are not looked for
    dates = pd.Series(["2008-01-03", "DOB 2008-01-03", "9001011234567", "010-1234-5678"])
    assert detect_kind(dates, "date").tolist() == [None, None, RRN, PHONE]
    # numeric fields: a bare 13-digit RRN needs no check digit; a phone number as a WBC
    nums = pd.Series(["9001011234567", "01012345678", "12,300", "-1.5", None])
    assert detect_kind(nums, "number").tolist() == [RRN, PHONE, None, None, None]
    with pytest.raises(ValueError):
        detect_kind(nums, "nonsense")


def test_no_false_positive_on_bundled_korean_labels_and_data():
    """Every Hangul word of the bundled configs, schemas, data READMEs and code, and every
    cell of the bundled submissions outside their dropped identifier columns."""
    from cohortflow.core.config import load_study
    from cohortflow.ingest.submission import read_submission

    root = Path(__file__).resolve().parents[1]
    words: set[str] = set()
    files = [
        *(root / "config").rglob("*.yaml"),
        *(root / "schemas").rglob("*.*"),
        *(root / "data").rglob("*.md"),
        *(root / "cohortflow").rglob("*.py"),
    ]
    for p in files:
        if p.name == "identifiers.py":
            continue  # its own lists of surnames and syllables
        words |= set(re.findall(r"[가-힣]+(?: [가-힣]+)*", p.read_text(encoding="utf-8")))
    assert len(words) > 100
    w = pd.Series(sorted(words))
    fake = {"김가나", "이다라", "윤가다"}  # the demo's planted fake names (dropped columns)
    flagged = set(w[detect_kind(w, "free").notna()]) - fake
    assert flagged == set()
    cells = 0
    for study in ("rr_all", "infant_all"):
        for site, m in load_study(study, root)["site_mappings"].items():
            raw = read_submission(root / m["file"], m["reader"], site=site).data
            for col in raw.columns:
                if col in m["drop"] or col == m["local_id"] or col.startswith("_"):
                    continue
                k = detect_kind(raw[col], "free")
                cells += int(raw[col].notna().sum())
                assert k.isna().all(), (study, site, col)
    assert cells > 1000


def test_vectorised_over_distinct_values():
    """A million cells with few distinct values: one match per distinct value."""
    import time

    s = pd.Series(["CR", "PR", "010-1234-5678", None, "POG 9407"] * 200_000)
    t0 = time.perf_counter()
    k = detect_kind(s, "free")
    elapsed = time.perf_counter() - t0
    assert int((k == PHONE).sum()) == 200_000 and k.notna().sum() == 200_000
    print(f"detect_kind: 1,000,000 cells in {elapsed:.2f} s")


# --- removal at validation ---------------------------------------------------------------

MAPPING = {
    "site": "Q09",
    "local_id": "id",
    "drop": [],
    "reader": {},
    "columns": {
        "sex": {"source": "sex", "codes": {"M": "M", "F": "F"}},
        "birth_date": {"source": "birth"},
        "diagnosis_date": {"source": "dx"},
        "last_followup_date": {"source": "lfu"},
        "height_cm": {"source": "height"},
        "wbc": {"source": "wbc", "unit": "/uL"},
        "protocol": {"source": "protocol"},
        "karyotype": {"source": "karyotype"},
    },
}
PLANTED = {
    "protocol": "call 010-2345-6789",
    "karyotype": "46,XY pt 김민준",
    "birth": "900101-1234567",
    "height": "jane.doe@example.com",
    "wbc": "01012345678",
    "sex": "+82 10 1234 5678",
}


def _site(tmp_path, policy="remove"):
    import csv

    p = PLANTED
    rows = [
        ["id", "sex", "birth", "dx", "lfu", "height", "wbc", "protocol", "karyotype"],
        ["A1", "M", "2000-01-01", "2005-01-01", "2010-01-01", "120", "5000", "POG 9407", "46XY"],
        ["A2", p["sex"], p["birth"], "2005-01-01", "2010-01-01", p["height"], p["wbc"]]
        + [p["protocol"], p["karyotype"]],
    ]
    f = tmp_path / "Q09_2020-01-01.csv"
    with f.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    validate_file(
        f,
        MAPPING,
        tmp_path,
        demo_key=True,
        data_label="TEST",
        cutoff="2016-12-31",
        identifiers=policy,
    )


def test_cells_holding_identifiers_are_removed_with_findings(tmp_path):
    _site(tmp_path)
    v = pd.read_parquet(tmp_path / "mapped.parquet")
    a2 = v.iloc[1]
    assert a2["protocol"] == "[removed: phone number]"
    assert a2["karyotype"] == "[removed: name]"
    assert a2["wbc_raw"] == "[removed: phone number]" and pd.isna(a2["wbc"])
    assert pd.isna(a2["birth_date"]) and pd.isna(a2["height_cm"]) and pd.isna(a2["sex"])
    assert v.iloc[0]["protocol"] == "POG 9407" and v.iloc[0]["wbc"] == 5.0
    f = pd.read_csv(tmp_path / "findings.csv", dtype=str, keep_default_na=False)
    ident = f[f["check"] == "identifier_removed"]
    assert set(ident["source_column"]) == set(PLANTED)
    assert (ident["source_row"] == "3").all() and (ident["site"] == "Q09").all()
    kinds = dict(zip(ident["source_column"], ident["message"], strict=True))
    assert "(resident registration number)" in kinds["birth"]
    assert "(e-mail address)" in kinds["height"] and "(name)" in kinds["karyotype"]
    shareable = (
        (tmp_path / "findings.csv").read_text(encoding="utf-8")
        + v.to_csv()
        + (tmp_path / "summary.json").read_text(encoding="utf-8")
        + (tmp_path / "status.csv").read_text(encoding="utf-8")
    )
    for secret in PLANTED.values():
        assert secret not in shareable, secret
    for secret in ("2345-6789", "김민준", "1234567", "jane.doe", "01012345678"):
        assert secret not in shareable, secret
    # the raw values are in the site's own (restricted) query listing
    q = pd.read_csv(tmp_path / "queries.csv", dtype=str, keep_default_na=False)
    # (CSV neutralises a leading "+" with an apostrophe, as for any formula start)
    assert set(PLANTED.values()) <= {v.removeprefix("'") for v in q["value"]}
    assert "'+82 10 1234 5678" in set(q["value"])


def test_refuse_policy_stops_naming_cells_not_values(tmp_path):
    with pytest.raises(SubmissionError) as exc:
        _site(tmp_path, policy="refuse")
    msg = str(exc.value)
    assert "site Q09" in msg and "Q09_2020-01-01.csv" in msg and "identifiers: refuse" in msg
    assert "row 3 column 'protocol': phone number" in msg
    for secret in PLANTED.values():
        assert secret not in msg
    assert not (tmp_path / "mapped.parquet").exists()


def test_headerless_file_error_shows_no_patient_values(tmp_path):
    """A file without its header row: the first patient row becomes the headers; neither the
    identifier refusal nor the missing-column message may show them."""
    f = tmp_path / "Q09_2020-01-01.csv"
    row = "A1,M,2000-01-01,2005-01-01,2010-01-01,120,5000,010-2345-6789,서울시 가상구 예시로 12"
    f.write_text(row + "\nA2,F,2001-01-01,2006-01-01,2010-01-01,121,5100,x,y\n", encoding="utf-8")
    with pytest.raises(SubmissionError) as exc:
        ingest_site(str(f), MAPPING, str(tmp_path / "r.parquet"), str(tmp_path / "m.json"))
    msg = str(exc.value)
    assert "site Q09" in msg and "Q09_2020-01-01.csv" in msg
    for value in row.split(","):
        assert value not in msg.replace("column 'protocol'", ""), value
