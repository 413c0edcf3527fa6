"""Onboarding a realistic Korean hospital export nobody prepared: a workbook written here (not a
bundled file) with a title row, two-row merged headers, Korean labels, mixed date styles,
thousands separators, a name column and a remarks column holding a phone number."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from cohortflow.onboard.check import check_mapping, study_for_check
from cohortflow.onboard.draft import MISSING_TOKENS, draft, render
from cohortflow.onboard.needs import study_needs

#: (group title, column name, canonical variable or None) in sheet order.
LAYOUT = [
    (None, "No.", None),
    ("환자 정보", "연구번호", "local_id"),
    ("환자 정보", "성명", None),
    ("환자 정보", "성별", "sex"),
    ("환자 정보", "생년월일", "birth_date"),
    ("환자 정보", "Ht (cm)", "height_cm"),
    ("환자 정보", "Wt (kg)", "weight_kg"),
    ("진단 시", "진단일", "diagnosis_date"),
    ("진단 시", "WBC (/uL)", "wbc"),
    ("진단 시", "면역표현형", "immunophenotype"),
    ("진단 시", "염색체 핵형", "karyotype"),
    ("진단 시", "MLL FISH", "kmt2a_fish"),
    ("재발/불응 시", "진단일", "rr_diagnosis_date"),
    ("재발/불응 시", "질병 상태", "disease_status"),
    ("재발/불응 시", "이전 치료 횟수", "prior_regimens"),
    ("재발/불응 시", "골수 모세포 (%)", "marrow_blasts_pct"),
    ("재발/불응 시", "클로파라빈 투여", "clofarabine_exposed"),
    ("치료", "치료 자료", "treatment_data_available"),
    ("치료", "1주기 약제 (스테로이드 제외)", "first_cycle_agents"),
    ("치료", "반응", "induction_response"),
    ("이식", "HSCT 일자", "hsct_date"),
    ("이식", "공여자", "hsct_donor"),
    ("이식", "이식원", "hsct_source"),
    ("추적", "재발일", "relapse_date"),
    ("추적", "사망일", "death_date"),
    ("추적", "최종 FU", "last_followup_date"),
    (None, "비고", None),
]
D = dt.datetime
# one row per patient, in LAYOUT order (without the row number)
PATIENTS = [
    ["K-101", "홍길동", "남", "2001.03.05", "152.3", "41.2", D(2009, 5, 2), "12,300", "B세포",
     "46,XY[20]", "음성", "2012-1-10", "재발", "2", "60", "아니오", "유", "VCR, Ara-C", "완전관해",
     "2012.06.01", "형제일치", "골수", "-", "-", "2016.10.01", ""],
    ["K-102", "김영희", "여", "1998-07-15", "160", "52.5", "2006.02.20", "56,000", "T세포",
     "47,XX,+21[15]", "검사 안함", "2011년 3월 3일", "불응", "3", "85", "아니오", "유", "IDA",
     "불응", "-", "-", "-", "-", "2011.09.09", "2011.09.09", "보호자 연락처 010-2345-6789"],
    ["K-103", "이철수", "남", D(2001, 11, 30), "140.5", "35", "2009.09.09",
     "8,100", "B세포", "46,XY,t(4;11)(q21;q23)[20]", "양성", "2013-02-02", "재발", "2", "45",
     "아니오", "유", "VCR, MTX", "부분관해", "-", "-", "-", "-", "2013.12.12", "2013.12.12", ""],
    ["K-104", "박민지", "여", "1999.01.01", "155", "48", "2007.07.07", "3,300", "혼합형",
     "46,XX,t(9;22)(q34;q11.2)[20]", "음성", "2012.08.08", "재발", "4", "70", "아니오", "무", "-",
     "-", "-", "-", "-", "-", "-", "-", ""],
    ["K-105", "최준호", "남", "2000-12-24", "171.0", "63.1", "2008.04.04", "102,500", "B세포",
     "", "", "2012.03.15", "재발", "2", "92", "아니오", "유", "VCR, Ara-C, IDA",
     "혈소판 미회복 완전관해", "2012.09.20", "비혈연일치", "말초혈액", "2013.05.05", "2014.01.02",
     "2014.01.02", "추적 중"],
    ["K-106", "정수아", "여", "2002.06.30", "138", "30.4", "2010.10.10", "4,450", "미상",
     "45,XX,-7[10]", "검사 안함", "2014.04.04", "불응", "3", "77", "아니오", "유", "Ara-C, IDA",
     "완전관해", "2014.09.09", "제대혈", "제대혈", "-", "-", "2016.12.01", ""],
    ["K-107", "강지훈", "남", "1997.02.14", "175", "70", "2005.08.08", "21,000", "T세포",
     "46,XY[20]", "음성", "2011.11.11", "재발", "5", "66", "아니오", "유", "VCR", "평가불가",
     "-", "-", "-", "-", "2012.02.02", "2012.02.02", ""],
    ["K-108", "윤서연", "여", "2003.09.09", "128", "27", "2011.01.20", "660", "B세포",
     "55,XX,+4,+6,+10,+21[12]", "음성", "2014.12.12", "재발", "2", "51", "아니오", "유",
     "VCR, Ara-C", "부분관해", "-", "-", "-", "-", "2015.08.08", "2015.08.08", ""],
]  # fmt: skip


def write_export(path: Path) -> Path:
    """The hospital's workbook: a title row, group titles merged over column names, data."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "환자목록"
    ws.cell(1, 1, "○○대학교병원 소아청소년과 재발성/불응성 ALL 환자 자료 (2017.03 추출)")
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=8)
    col = 1
    while col <= len(LAYOUT):
        group = LAYOUT[col - 1][0]
        end = col
        while end < len(LAYOUT) and LAYOUT[end][0] == group and group is not None:
            end += 1
        if group is None:  # a single name over both header rows
            ws.cell(2, col, LAYOUT[col - 1][1])
            ws.merge_cells(start_row=2, start_column=col, end_row=3, end_column=col)
        else:
            ws.cell(2, col, group)
            if end > col:
                ws.merge_cells(start_row=2, start_column=col, end_row=2, end_column=end)
            for c in range(col, end + 1):
                ws.cell(3, c, LAYOUT[c - 1][1])
        col = end + 1
    for i, row in enumerate(PATIENTS, start=1):
        ws.append([i, *row])
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def _header(group: str | None, name: str) -> str:
    return name if group is None else f"{group} / {name}"


