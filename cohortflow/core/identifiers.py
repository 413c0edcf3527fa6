"""Recognition of direct identifiers (names, resident registration numbers, phone numbers,
addresses, hospital record numbers) by column header or by content. Never returns values."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

HEADER_PATTERNS: dict[str, re.Pattern[str]] = {
    # Korean: 성명/성함 anywhere, 이름 at the start or after 환자 ("이름(한글)", "환자 이름");
    # English: a person's name ("patient_name", "Name (Korean)", "first name", "surname"),
    # not the name of a drug, site or other thing (see NOT_A_PERSON)
    "name": re.compile(
        r"(성명|성함|환자\s*명|^\s*이름|환자\s*이름|한글\s*이름|영문\s*이름|"
        r"(^|[^a-z])(sur|first|last|given|family|full|patient|pt|korean|english)?[\s_.-]*"
        r"names?([^a-z]|$)|^(sur|first|last|given|family|full)name)",
        re.I,
    ),
    "resident registration number": re.compile(
        r"(주민\s*등록\s*번호|주민\s*번호|resident\s*registration|\brrn\b|ssn|"
        r"national\s*id|social\s*security)",
        re.I,
    ),
    "phone number": re.compile(
        r"(전화|연락처|휴대폰|핸드폰|phone|mobile|\btel\b|telephone|\bcell\s*(phone|no|number)\b)",
        re.I,
    ),
    "address": re.compile(r"(주소|거주지|address|street|우편번호|zip\s*code|postcode)", re.I),
    "hospital record number": re.compile(
        r"(병록\s*번호|등록\s*번호|차트\s*번호|\bmrn\b|medical\s*record|hospital\s*(number|no)|"
        r"chart\s*(number|no))",
        re.I,
    ),
}
#: Headers naming a thing, not a person: "drug name", "site name" and the like.
NOT_A_PERSON = re.compile(
    r"(drug|agent|regimen|protocol|site|hospital|institution|cent(er|re)|study|file|sheet|"
    r"variable|test|lab|product|donor\s*type|investigator|physician|doctor|약품|약물|기관|병원)",
    re.I,
)
#: Common Korean surnames in romanisation: "Kim Minjun", "KIM MIN-JUN", "Minjun Kim".
_SURNAMES = (
    "kim|lee|yi|park|pak|choi|choe|jung|jeong|chung|kang|cho|jo|yoon|yun|jang|chang|lim|im|"
    "han|oh|seo|suh|shin|sin|kwon|hwang|ahn|an|song|yoo|yu|ryu|hong|jeon|jun|chun|ko|go|moon|"
    "mun|yang|son|sohn|bae|baek|paik|heo|huh|nam|noh|roh|ha|kwak|sung|seong|cha|joo|ju|woo|"
    "min|jin|byun|chae|won|bang|do|pyo|gil|na|ma|yeo|gu|koo|ku|jee|ji"
)
_GIVEN = r"[a-z]{2,}(?:[-\s][a-z]{2,})?"
#: Patterns that flag a column when any one cell contains them, even inside free text.
EMBEDDED_PATTERNS: dict[str, re.Pattern[str]] = {
    "resident registration number": re.compile(r"(?<!\d)\d{6}\s?-\s?[1-8]\d{6}(?!\d)"),
    "phone number": re.compile(
        r"(?<!\d)(?:\+82[-\s]?)?0?1[016789]-\d{3,4}-\d{4}(?!\d)|(?<!\d)0\d{1,2}-\d{3,4}-\d{4}(?!\d)"
    ),
}
CONTENT_PATTERNS: dict[str, re.Pattern[str]] = {
    "resident registration number": re.compile(r"^\d{6}\s*-?\s*[1-8]\d{6}$"),
    "phone number": re.compile(
        r"^(\+82[-\s]?)?0?1[016789][-\s.]?\d{3,4}[-\s.]?\d{4}$|"
        r"^0\d{1,2}[-\s.]\d{3,4}[-\s.]\d{4}$"
    ),
    "address": re.compile(
        r"(특별시|광역시|[가-힣]+(시|도)\s)\s*[가-힣]+(구|군|시)|[가-힣0-9]+(로|길)\s*\d+"
    ),
    "name": re.compile(
        rf"^[가-힣]{{2,4}}$|^({_SURNAMES})[\s,]+{_GIVEN}$|^{_GIVEN}\s+({_SURNAMES})$", re.I
    ),
}
#: Share of non-empty cells that must match a content pattern to flag a column.
CONTENT_SHARE = 0.8


@dataclass(frozen=True)
class IdentifierColumn:
    """A column recognised as a direct identifier (kind and how it was recognised)."""

    column: str
    kind: str
    how: str


def scan(
    df: pd.DataFrame,
    *,
    exempt: set[str] | frozenset[str] = frozenset(),
    coded: set[str] | frozenset[str] = frozenset(),
) -> list[IdentifierColumn]:
    """Columns of an all-text table that look like direct identifiers, by header or content.

    ``exempt`` columns (the local patient ID, pseudonymised later) are skipped. A resident
    registration number or a hyphenated phone number flags a column even when only one cell
    holds it inside free text; other kinds need most cells to match. A Korean-name-
    like column is flagged by content only when it is not a ``coded`` column of the mapping and
    its values are mostly distinct (code lists such as 남/여 are not names).
    """
    found: list[IdentifierColumn] = []
    for col in df.columns:
        if col in exempt or str(col).startswith("_source_"):
            continue
        header = str(col).strip()
        hit = next((k for k, rx in HEADER_PATTERNS.items() if rx.search(header)), None)
        if hit == "name" and NOT_A_PERSON.search(header):
            hit = None
        if hit:
            found.append(IdentifierColumn(col, hit, "header"))
            continue
        vals = df[col].dropna().astype(str).str.strip()
        vals = vals[vals != ""]
        if len(vals) == 0:
            continue
        embedded = next(
            (k for k, rx in EMBEDDED_PATTERNS.items() if vals.str.contains(rx).any()), None
        )
        if embedded:
            found.append(IdentifierColumn(col, embedded, "content"))
            continue
        for kind, rx in CONTENT_PATTERNS.items():
            share = vals.map(lambda v, rx=rx: bool(rx.search(v))).mean()
            if share < CONTENT_SHARE:
                continue
            if kind == "name" and (
                col in coded or vals.nunique() / len(vals) < 0.7 or len(vals) < 3
            ):
                continue
            found.append(IdentifierColumn(col, kind, "content"))
            break
    return found
