"""Direct identifiers: recognised by header or content, refused unless dropped, never echoed."""

import pandas as pd
import pytest

from cohortflow.core.errors import SubmissionError
from cohortflow.core.identifiers import scan
from cohortflow.ingest.stage import ingest_site

NAMES = ["김가나", "이다라", "박마바", "최사아"]
RRNS = ["050312-3123456", "070101-4234567", "991231-1345678", "010203-4111111"]


def kinds(df, **kw):
    return {(f.column, f.kind, f.how) for f in scan(df, **kw)}


def test_by_header():
    df = pd.DataFrame(
        {
            "성명": ["x"],
            "Patient Name": ["x"],
            "주민등록번호": ["x"],
            "연락처": ["x"],
            "Address": ["x"],
            "MRN": ["x"],
            "Stem cell source": ["BM"],
            "성별": ["남"],
        }
    )
    assert kinds(df) == {
        ("성명", "name", "header"),
        ("Patient Name", "name", "header"),
        ("주민등록번호", "resident registration number", "header"),
        ("연락처", "phone number", "header"),
        ("Address", "address", "header"),
        ("MRN", "hospital record number", "header"),
    }


def test_by_content():
    df = pd.DataFrame(
        {
            "col1": NAMES,
            "col2": RRNS,
            "col3": ["010-1234-5678", "02-123-4567", "01098765432", ""],
            "col4": [
                "서울특별시 가상구 예시로 12",
                "부산광역시 해운대구 해운대로 3",
                "경기도 수원시 팔달구 예시길 4",
                None,
            ],
            "response": ["완전관해", "부분관해", "불응", "평가불가"],  # coded: not names
            "sex": ["남", "여", "남", "여"],
        }
    )
    assert kinds(df, coded={"response"}) == {
        ("col1", "name", "content"),
        ("col2", "resident registration number", "content"),
        ("col3", "phone number", "content"),
        ("col4", "address", "content"),
    }
    assert kinds(df, exempt={"col2"}, coded={"response"}) == {
        ("col1", "name", "content"),
        ("col3", "phone number", "content"),
        ("col4", "address", "content"),
    }


def test_by_header_variants_and_things_that_are_not_people():
    person = [
        "patient_name",
        "환자 성명",
        "성명(한글)",
        "Name (Korean)",
        "이름",
        "first_name",
        "Surname",
        "lastname",
        "Pt Name",
        "환자이름",
        "name_en",
    ]
    things = [
        "Drug name",
        "Hospital name",
        "Site name",
        "약물 이름",
        "filename",
        "username",
        "Rename flag",
        "Regimen name",
        "Protocol name",
    ]
    df = pd.DataFrame({h: ["x"] for h in person + things})
    assert kinds(df) == {(h, "name", "header") for h in person}


def test_romanised_names_and_identifiers_inside_free_text():
    df = pd.DataFrame(
        {
            "col_a": ["Kim Minjun", "LEE SEO-YEON", "Park, Jiwoo", "Minseo Choi"],
            "comments": ["CR after cycle 1", "family asked: call 010-2345-6789", "", None],
            "memo": ["relapse", "id 050312-3123456 on file", "late", "CR"],
            "regimen": ["Hyper CVAD", "FLAG Ida", "Blinatumomab Mono", "Inotuzumab Ozo"],
            "plain": ["CR after cycle 1", "PR at day 28", "died 2015-03-02", "tel pending"],
            "dates": ["2011-02-28", "2012-03-01", "2013-04-02", "2014-05-03"],
            "wbc": ["12,300", "4500", "1,000,000", "2000"],
        }
    )
    assert kinds(df) == {
        ("col_a", "name", "content"),
        ("comments", "phone number", "content"),
        ("memo", "resident registration number", "content"),
    }


def _site(tmp_path, drop):
    f = tmp_path / "S99_2020-01-01.csv"
    f.write_text(
        "id,이름,주민번호,sex\n"
        + "".join(f"P{i},{n},{r},M\n" for i, (n, r) in enumerate(zip(NAMES, RRNS, strict=True))),
        encoding="utf-8",
    )
    mapping = {
        "site": "S99",
        "file": str(f),
        "local_id": "id",
        "drop": drop,
        "reader": {},
        "columns": {"sex": {"source": "sex"}},
    }
    return f, mapping


def test_refused_unless_dropped_and_values_not_echoed(tmp_path):
    f, mapping = _site(tmp_path, drop=["이름"])
    with pytest.raises(SubmissionError) as exc:
        ingest_site(str(f), mapping, str(tmp_path / "r.parquet"), str(tmp_path / "m.json"))
    msg = str(exc.value)
    assert "site S99" in msg and "file S99_2020-01-01.csv" in msg and "주민번호" in msg
    assert "resident registration number" in msg and "drop" in msg
    for secret in NAMES + RRNS:
        assert secret not in msg
    assert not (tmp_path / "r.parquet").exists()


def test_dropped_identifiers_never_reach_the_raw_copy(tmp_path):
    f, mapping = _site(tmp_path, drop=["이름", "주민번호"])
    ingest_site(str(f), mapping, str(tmp_path / "r.parquet"), str(tmp_path / "m.json"))
    raw = pd.read_parquet(tmp_path / "r.parquet")
    assert "이름" not in raw.columns and "주민번호" not in raw.columns
    blob = raw.to_csv() + (tmp_path / "m.json").read_text(encoding="utf-8")
    for secret in NAMES + RRNS:
        assert secret not in blob