EXPECTED = {var: _header(g, n) for g, n, var in LAYOUT if var and var != "local_id"}


@pytest.fixture(scope="module")
def onboarded(tmp_path_factory):
    path = write_export(tmp_path_factory.mktemp("k") / "K10_2017-03-20.xlsx")
    return path, draft(path, site="K10", study="rr_all")


def test_the_export_is_what_the_issue_describes(onboarded):
    path, _ = onboarded
    from openpyxl import load_workbook

    ws = load_workbook(path)["환자목록"]
    assert ws["A1"].value.startswith("○○대학교병원")  # a title row
    merged = {str(r) for r in ws.merged_cells.ranges}
    assert "A1:H1" in merged and "B2:G2" in merged  # group titles merged over names
    assert ws["M2"].value == "재발/불응 시" and ws["M3"].value == "진단일"
    assert ws["H2"].value == "진단 시" and ws["H3"].value == "진단일"
    assert isinstance(ws["H4"].value, dt.datetime) and ws["H5"].value == "2006.02.20"


def test_onboarding_maps_what_the_study_needs_to_the_right_columns(onboarded):
    _, d = onboarded
    m = d.mapping
    assert m["reader"] == {"format": "xlsx", "sheet": "환자목록", "header_row": 3, "header_rows": 2}
    assert m["local_id"] == "환자 정보 / 연구번호"
    assert m["drop"] == ["비고", "환자 정보 / 성명"]  # the name, and remarks with a phone number
    # what rr_all needs (computed from its definition) is in the file, plus HSCT details and FISH
    needed = {v for n in study_needs(study_for_check("rr_all")) for v in n.any_of}
    assert set(EXPECTED) - {"hsct_donor", "hsct_source", "kmt2a_fish"} <= needed
    right = {v for v, col in EXPECTED.items() if m["columns"].get(v, {}).get("source") == col}
    assert len(right) >= len(EXPECTED) - 1, sorted(set(EXPECTED) - right)
    # the group title decides: R/R diagnosis date is not the initial diagnosis date
    assert m["columns"]["rr_diagnosis_date"]["source"] == "재발/불응 시 / 진단일"
    assert m["columns"]["diagnosis_date"]["source"] == "진단 시 / 진단일"
    assert m["columns"]["karyotype"]["source"] == "진단 시 / 염색체 핵형"  # not 'MLL FISH'
    # no wrong mapping left unflagged
    for var, rule in m["columns"].items():
        if EXPECTED.get(var) != rule["source"]:
            assert d.proposals[var].flagged, (var, rule["source"])
    for p in d.proposals.values():
        assert 0 < p.confidence <= 1 and p.evidence


