"""Onboarding helper: draft a site mapping from a sample file for a person to review."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import openpyxl
import yaml

from cohortflow.core import dictionary
from cohortflow.core.identifiers import scan
from cohortflow.ingest.submission import read_submission

#: Known header spellings (normalised: lower case, no spaces, brackets or punctuation).
SYNONYMS: dict[str, list[str]] = {
    "local_id": [
        "localid",
        "patientid",
        "patientno",
        "ptno",
        "id",
        "recordid",
        "환자번호",
        "연구번호",
        "등록번호",
        "증례번호",
        "subjectid",
        "caseno",
        "no",
    ],
    "sex": ["sex", "gender", "성별"],
    "birth_date": ["birthdate", "dateofbirth", "dob", "생년월일", "출생일"],
    "diagnosis_date": [
        "diagnosisdate",
        "dxdate",
        "initialdxdate",
        "dateofdiagnosis",
        "dateofinitialdiagnosis",
        "initialdiagnosisdate",
        "진단일",
        "최초진단일",
        "진단일자",
        "초진단일",
    ],
    "rr_diagnosis_date": [
        "rrdxdate",
        "rrdiagnosisdate",
        "relapsediagnosisdate",
        "dateofrrdiagnosis",
        "dateofrelapse",
        "재발진단일",
        "재발불응진단일",
    ],
    "wbc": ["wbc", "wbcatdiagnosis", "whitebloodcell", "백혈구", "백혈구수", "진단시백혈구"],
    "immunophenotype": ["immunophenotype", "phenotype", "lineage", "면역표현형"],
    "cns_involvement": ["cns", "cnsinvolvement", "중추신경계침범"],
    "hepatosplenomegaly": ["hepatosplenomegaly", "hsm", "간비종대"],
    "karyotype": [
        "karyotype",
        "cytogenetics",
        "mll",
        "kmt2a",
        "mllgene",
        "mll검사",
        "염색체",
        "염색체검사",
        "핵형",
    ],
    "cytogenetics_group": ["cytogeneticsgroup", "cytogeneticsatdx", "세포유전학"],
    "protocol": ["protocol", "치료프로토콜", "프로토콜"],
    "disease_status": ["status", "diseasestatus", "질병상태"],
    "prior_regimens": ["priorregimens", "previousregimens", "이전치료횟수"],
    "marrow_blasts_pct": ["marrowblasts", "blasts", "bmblasts", "골수모세포"],
    "clofarabine_exposed": ["clofarabine", "클로파라빈"],
    "height_cm": ["height", "ht", "신장", "키"],
    "weight_kg": ["weight", "wt", "bodyweight", "체중", "몸무게"],
    "first_cycle_agents": ["agents", "cycle1drugs", "firstcycleagents", "1차주기약제", "약제"],
    "induction_response": ["response", "inductionresponse", "bestresponse", "치료반응", "관해여부"],
    "hsct_date": ["hsctdate", "transplantdate", "sctdate", "bmtdate", "이식일", "조혈모세포이식일"],
    "hsct_donor": ["donor", "donortype", "공여자"],
    "hsct_source": ["source", "stemcellsource", "graftsource", "이식원"],
    "hsct_conditioning": ["conditioning", "전처치"],
    "relapse_date": ["relapsedate", "dateofrelapse", "재발일"],
    "death_date": ["deathdate", "dateofdeath", "dod", "사망일"],
    "last_followup_date": [
        "lastfollowup",
        "lastfu",
        "lastfollowupdate",
        "lastcontact",
        "최종추적일",
        "마지막추적일",
        "마지막외래",
        "최종관찰일",
    ],
}
CODE_GUESSES: dict[str, dict[str, Any]] = {
    "sex": {
        "m": "M",
        "male": "M",
        "남": "M",
        "남자": "M",
        "f": "F",
        "female": "F",
        "여": "F",
        "여자": "F",
        "남아": "M",
        "여아": "F",
    },
    "bool": {
        "y": True,
        "yes": True,
        "예": True,
        "유": True,
        "+": True,
        "n": False,
        "no": False,
        "아니오": False,
        "무": False,
        "-": False,
    },
}


#: Headers that are as likely a row number as a patient ID.
GENERIC_IDS = {"no", "id", "번호", "순번", ""}


def normalise_header(text: str) -> str:
    """Lower case without units in brackets, spaces or punctuation: 'WBC (/uL)' -> 'wbc'."""
    t = re.sub(r"[\(\[（].*?[\)\]）]", "", str(text)).lower()
    return re.sub(r"[\s_\-./:%#]+", "", t)


def match_header(header: str) -> str | None:
    """Canonical variable a header names (exact synonym first, then a unique containment)."""
    key = normalise_header(header)
    for var, words in SYNONYMS.items():
        if key in words:
            return var
    hits = {var for var, words in SYNONYMS.items() for w in words if len(w) >= 3 and w in key}
    return hits.pop() if len(hits) == 1 else None


def guess_xlsx_layout(path: str | Path, sheet: str | None = None) -> dict[str, Any]:
    """Where the CRF table of a workbook is: ``{"sheet", "header_row", "header_rows"}``.

    The sheet (unless given) is the one with most filled cells; the header is the first row
    filled across most of the table's width with text only; a row just above it holding
    cells merged across several columns makes a two-row header (group titles over names).
    """
    wb = openpyxl.load_workbook(path, data_only=True)
    if sheet is None:
        ws = max(
            wb.worksheets,
            key=lambda w: sum(
                v is not None for row in w.iter_rows(max_row=200, values_only=True) for v in row
            ),
        )
    else:
        ws = wb[sheet]
    rows = [list(r) for r in ws.iter_rows(max_row=60, values_only=True)]
    filled = [sum(v not in (None, "") for v in r) for r in rows]
    width = max(filled, default=0)
    header_row = 1
    for i, r in enumerate(rows[:30], start=1):
        values = [v for v in r if v not in (None, "")]
        if filled[i - 1] >= 0.6 * width and all(isinstance(v, str) for v in values):
            header_row = i
            break
    header_rows = 1
    if header_row > 1 and any(
        rng.min_row == rng.max_row == header_row - 1 and rng.max_col > rng.min_col
        for rng in ws.merged_cells.ranges
    ):
        header_rows = 2
    return {"sheet": ws.title, "header_row": header_row, "header_rows": header_rows}


def draft_mapping(
    path: str | Path, *, site: str, reader: dict[str, Any] | None = None
) -> tuple[dict[str, Any], list[str], list[str]]:
    """A draft mapping, the unmapped columns and notes for the reviewer.

    Values are shown only for coded columns (as code-list suggestions); identifier-like
    columns are put under ``drop`` and their values never read out.
    """
    reader = dict(reader or {})
    layout_note = None
    is_xlsx = reader.get("format") == "xlsx" or str(path).lower().endswith((".xlsx", ".xlsm"))
    if is_xlsx and "header_row" not in reader:
        layout = guess_xlsx_layout(path, reader.get("sheet"))
        reader = {"format": "xlsx", **layout, **reader}
        if reader["header_rows"] == 1:
            del reader["header_rows"]
        layout_note = (
            f"sheet {layout['sheet']!r}, header on row {layout['header_row']}"
            + (" under merged group titles (2 header rows)" if layout["header_rows"] > 1 else "")
            + " was guessed: check it"
        )
    res = read_submission(path, reader or None, site=site)
    data = res.data
    cols = [c for c in data.columns if not c.startswith("_source_")]
    idents = {f.column: f for f in scan(data, exempt=set())}
    mapping: dict[str, Any] = {"site": site, "file": str(path)}
    if reader:
        mapping["reader"] = reader
    notes: list[str] = [
        f"read with the {res.reader} reader"
        + (f", encoding {res.encoding}" if res.encoding else "")
        + (f", delimiter {res.delimiter!r}" if res.delimiter else "")
    ] + ([layout_note] if layout_note else [])
    columns: dict[str, Any] = {}
    unmapped: list[str] = []
    local_id = None
    for col in cols:
        var = match_header(col)
        if var == "local_id" and (
            local_id is None
            or (
                normalise_header(local_id) in GENERIC_IDS
                and normalise_header(col) not in GENERIC_IDS
            )
        ):
            if local_id is not None:  # a bare row number gives way to a named ID
                unmapped.append(local_id)
                notes.append(f"{local_id!r} looks like a row number; {col!r} taken as local_id")
            local_id = col
            idents.pop(col, None)
            continue
        if col in idents:
            continue
        if var == "local_id":  # a second ID-like column: the reviewer decides
            unmapped.append(col)
            notes.append(
                f"{col!r} also looks like a patient ID; {local_id!r} was taken as local_id: "
                "swap them if needed, and drop the other if it identifies the patient"
            )
            continue
        if var is None or var in columns:
            unmapped.append(col)
            continue
        spec = dictionary.spec_of(var)
        rule: dict[str, Any] = {"source": col}
        if spec["type"] in ("category", "bool"):
            values = sorted({str(v) for v in data[col].dropna()})[:30]
            guess = CODE_GUESSES.get(var) or (
                CODE_GUESSES["bool"] if spec["type"] == "bool" else {}
            )
            rule["codes"] = {v: guess.get(v.lower(), "TODO") for v in values}
        if var == "wbc":
            rule["unit"] = "TODO: /uL | x10^3/uL | x10^9/L"
            m = re.search(r"[\(\[]([^)\]]+)[\)\]]", col)
            if m:
                rule["unit"] = m.group(1).strip()
        columns[var] = rule
    mapping["local_id"] = local_id or "TODO: column with the site's local patient ID"
    mapping["drop"] = sorted(idents)
    mapping["columns"] = columns
    for f in idents.values():
        notes.append(f"dropped {f.column!r}: looks like a {f.kind} (by {f.how})")
    return mapping, unmapped, notes


def write_draft(
    path: str | Path, out: str | Path, *, site: str, reader: dict[str, Any] | None = None
) -> Path:
    """Write the draft mapping YAML with the reviewer's notes and unmapped columns as comments."""
    mapping, unmapped, notes = draft_mapping(path, site=site, reader=reader)
    head = [
        f"# DRAFT site mapping for {site}, written by `python -m cohortflow onboard`.",
        "# Review every line: check each match, replace every TODO, then list the site in",
        "# the study's config/studies/<study>.yaml. Notes:",
        *[f"#  - {n}" for n in notes],
        "# Unmapped columns (map them, add them to drop, or leave them out):",
        *[f"#  - {c}" for c in unmapped],
    ]
    body = yaml.safe_dump(mapping, allow_unicode=True, sort_keys=False, width=100)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(head) + "\n" + body, encoding="utf-8")
    return out
