"""A site in an unseen layout onboarded with the helper plus a reviewed mapping, no code change."""

from pathlib import Path

import pandas as pd
import yaml

from cohortflow.core.config import load_site, resolve_submission
from cohortflow.harmonise.stage import harmonise_site
from cohortflow.ingest.stage import ingest_site
from cohortflow.onboard.draft import draft_mapping, match_header, write_draft
from cohortflow.validate.stage import validate_site

REPO = Path(__file__).resolve().parents[1]
FIX = "tests/fixtures/onboarding/N01_2020-05-01.csv"
SECRETS = [
    "김가나",
    "이다라",
    "박마바",
    "050312-3123456",
    "070101-4234567",
    "991231-1345678",
    "N01-001",
    "N01-002",
    "N01-003",
]


def test_header_synonyms():
    assert match_header("WBC (/uL)") == "wbc"
    assert match_header("백혈구수") == "wbc"
    assert match_header("Date of birth") == "birth_date"
    assert match_header("최종추적일") == "last_followup_date"
    assert match_header("Remarks") is None


def test_draft_mapping(tmp_path):
    mapping, unmapped, notes = draft_mapping(REPO / FIX, site="N01")
    assert mapping["local_id"] == "연구번호"
    assert mapping["drop"] == ["성명", "주민등록번호"]
    cols = mapping["columns"]
    assert set(cols) == {
        "sex",
        "birth_date",
        "diagnosis_date",
        "wbc",
        "karyotype",
        "death_date",
        "last_followup_date",
    }
    assert cols["sex"]["codes"] == {"남자": "M", "여자": "F"}
    assert cols["wbc"] == {"source": "백혈구 (x10^3/uL)", "unit": "x10^3/uL"}
    assert unmapped == ["비고"]
    assert any("delimiter ';'" in n and "utf-8-sig" in n for n in notes)
    out = write_draft(REPO / FIX, tmp_path / "N01.yaml", site="N01")
    text = out.read_text(encoding="utf-8")
    assert yaml.safe_load(text)["local_id"] == "연구번호"
    for secret in SECRETS:
        assert secret not in text  # the draft never shows identifier values


def test_reviewed_mapping_runs_through_the_stages(tmp_path):
    mapping = load_site("tests/fixtures/onboarding/N01.yaml", REPO)
    raw, meta = tmp_path / "raw.parquet", tmp_path / "ingest.json"
    ingest_site(str(REPO / mapping["file"]), mapping, str(raw), str(meta))
    assert "성명" not in pd.read_parquet(raw).columns
    val = tmp_path / "v.parquet"
    validate_site(
        str(raw),
        str(meta),
        mapping,
        True,
        str(val),
        str(tmp_path / "f.csv"),
        str(tmp_path / "s.json"),
    )
    out = tmp_path / "h.parquet"
    harmonise_site(str(val), str(out))
    h = pd.read_parquet(out).sort_values("source_row").reset_index(drop=True)
    assert list(h["sex"]) == ["M", "F", "M"]
    # '1,180' x10^3/uL reads as 1.18 or 1180 x10^3/uL, both plausible: a fatal query to the site
    assert h["wbc"].iloc[0] == 33.9 and h["wbc"].iloc[1:].isna().all()
    findings = pd.read_csv(tmp_path / "f.csv")
    fatal = findings[findings["severity"] == "fatal"]
    assert list(zip(fatal["source_row"], fatal["variable"], fatal["check"], strict=True)) == [
        (3, "wbc", "number_unambiguous")
    ]
    # 46,XX[20] alone: no rearrangement seen by karyotype, not germline (no FISH/PCR)
    assert list(h["kmt2a_status"]) == ["rearranged", "not_seen_by_karyotype", "unknown"]
    assert h.loc[0, "last_followup_date"] == pd.Timestamp("2016-11-15")
    assert h.loc[0, "dates_imputed"] == "last_followup_date: day imputed as 15 (mid rule)"
    assert h.loc[0, "diagnosis_date"] == pd.Timestamp("2011-02-28")
    assert h.loc[2, "diagnosis_date"] == pd.Timestamp("2010-07-04")
    assert list(h["age_at_diagnosis_months"]) == [71, 50, 126]
    for path in [val, out, meta, tmp_path / "f.csv", tmp_path / "s.json"]:
        blob = (
            path.read_bytes()
            if path.suffix != ".parquet"
            else pd.read_parquet(path).to_csv().encode()
        )
        for secret in SECRETS:
            assert secret.encode() not in blob, (path.name, secret)


def _site_mapping(site: str) -> dict:
    """The demo's reviewed mapping as generated (not the committed file a user may edit)."""
    from cohortflow.demo import rr_all

    mapping = yaml.safe_load(rr_all.mapping_yaml(site))
    resolve_submission(mapping)  # the submission in use sets mapping["file"]
    return mapping


def test_draft_of_a_file_with_a_row_number_and_a_patient_number():
    """S06 (CP949 CSV) has 'No.' (a row number) and '환자번호' (the patient ID)."""
    m06 = _site_mapping("S06")
    mapping, unmapped, notes = draft_mapping(REPO / m06["file"], site="S06")
    assert mapping["local_id"] == m06["local_id"] == "환자번호"
    assert "No." in unmapped and any("row number" in n for n in notes)
    assert set(mapping["drop"]) <= set(m06["drop"]) and mapping["drop"]
    assert mapping["columns"]["sex"]["codes"] == {"남아": "M", "여아": "F"}
    for var, rule in mapping["columns"].items():  # every match is the reviewed one
        assert rule["source"] == m06["columns"][var]["source"], var


def test_draft_of_a_workbook_finds_sheet_and_two_row_header(tmp_path):
    """S07: an Instructions sheet before the CRF, group titles merged over the names."""
    from cohortflow.__main__ import main

    m07 = _site_mapping("S07")
    mapping, _, notes = draft_mapping(REPO / m07["file"], site="S07")
    assert mapping["reader"] == {
        "format": "xlsx",
        "sheet": "CRF",
        "header_row": 2,
        "header_rows": 2,
    }
    assert {k: m07["reader"][k] for k in mapping["reader"]} == mapping["reader"]
    assert mapping["local_id"] == m07["local_id"]
    assert any("was guessed" in n for n in notes)
    # matches the reviewer kept are the reviewed sources ('Cytogenetics' was re-pointed from
    # karyotype to cytogenetics_group in review)
    kept = {v: r for v, r in mapping["columns"].items() if v in m07["columns"]}
    assert len(kept) >= 5 and set(mapping["columns"]) - set(kept) == {"karyotype"}
    for var, rule in kept.items():
        assert rule["source"] == m07["columns"][var]["source"], var
    m08 = _site_mapping("S08")  # header on row 3 under title rows, no merged cells
    mapping8, _, _ = draft_mapping(REPO / m08["file"], site="S08")
    assert mapping8["reader"] == {
        "format": "xlsx",
        **{k: m08["reader"][k] for k in ("sheet", "header_row")},
    }
    # explicit layout from the command line wins over the guess
    out = tmp_path / "S07.yaml"
    argv = ["onboard", str(REPO / m07["file"]), "--site", "S07", "-o", str(out)]
    assert main([*argv, "--sheet", "CRF", "--header-row", "2", "--header-rows", "2"]) == 0
    assert yaml.safe_load(out.read_text("utf-8"))["reader"]["header_rows"] == 2