def test_every_code_list_is_filled_and_learned_with_its_source(onboarded):
    _, d = onboarded
    cols = d.mapping["columns"]
    for var, rule in cols.items():
        for code, target in (rule.get("codes") or {}).items():
            assert target != "TODO", (var, code)
            assert code.lower() not in MISSING_TOKENS, (var, code)  # never a missing token
    assert cols["sex"]["codes"] == {"남": "M", "여": "F"}
    assert cols["disease_status"]["codes"] == {"재발": "relapsed", "불응": "refractory"}
    assert cols["treatment_data_available"]["codes"] == {"유": True, "무": False}
    assert cols["induction_response"]["codes"]["혈소판 미회복 완전관해"] == "CRp"
    assert cols["first_cycle_agents"]["separator"] == ","
    assert cols["first_cycle_agents"]["codes"]["Ara-C"] == "cytarabine"
    assert cols["kmt2a_fish"]["codes"] == {"음성": "negative", "양성": "rearranged"}
    assert "검사 안함" in cols["kmt2a_fish"]["missing"]
    assert "미상" in cols["immunophenotype"]["missing"]
    assert "-" in cols["hsct_date"]["missing"]
    assert cols["wbc"]["unit"] == "/uL"
    why = d.code_evidence["disease_status"]["재발"]
    assert "x6" in why and "learned from config/sites/rr_all/S0" in why


def test_unknown_labels_stay_todo_and_are_listed_first(tmp_path):
    """A label no site used (a typo: 비연혈일치 for 비혈연일치) is not guessed."""
    path = tmp_path / "K11.xlsx"
    write_export(path)
    from openpyxl import load_workbook

    wb = load_workbook(path)
    wb.active.cell(4 + 4, 22, "비연혈일치")  # patient 5, column 공여자
    wb.save(path)
    d = draft(path, site="K11", study="rr_all")
    donor = d.mapping["columns"]["hsct_donor"]["codes"]
    assert donor["비연혈일치"] == "TODO" and donor["형제일치"] == "MSD"
    assert any("hsct_donor" in t and "비연혈일치" in t for t in d.decide_first)


def test_the_draft_reads_back_and_shows_no_identifier(onboarded, tmp_path):
    path, d = onboarded
    text = render(d, study="rr_all")
    assert yaml.safe_load(text) == d.mapping
    assert "Nothing flagged" in text and "confidence" in text and "learned from" in text
    for secret in ("홍길동", "김영희", "010-2345-6789", "K-101"):
        assert secret not in text
    # check-mapping has nothing to say about the draft
    (tmp_path / "K10.yaml").write_text(text.replace(str(path), "K10.xlsx"), encoding="utf-8")
    (tmp_path / "K10.xlsx").write_bytes(path.read_bytes())
    problems = check_mapping("K10.yaml", study=study_for_check("rr_all"), root=tmp_path)
    assert [p.render() for p in problems if p.severity == "error"] == []


def test_headers_are_learned_from_the_other_sites_without_built_in_synonyms(onboarded, monkeypatch):
    """With the built-in synonyms of two variables removed, the headers other sites of the
    study map (S04: 질병상태, 치료자료) still find them, and the draft says where from."""
    from cohortflow.onboard import draft as onboard

    path, _ = onboarded
    for var in ("disease_status", "treatment_data_available"):
        monkeypatch.setitem(onboard.SYNONYMS, var, [])
    d = draft(path, site="K10", study="rr_all")
    for var in ("disease_status", "treatment_data_available"):
        assert d.mapping["columns"][var]["source"] == EXPECTED[var]
        assert any("(learned)" in e for e in d.proposals[var].evidence), d.proposals[var]
    without = draft(path, site="K10")  # no study: nothing to learn from
    assert "treatment_data_available" not in without.mapping["columns"]
