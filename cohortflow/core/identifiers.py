"""Recognition of direct identifiers (names, resident registration numbers, phone numbers,
addresses, hospital record numbers) by column header or by content. Never returns values."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

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
    embedded: bool = True,
) -> list[IdentifierColumn]:
    """Columns of an all-text table that look like direct identifiers, by header or content.

    ``exempt`` columns (the local patient ID, pseudonymised later) are skipped. A resident
    registration number or a hyphenated phone number flags a column even when only one cell
    holds it inside free text; other kinds need most cells to match. A Korean-name-
    like column is flagged by content only when it is not a ``coded`` column of the mapping and
    its values are mostly distinct (code lists such as 남/여 are not names).

    ``embedded=False`` (ingest) leaves single identifier cells inside free text to the
    cell-level removal at validation (``detect_kind``); whole identifier columns still count.
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
        inside = embedded and next(
            (k for k, rx in EMBEDDED_PATTERNS.items() if vals.str.contains(rx).any()), None
        )
        if inside:
            found.append(IdentifierColumn(col, inside, "content"))
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


# --- cell-level detection -------------------------------------------------------------------
# Every text cell that is about to leave the restricted zone is checked by ``cell_kinds``:
# each distinct value once, with compiled patterns over the whole set (pandas str methods), so
# a million rows with a few thousand distinct values cost a few thousand regex matches.

#: Kinds of identifier recognised in a single cell, in the order they are reported.
CELL_KINDS = (
    "resident registration number",
    "phone number",
    "e-mail address",
    "date of birth",
    "name",
)
#: What a cell holding an identifier becomes outside ``restricted/``.
MARKER = "[removed: {kind}]"

#: Field contexts: ``free`` text (every kind), ``coded`` text (code lists: no date of birth),
#: ``number`` and ``date`` (their own digits are not identifiers, so bare 13-digit runs need no
#: check digit and a date is not a date of birth), ``label`` (sheet names, headers).
CONTEXTS = ("free", "coded", "number", "date", "label")

# Dashes and separators as typed (hyphen, en/em dash, minus sign, full-width forms are folded
# by NFKC first): all become "-".
_DASHES = str.maketrans({"–": "-", "—": "-", "‒": "-", "−": "-", "‐": "-", "‑": "-", "ー": "-"})
_RRN = re.compile(r"(?<![\d])(\d{2})(\d{2})(\d{2})(\s*[-/.]\s*|\s+)?([1-8])(\d{5})(\d)(?![\d])")
_PHONE = re.compile(
    r"(?<![\d+])(?:\+\s?82[\s.-]?(?:\(0\))?\s?|\(?0)"
    r"(?:1[016789]|2|[3-6][1-5]|70|50[2-8])\)?[\s.-]?\d{3,4}[\s.-]?\d{4}(?![\d])"
)
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+\s?@\s?[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_DOB = re.compile(
    r"(?:\bd\.?\s?o\.?\s?b\b|date\s+of\s+birth|birth\s*-?\s*date|\bborn\b|\bbirthday\b|"
    r"\bbirth\b|생년월일|생일|출생일?|\(생\)|생\s*:)"
    r"[^0-9가-힣]{0,12}(?:on\s+)?"
    r"(?:\d{4}\s*[-./년]\s*\d{1,2}\s*[-./월]\s*\d{1,2}|\d{1,2}\s*[-./]\s*\d{1,2}\s*[-./]\s*\d{2,4}"
    r"|\d{6}(?:\d{2})?(?!\d)|\d{1,2}\s+[A-Za-z]{3,9}\.?\s+\d{4}|[A-Za-z]{3,9}\.?\s+\d{1,2},?\s+\d{4})",
    re.I,
)
#: Surnames of about 97 % of Koreans (Statistics Korea, census 2015), one and two syllables.
KOREAN_SURNAMES = frozenset(
    "김 이 박 최 정 강 조 윤 장 임 한 오 서 신 권 황 안 송 류 유 전 홍 고 문 양 손 배 백 허 남 "
    "심 노 하 곽 성 차 주 우 구 민 나 진 지 엄 채 원 천 방 공 현 함 변 염 여 추 도 소 석 선 설 "
    "마 길 연 위 표 명 기 반 왕 금 옥 육 인 맹 제 모 탁 국 어 은 편 용 예 경 봉 사 부 황보 남궁 "
    "제갈 선우 독고 사공 서문".split()
)
#: Syllables common in Korean given names (the given name of a candidate must use only these).
GIVEN_SYLLABLES = frozenset(
    "민 준 서 연 지 우 현 수 영 호 진 은 윤 하 예 재 성 혁 훈 희 경 정 원 주 빈 아 린 율 도 건 "
    "태 석 철 미 숙 자 순 옥 혜 동 상 용 기 승 형 규 광 남 유 채 소 다 나 가 인 선 란 화 일 해 "
    "한 환 찬 범 욱 웅 종 중 창 택 필 명 문 국 덕 보 봉 복 애 향 실 춘 분 례 의 송 솔 별 새 늘 "
    "름 람 결 온 겸 후 휘 효 열 률 록 여 혁 근 홍 섭 엽 완 곤 균 옥 양 빛 봄 슬 담 설 래 루 리 "
    "라 원 운 훈 흠".split()
)
#: Korean words that look like a surname plus a given name but are clinical or everyday words
#: (tested against every Korean label of the bundled configs and data).
KOREAN_NOT_NAMES = frozenset(
    "여아 남아 남자 여자 남성 여성 남녀 전원 정상 이상 이하 이후 이내 이전 표준 강화 유지 양성 "
    "조기 지연 안정 신경 장기 한국 임상 고열 원인 성인 소아 하지 예정 예후 국소 반복 인정 주기 "
    "기준 정도 정규 정상군 이상무 유지중 강화기 유지기 조기사망 연기 연장 지속 주사 주의 기타 "
    "이상소견 소견 이식 진단 재발 사망 관해 불응 미상 해당없음 있음 없음 예 아니오 유 무 남 여 "
    "성별 신장 체중 최종 최초 초진 추적 이전치료 도중 반응 명확 오전 오후 우측 좌측 양측 전신 "
    "전이 용량 고용량 저용량 고위험 표준위험 중간위험 저위험 고위험군 이차 일차 삼차 차수 "
    "주간 주일 하루 한번 두번 유무 유사 유발 유전 진행 진정 안전 안과 한방 한달 지난 지금 "
    "기간 기존 기록 기능 기상 공고 공여 공여자 방사선 구토 오심 황달 백혈병 백혈구 혈소판 골수 "
    "소실 소변 소아과 내과 외과 연령 연구 연락 연수 연속 원발 원형 인자 인원 인지 인하 인후 "
    "정맥 정기 정지 정해 조절 조정 조직 조혈 주요 주로 주입 지표 지혈 지침 진료 진찰 채혈 채취 "
    "천천 방법 방문 석회 선행 선별 설사 성장 성숙 성공 손상 송환 심장 심한 안면 양호 어지 엄수 "
    "여러 여부 여전 연하 염증 예방 예외 오류 옥시 용해 우선 우연 원래 위험 유리 유효 육안 은행 "
    "이동 이미 이유 이해 임신 장애 전체 전혀 전후 제외 제한 차이 차례 추가 하나 하여 한계 함께 "
    "허용 현재 홍반 황색 도움 마지막 모세포 반일치 반일치가족 형제일치 비혈연일치 관해유도 "
    "부분관해 완전관해 평가불가 미회복 미투여 추적소실 타병원 성명 이름 전화 주민 주소 연락처 "
    "환자 이름 성함 보호자 주민번호 등록번호 모름 모두 불명 나중 나머지 기록없음".split()
)
_HANGUL_TOKEN = re.compile(r"(?<![가-힣])([가-힣]{2,4}?)(?=(?:님|씨|환자|환아|군|양)?(?![가-힣]))")
_ROMAN_SURNAMES = (
    "kim|lee|yi|park|pak|choi|choe|jung|jeong|chung|kang|cho|yoon|yun|jang|chang|lim|han|seo|"
    "suh|shin|kwon|hwang|ahn|song|yoo|ryu|hong|jeon|chun|moon|yang|sohn|bae|baek|paik|heo|huh|"
    "noh|roh|kwak|sung|seong|byun|chae|bang|hyun|nam"
)
_ROMAN_SYL = (
    "min|jun|joon|seo|yeon|yun|yoon|ji|woo|hyun|hyeon|su|soo|young|yeong|ho|jin|eun|ha|ye|jae|"
    "sung|seong|hyuk|hyeok|hoon|hun|hee|kyung|kyeong|jung|jeong|won|ju|joo|bin|rin|yul|do|gun|"
    "geon|tae|seok|suk|cheol|chul|mi|sook|ja|soon|hye|dong|sang|yong|ki|gi|seung|hyung|hyeong|"
    "gyu|kyu|kwang|gwang|nam|yu|yoo|chae|so|da|na|ga|in|sun|seon|ran|hwa|il|hae|ah|ri|ra|han|"
    "woong|wook|uk|beom|bum|chan|hong|jong|myung|myeong|sik|sol|sae|ye|a|o|u"
)
_GIVEN_ROMAN = rf"(?:{_ROMAN_SYL})(?:[-\s]?(?:{_ROMAN_SYL}))"
_ROMAN_NAME = re.compile(
    rf"(?<![A-Za-z])(?:(?:{_ROMAN_SURNAMES}),?\s+{_GIVEN_ROMAN}|{_GIVEN_ROMAN}\s+(?:{_ROMAN_SURNAMES}))"
    r"(?![A-Za-z])",
    re.I,
)
#: Common first names (English-speaking countries, Europe); "Firstname Lastname" in text.
_FIRST_NAMES = (
    "James|John|Robert|Michael|William|David|Richard|Joseph|Thomas|Charles|Christopher|Daniel|"
    "Matthew|Anthony|Donald|Steven|Paul|Andrew|Joshua|Kenneth|Kevin|Brian|George|Timothy|Ronald|"
    "Edward|Jason|Jeffrey|Ryan|Jacob|Gary|Nicholas|Eric|Jonathan|Stephen|Larry|Justin|Scott|"
    "Brandon|Benjamin|Samuel|Gregory|Alexander|Patrick|Jack|Dennis|Jerry|Tyler|Aaron|Henry|Peter|"
    "Adam|Nathan|Zachary|Walter|Kyle|Harold|Carl|Arthur|Lawrence|Albert|Louis|Martin|Hans|Klaus|"
    "Pierre|Jean|Luca|Marco|Juan|Carlos|Mary|Patricia|Jennifer|Linda|Elizabeth|Barbara|Susan|"
    "Jessica|Sarah|Karen|Lisa|Nancy|Betty|Margaret|Sandra|Ashley|Kimberly|Emily|Donna|Michelle|"
    "Carol|Amanda|Melissa|Deborah|Stephanie|Rebecca|Sharon|Laura|Cynthia|Kathleen|Amy|Angela|"
    "Helen|Anna|Brenda|Pamela|Nicole|Emma|Samantha|Katherine|Christine|Rachel|Catherine|Heather|"
    "Maria|Olivia|Sophia|Sophie|Julia|Claire|Marie|Anne|Ellen|Alice|Grace|Chloe|Lucy|Hannah|Jane"
)
_WESTERN_NAME = re.compile(
    rf"(?<![A-Za-z])(?:{_FIRST_NAMES})\s+(?:[A-Z]\.\s+)?(?:[A-Z][a-z]+(?:-[A-Z][a-z]+)?|[A-Z]{{2,}})"
    r"(?![A-Za-z])"
)


def normalise_text(values: pd.Series) -> pd.Series:
    """Text as the detectors see it: NFKC (full-width digits and letters become ASCII), every
    dash a hyphen-minus."""
    return values.astype(str).str.normalize("NFKC").str.translate(_DASHES)


def _valid_rrn(m: pd.DataFrame, *, need_check: bool) -> pd.Series:
    """Which RRN-shaped matches (extractall groups) have a real date part and sex digit, and
    (where required) a valid check digit."""
    yy, mm, dd = (m[i].astype(int) for i in (0, 1, 2))
    sex = m[4].astype(int)
    century = sex.map({1: 1900, 2: 1900, 5: 1900, 6: 1900, 3: 2000, 4: 2000, 7: 2000, 8: 2000})
    born = pd.to_datetime(
        pd.DataFrame({"year": century + yy, "month": mm, "day": dd}), errors="coerce"
    )
    # a birth date in the future is not an RRN (fixes e.g. EAN-13 barcodes 880...)
    ok = born.notna() & (born <= pd.Timestamp.today().normalize())
    digits = (m[0] + m[1] + m[2] + m[4] + m[5]).str.split("", expand=False)
    weights = [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5]
    total = digits.map(lambda ds: sum(int(d) * w for d, w in zip(ds[1:-1], weights, strict=True)))
    foreign = sex >= 5
    check = ((11 - total % 11) % 10).where(~foreign, (13 - total % 11) % 10)
    valid_check = check == m[6].astype(int)
    # RRNs issued from October 2020 end in random digits: no check digit to test
    new_style = born >= pd.Timestamp("2020-10-01")
    delimited = m[3].fillna("") != ""
    if need_check:
        return ok & (delimited | valid_check | new_style)
    return ok


def _rrn_hits(text: pd.Series, *, need_check: bool) -> pd.Series:
    m = text.str.extractall(_RRN)
    if m.empty:
        return pd.Series(False, index=text.index)
    good = _valid_rrn(m.reset_index(drop=True), need_check=need_check).to_numpy()
    hit_rows = m.index.get_level_values(0)[good]
    return pd.Series(text.index.isin(hit_rows), index=text.index)


def _korean_name_hits(text: pd.Series) -> pd.Series:
    tokens = text.str.extractall(_HANGUL_TOKEN)
    if tokens.empty:
        return pd.Series(False, index=text.index)
    tok = tokens[0]
    two = tok.str[:2]
    compound = two.isin(KOREAN_SURNAMES) & (tok.str.len() >= 3)
    given = tok.str[1:].where(~compound, tok.str[2:])
    first = tok.str[:1].isin(KOREAN_SURNAMES) | compound
    given_ok = given.str.len().between(1, 2) & given.map(
        lambda g: all(s in GIVEN_SYLLABLES for s in g)
    )
    name = first & given_ok & ~tok.isin(KOREAN_NOT_NAMES)
    hit_rows = tok.index.get_level_values(0)[name.to_numpy()]
    return pd.Series(text.index.isin(hit_rows), index=text.index)


def detect_kind(values: pd.Series, context: str = "free") -> pd.Series:
    """The kind of identifier each cell holds (first of ``CELL_KINDS`` found), or None.

    Each distinct value is examined once. ``context`` says what the field is (see
    ``CONTEXTS``): a date of birth is only looked for in free text, and a bare 13-digit run
    counts as a resident registration number only with a valid check digit there (RRNs issued
    from October 2020 carry no check digit and count on their date part alone). Values are
    never logged or returned, only kinds.
    """
    if context not in CONTEXTS:
        raise ValueError(f"unknown context {context!r}; known: {CONTEXTS}")
    present = values.notna()
    out = pd.Series(None, index=values.index, dtype=object)
    if not present.any():
        return out
    distinct = pd.Series(pd.unique(values[present].astype(str)))
    distinct = distinct[distinct.str.strip() != ""].reset_index(drop=True)
    if distinct.empty:
        return out
    text = normalise_text(distinct)
    kind = pd.Series(None, index=text.index, dtype=object)
    checks: list[tuple[str, pd.Series]] = [
        (
            "resident registration number",
            _rrn_hits(text, need_check=context in ("free", "coded", "label")),
        ),
        ("phone number", text.str.contains(_PHONE)),
        ("e-mail address", text.str.contains(_EMAIL)),
    ]
    if context == "free":
        checks.append(("date of birth", text.str.contains(_DOB)))
    if context != "number" and context != "date":
        names = (
            _korean_name_hits(text)
            | text.str.contains(_ROMAN_NAME)
            | text.str.contains(_WESTERN_NAME)
        )
        checks.append(("name", names))
    for name, hit in checks:
        kind = kind.where(kind.notna() | ~hit, name)
    lookup = dict(zip(distinct, kind, strict=True))
    out[present] = values[present].astype(str).map(lookup)
    return out.where(out.notna(), None)


def marker(kind: str) -> str:
    """The text that replaces a cell holding an identifier of ``kind``."""
    return MARKER.format(kind=kind)


def safe_header(column: Any, position: int) -> str:
    """A column header fit for an error message: the header itself, or its position when the
    header looks like a cell value (a file without its header row puts a patient's values
    into the headers)."""
    text = str(column)
    looks_like_data = (
        bool(re.search(r"\d{3}", text))
        or detect_kind(pd.Series([text]), "free").iloc[0] is not None
        or "@" in text
        or bool(CONTENT_PATTERNS["address"].search(text))
    )
    return f"column {position}" if looks_like_data else repr(text)
