"""Onboarding assistant: draft a site mapping from a sample file for a person to review.

Every column is scored against every canonical variable on several kinds of evidence: its
header with and without the group title above it (built-in Korean/English synonyms and
abbreviations, headers other sites of the study already map, the dictionary's descriptions),
the group title itself ("재발/불응 시" makes a "진단일" the R/R diagnosis date) and the values in
the column (dates, numbers, ISCN karyotypes, known code labels). Columns and variables are then
assigned jointly (one variable per column, the best total), so two columns never fight for a
variable first-come. Code lists are proposed for every distinct value, learned from the
study's existing mappings where possible; missing-value tokens are proposed under `missing:`
and never as codes. Each proposal carries a confidence and its evidence, and the draft opens
with what remains to decide.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
import yaml
from scipy.optimize import linear_sum_assignment

from cohortflow.core import dictionary, values
from cohortflow.core.identifiers import scan
from cohortflow.ingest.redcap import redcap_field_labels
from cohortflow.ingest.spss import sav_variable_labels
from cohortflow.ingest.submission import read_submission
from cohortflow.onboard.check import is_date, is_number, known_unit, study_for_check
from cohortflow.onboard.needs import study_needs

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
    "sex": ["sex", "gender", "성별", "성"],
    "birth_date": ["birthdate", "dateofbirth", "dob", "생년월일", "출생일", "생일"],
    "diagnosis_date": [
        "diagnosisdate",
        "dxdate",
        "initialdxdate",
        "dateofdiagnosis",
        "dateofinitialdiagnosis",
        "initialdiagnosisdate",
        "initialdiagnosis",
        "진단일",
        "최초진단일",
        "진단일자",
        "초진단일",
        "진단날짜",
    ],
    "rr_diagnosis_date": [
        "rrdxdate",
        "rrdiagnosisdate",
        "relapsediagnosisdate",
        "dateofrrdiagnosis",
        "dateofrelapse",
        "재발진단일",
        "재발불응진단일",
        "불응진단일",
    ],
    "wbc": ["wbc", "wbcatdiagnosis", "whitebloodcell", "백혈구", "백혈구수", "진단시백혈구"],
    "platelets": ["plt", "platelet", "platelets", "혈소판", "혈소판수"],
    "haemoglobin": ["hb", "hgb", "hemoglobin", "haemoglobin", "혈색소", "헤모글로빈"],
    "immunophenotype": ["immunophenotype", "phenotype", "lineage", "면역표현형"],
    "cns_involvement": ["cns", "cnsinvolvement", "중추신경계침범"],
    "cns_status": ["cnsstatus", "cns상태", "중추신경계상태"],
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
        "염색체핵형",
    ],
    "kmt2a_fish": ["mllfish", "kmt2afish", "fish", "mllfish검사", "fishmll"],
    "kmt2a_pcr": ["mllpcr", "kmt2apcr", "rtpcr", "pcr", "mll유전자검사", "mllrtpcr"],
    "cytogenetics_group": ["cytogeneticsgroup", "cytogeneticsatdx", "세포유전학"],
    "protocol": ["protocol", "치료프로토콜", "프로토콜"],
    "disease_status": ["status", "diseasestatus", "질병상태", "rrstatus"],
    "prior_regimens": ["priorregimens", "previousregimens", "이전치료횟수", "noofpriorregimens"],
    "marrow_blasts_pct": ["marrowblasts", "blasts", "bmblasts", "골수모세포", "골수아세포"],
    "clofarabine_exposed": ["clofarabine", "클로파라빈", "clofarabineexposure"],
    "height_cm": ["height", "ht", "신장", "키"],
    "weight_kg": ["weight", "wt", "bodyweight", "체중", "몸무게"],
    "treatment_data_available": [
        "treatmentdata",
        "treatmentdataavailable",
        "txdata",
        "txdataavailable",
        "치료자료",
        "치료자료유무",
        "치료정보",
    ],
    "first_cycle_agents": [
        "agents",
        "cycle1drugs",
        "cycle1agents",
        "firstcycleagents",
        "1stcycleagents",
        "1차주기약제",
        "1주기약제",
        "약제",
    ],
    "induction_response": ["response", "inductionresponse", "bestresponse", "치료반응", "관해여부"],
    "hsct_date": [
        "hsctdate",
        "transplantdate",
        "sctdate",
        "bmtdate",
        "이식일",
        "조혈모세포이식일",
        "hsct일자",
        "hsct일",
        "이식일자",
        "allohsctdate",
        "hsct",
        "allohsct",
    ],
    "hsct_donor": ["donor", "donortype", "hsctdonor", "공여자", "공여자종류"],
    "hsct_source": [
        "source",
        "stemcellsource",
        "graftsource",
        "hsctsource",
        "이식원",
        "줄기세포원",
    ],
    "hsct_conditioning": ["conditioning", "전처치"],
    "relapse_date": ["relapsedate", "재발일", "재발일자"],
    "death_date": ["deathdate", "dateofdeath", "dod", "사망일", "사망일자"],
    "last_followup_date": [
        "lastfollowup",
        "lastfu",
        "lastfollowupdate",
        "lastcontact",
        "최종추적일",
        "마지막추적일",
        "마지막외래",
        "최종관찰일",
        "최종fu",
        "최종추적",
        "dateoflastfollowup",
        "followupdate",
        "dateoffollowup",
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
        "있음": True,
        "n": False,
        "no": False,
        "아니오": False,
        "무": False,
        "없음": False,
    },
    "kmt2a_fish": {"양성": "rearranged", "positive": "rearranged", "pos": "rearranged",
                   "음성": "negative", "negative": "negative", "neg": "negative"},
    "kmt2a_pcr": {"양성": "rearranged", "positive": "rearranged", "음성": "negative",
                  "negative": "negative", "ptd": "ptd"},
}  # fmt: skip
#: Tokens proposed under `missing:` (never as a code): not done, unknown, not applicable.
MISSING_TOKENS = {
    "-",
    "--",
    "na",
    "n/a",
    "nd",
    "n.d.",
    "?",
    ".",
    "unknown",
    "unk",
    "not done",
    "미상",
    "모름",
    "검사안함",
    "검사 안함",
    "미시행",
    "해당없음",
    "해당 없음",
}

#: Headers that are as likely a row number as a patient ID.
GENERIC_IDS = {"no", "id", "번호", "순번", "연번", ""}
#: Group titles that put a column in the relapsed/refractory episode or at initial diagnosis.
RR_GROUP = re.compile(r"(재발|불응|r/?r\b|relapse|refractory|rr\s*episode)", re.I)
DX_GROUP = re.compile(r"(진단\s*시|초진|initial|at\s*diagnosis|\bdx\b|at\s*dx)", re.I)
#: A variable whose meaning a group title switches: (at-diagnosis variable, R/R variable).
GROUP_SWITCH = [("diagnosis_date", "rr_diagnosis_date")]
#: Proposals below this confidence are flagged for review; below MIN_SCORE not proposed.
SURE = 0.85
MIN_SCORE = 0.35
_ISCN = re.compile(r"^\s*\d{2,3}(~\d{2,3})?,\s*[XY]{1,4}", re.I)
_SPLIT = re.compile(r"\s*[,;+]\s*")
#: Clinical abbreviations in headers, written out before a second try at matching.
ABBREVIATIONS = {
    "dx": "diagnosis",
    "r/r": "rr",
    "fu": "followup",
    "f/u": "followup",
    "ht": "height",
    "wt": "weight",
    "tx": "treatment",
    "bmt": "hsct",
    "sct": "hsct",
    "pt": "patient",
    "pts": "patient",
}
_ABBREVIATION = re.compile(
    r"(?<![a-z])("
    + "|".join(map(re.escape, sorted(ABBREVIATIONS, key=len, reverse=True)))
    + r")(?![a-z])",
    re.I,
)
#: Text in brackets: where a header or variable label states a unit, 'WBC (x10^3/uL)'.
_BRACKETED = re.compile(r"[\(\[]([^)\]]+)[\)\]]")
#: One 'code = label' pair of a legend in a header or variable label: '1=남', '2: F', '0 = No'.
_LEGEND = re.compile(r"(?<![\w.=:])(\d{1,2}|[A-Za-z])\s*[=:]\s*([^\s,;/=:()\[\]]+)")


def normalise_header(text: str) -> str:
    """Lower case without units in brackets, a code legend, spaces or punctuation:
    'WBC (/uL)' -> 'wbc', 'Sex 1=M 2=F' -> 'sex'."""
    t = re.sub(r"[\(\[（].*?[\)\]）]", "", str(text))
    t = _LEGEND.sub("", t) if legend(t) else t
    return re.sub(r"[\s_\-./:%#=,;]+", "", t.lower())


def legend(text: str) -> dict[str, str]:
    """The codes a header or variable label spells out: 'Sex (1=M, 2=F)' -> {'1': 'M', '2': 'F'}.

    At least two 'code = label' pairs with different codes make a legend; else {}.
    """
    pairs = _LEGEND.findall(str(text))
    out = dict(pairs)
    return out if len(pairs) >= 2 and len(out) == len(pairs) else {}


def split_group(header: str) -> tuple[str, str]:
    """('group title', 'name') of a two-row header 'group / name'; ('', header) otherwise.

    Only the reader's ' / ' joint splits; a slash inside a name ('재발/불응 진단일') does not.
    """
    if " / " in str(header):
        group, _, name = str(header).rpartition(" / ")
        return group.strip(), name.strip()
    return "", str(header).strip()


def expand_abbreviations(header: str) -> str:
    """The header with common clinical abbreviations written out: 'Date of R/R Dx' ->
    'Date of rr diagnosis', 'FU date' -> 'followup date', 'BMT' -> 'hsct'."""
    return _ABBREVIATION.sub(lambda m: ABBREVIATIONS[m.group(1).lower()], str(header))


def match_header(header: str) -> str | None:
    """Canonical variable a header names by built-in synonyms (with or without its group
    title, abbreviations as written or spelled out): exact synonym first, then a unique
    containment of a synonym of 3+ characters."""
    return _match_header(header) or _match_header(expand_abbreviations(header))


def _match_header(header: str) -> str | None:
    _group, name = split_group(header)
    for key in dict.fromkeys([normalise_header(header), normalise_header(name)]):
        for var, words in SYNONYMS.items():
            if key in words:
                return var
    key = normalise_header(name)
    hits = {var for var, words in SYNONYMS.items() for w in words if len(w) >= 3 and w in key}
    return hits.pop() if len(hits) == 1 else None


@dataclass
class Learned:
    """What the study's existing mappings teach: header and code synonyms with their source."""

    headers: dict[str, dict[str, str]] = field(default_factory=dict)  # norm -> {var: file}
    codes: dict[str, dict[str, tuple[Any, str]]] = field(default_factory=dict)  # var -> label

    @classmethod
    def from_study(cls, study: str | None, root: Path = dictionary.REPO_ROOT) -> Learned:
        """Learn from every mapping the study lists (none if ``study`` is None)."""
        out = cls()
        if not study:
            return out
        path = root / "config" / "studies" / f"{study}.yaml"
        sites = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("sites") or {}
        for mfile in sites.values():
            try:
                m = yaml.safe_load((root / mfile).read_text(encoding="utf-8"))
            except OSError:
                continue
            for var, rule in (m.get("columns") or {}).items():
                if "." in var:
                    continue
                _group, name = split_group(rule["source"])
                for key in dict.fromkeys(
                    [normalise_header(rule["source"]), normalise_header(name)]
                ):
                    if key:
                        out.headers.setdefault(key, {}).setdefault(var, mfile)
                for label, target in (rule.get("codes") or {}).items():
                    low = str(label).strip().lower()
                    if low in MISSING_TOKENS:
                        continue
                    out.codes.setdefault(var, {}).setdefault(low, (target, mfile))
        return out


@dataclass
class Proposal:
    """One proposed column -> variable match with its confidence and evidence."""

    variable: str
    column: str
    confidence: float
    evidence: list[str]

    @property
    def flagged(self) -> bool:
        """Whether a reviewer must check this match before use."""
        return self.confidence < SURE


@dataclass
class Draft:
    """A draft mapping with everything the reviewer needs."""

    mapping: dict[str, Any]
    unmapped: list[str]
    notes: list[str]
    proposals: dict[str, Proposal]
    code_evidence: dict[str, dict[str, str]]  # var -> value -> "x3, learned from ..."
    decide_first: list[str]


def _profile(s: pd.Series, codes: dict[str, str] | None = None) -> dict[str, Any]:
    """Shares of dates, numbers, ISCN strings among the filled cells of a column and its
    distinct values, read through ``codes`` (a header's legend) when it covers most cells."""
    cells = s.dropna().astype(str).str.strip()
    cells = cells[(cells != "") & ~cells.str.lower().isin(MISSING_TOKENS)]
    cells = cells[~cells.map(values.is_missing)]
    n = len(cells)

    def share(f: Any) -> float:
        return float(np.mean([f(t) for t in cells])) if n else 0.0

    def a_date(t: str) -> bool:
        if re.fullmatch(r"\d{1,5}(\.\d+)?", t) and not re.fullmatch(r"\d{8}", t):
            return False  # a bare number is not taken as a date (Excel serials included)
        return is_date(t)

    distinct = Counter(cells)
    codes = codes or {}
    if codes and sum(k for t, k in distinct.items() if t in codes) < 0.5 * n:
        codes = {}  # the legend does not describe this column's values
    if codes:
        read: Counter = Counter()
        for t, k in distinct.items():
            if codes.get(t, t).lower() not in MISSING_TOKENS:
                read[codes.get(t, t)] += k
        distinct = read
    return {
        "n": n,
        "date": share(a_date),
        "number": share(is_number),
        "iscn": share(lambda t: bool(_ISCN.match(t))),
        "distinct": {t: int(k) for t, k in distinct.most_common()},
        "legend": codes,
    }


def _header_score(col: str, var: str, learned: Learned) -> tuple[float, list[str]]:
    """Score (0-1) and evidence that a header names ``var``, abbreviations as written or
    spelled out."""
    best = _header_score_as_written(col, var, learned)
    spelled = expand_abbreviations(col)
    if spelled != col:
        score, why = _header_score_as_written(spelled, var, learned)
        if score > best[0]:
            return score, [*why, f"abbreviations read as {spelled!r}"]
    return best


def _header_score_as_written(col: str, var: str, learned: Learned) -> tuple[float, list[str]]:
    group, name = split_group(col)
    full, sub = normalise_header(col), normalise_header(name)
    best, why = 0.0, []
    words = SYNONYMS.get(var, [])
    if full in words:
        best, why = 1.0, [f"header {col!r} is a synonym of {var}"]
    elif sub in words:
        best, why = 0.92, [f"header {name!r} (under group {group!r}) is a synonym of {var}"]
    for key, w in ((full, 0.97), (sub, 0.9)):
        src = learned.headers.get(key, {})
        if var in src and w > best:
            others = set(src) - {var}
            w = w - 0.2 if others else w  # the same header names different variables
            best, why = w, [f"header {key!r} is mapped to {var} in {src[var]} (learned)"]
    if best < 0.6:
        hits = [w for w in words if len(w) >= 3 and w in sub]
        if hits:
            best, why = 0.6, [f"header {name!r} contains {max(hits, key=len)!r} ({var})"]
    if best < 0.4 and len(sub) >= 4 and var in dictionary.columns():
        meaning = dictionary.spec_of(var).get("meaning", "").lower()
        tokens = [t for t in re.findall(r"[a-z]{4,}", str(name).lower()) if t in meaning]
        if tokens:
            best, why = 0.4, [f"header words {tokens} appear in the dictionary's {var}"]
    return best, why


def _value_score(
    var: str, prof: dict[str, Any], learned: Learned
) -> tuple[float, float, list[str]]:
    """(multiplier, bonus, evidence) from the values of a column for ``var``."""
    if var == "local_id" or prof["n"] == 0:
        return 1.0, 0.0, []
    kind = dictionary.spec_of(var)["type"]
    d, num, iscn = prof["date"], prof["number"], prof["iscn"]
    if kind == "date":
        if d >= 0.8:
            return 1.0, 0.05, [f"{d:.0%} of the cells are dates"]
        return (0.2, 0.0, [f"only {d:.0%} of the cells are dates"]) if d < 0.5 else (0.7, 0, [])
    if d >= 0.8:
        return 0.2, 0.0, [f"{d:.0%} of the cells are dates, {var} is not a date"]
    if kind in ("int", "float"):
        if num >= 0.8:
            return 1.0, 0.05, [f"{num:.0%} of the cells are numbers"]
        return 0.3, 0.0, [f"only {num:.0%} of the cells are numbers"]
    if var == "karyotype":
        if iscn >= 0.5:
            return 1.0, 0.3, [f"{iscn:.0%} of the cells are ISCN karyotypes"]
        return 0.6, 0.0, []
    if kind in ("category", "bool"):
        labels = [t.lower() for t in prof["distinct"]]
        known = _known_codes(var)
        learned_codes = learned.codes.get(var, {})
        covered = [t for t in labels if t in known or t in learned_codes]
        share = len(covered) / len(labels) if labels else 0
        if share >= 0.5:
            return 1.0, 0.3 * share, [f"{len(covered)} of {len(labels)} values are {var} codes"]
        if len(labels) > 12:
            return 0.4, 0.0, [f"{len(labels)} distinct values: free text, not codes?"]
    return 1.0, 0.0, []


def _known_codes(var: str) -> dict[str, Any]:
    spec = dictionary.spec_of(var)
    out = {str(a).lower(): a for a in spec.get("allowed", [])}
    out.update(CODE_GUESSES.get("bool", {}) if spec["type"] == "bool" else {})
    out.update(CODE_GUESSES.get(var, {}))
    return out


def _candidates() -> list[str]:
    """Canonical patient variables a site maps (not derived, not lineage)."""
    skip = {"study_id", "site", "wbc_raw", "wbc_unit", "dates_imputed"}
    return [
        v
        for v, spec in dictionary.columns("patients").items()
        if not spec.get("derived") and v not in skip and not v.startswith("source_")
    ]


def _score_matrix(
    cols: list[str], data: pd.DataFrame, learned: Learned, labels: dict[str, str]
) -> tuple[list[str], np.ndarray, dict[tuple[int, int], list[str]]]:
    """Scores (columns x variables, 0-1) and the evidence behind each score.

    ``labels`` are the variable labels of a format that has them (SPSS, REDCap): a column is
    matched on its name and on its label, and a code legend is read from either.
    """
    variables = _candidates()
    scores = np.zeros((len(cols), len(variables)))
    evidence: dict[tuple[int, int], list[str]] = {}
    for i, col in enumerate(cols):
        label = labels.get(col, "")
        prof = _profile(data[col], legend(col) or legend(label))
        for j, var in enumerate(variables):
            s, why = _score(col, label, var, prof, learned)
            if s > 0:
                scores[i, j] = s
                evidence[(i, j)] = why
        _group_decides(i, split_group(col)[0], variables, scores, evidence)
    return variables, np.minimum(scores, 1.0), evidence


def _score(
    col: str, label: str, var: str, prof: dict[str, Any], learned: Learned
) -> tuple[float, list[str]]:
    """Score and evidence that column ``col`` (variable label ``label``) holds ``var``."""
    h, why = _header_score(col, var, learned)
    if label:
        hl, lwhy = _header_score(label, var, learned)
        if hl > h:
            h, why = hl, [w.replace("header", "variable label", 1) for w in lwhy]
    mult, bonus, vwhy = _value_score(var, prof, learned)
    s = h * mult + (bonus if h > 0 else 0.0)
    if h == 0 and var == "karyotype" and prof["iscn"] >= 0.8:
        s, why = 0.7, ["no header match"]
    if h == 0 and var == "sex" and prof["n"] and mult == 1.0 and bonus >= 0.25:
        s, why = 0.7, ["no header match"]
    if prof["legend"] and s > 0:
        shown = ", ".join(f"{k}={v}" for k, v in prof["legend"].items())
        why = why + [f"values read through the legend {shown!r} of the header or label"]
    return s, why + vwhy


def _group_decides(
    i: int,
    group: str,
    variables: list[str],
    scores: np.ndarray,
    evidence: dict[tuple[int, int], list[str]],
) -> None:
    """The group title decides between a variable pair (R/R vs initial diagnosis date)."""
    for dx_var, rr_var in GROUP_SWITCH:
        a, b = variables.index(dx_var), variables.index(rr_var)
        top = max(scores[i, a], scores[i, b])
        if top == 0 or not group:
            continue
        if RR_GROUP.search(group):
            scores[i, b], scores[i, a] = max(top, 0.9), top * 0.3
            evidence[(i, b)] = evidence.get((i, a), []) + [
                f"group {group!r} is the relapsed/refractory episode: {rr_var}"
            ]
        elif DX_GROUP.search(group):
            scores[i, a], scores[i, b] = max(top, 0.9), top * 0.3
            evidence[(i, a)] = evidence.get((i, a), []) + [
                f"group {group!r} is the initial diagnosis: {dx_var}"
            ]


def _assign(
    cols: list[str], data: pd.DataFrame, learned: Learned, labels: dict[str, str]
) -> tuple[dict[str, Proposal], dict[str, str]]:
    """Joint assignment of columns to variables (best total score) and, per column left
    over, the variable it lost to another column."""
    variables, scores, evidence = _score_matrix(cols, data, learned, labels)
    if not cols:
        return {}, {}
    rows, cs = linear_sum_assignment(-(scores**2))  # squared: one strong match beats two weak
    out: dict[str, Proposal] = {}
    taken = set()
    for i, j in zip(rows, cs, strict=True):
        s = float(scores[i, j])
        if s < MIN_SCORE:
            continue
        ev = list(evidence.get((i, j), []))
        ranked = sorted(range(len(variables)), key=lambda k: -scores[i, k])
        second = next((k for k in ranked if k != j), None)
        conf = s
        if second is not None and scores[i, second] > s - 0.1 and scores[i, second] >= MIN_SCORE:
            conf = min(conf, 0.7)
            ev.append(f"close second: {variables[second]} ({scores[i, second]:.2f})")
        rivals = [
            cols[k] for k in range(len(cols)) if k != i and scores[k, j] >= max(MIN_SCORE, s - 0.1)
        ]
        if rivals:
            conf = min(conf, 0.7)
            ev.append(f"other candidate columns: {rivals[:3]}")
        out[variables[j]] = Proposal(variables[j], cols[i], round(conf, 2), ev)
        taken.add(i)
    lost = {}
    for i, col in enumerate(cols):
        if i in taken:
            continue
        j = int(np.argmax(scores[i]))
        if scores[i, j] >= MIN_SCORE:
            lost[col] = variables[j]
    return out, lost


def _split_tokens(cells: pd.Series) -> tuple[str | None, Counter]:
    """The item separator of a multi-valued column (',' ';' '+') and the item counts."""
    text = cells.dropna().astype(str)
    for sep in (",", ";", "+", "/"):
        if text.str.contains(re.escape(sep)).mean() >= 0.2:
            items = Counter(
                t.strip() for v in text for t in v.replace(";", sep).split(sep) if t.strip()
            )
            return sep, items
    return None, Counter(t.strip() for t in text if t.strip())


def _codes(
    var: str, series: pd.Series, learned: Learned, codes_in_header: dict[str, str]
) -> tuple[dict[str, Any], list[str], dict[str, str], str | None]:
    """Proposed codes, missing tokens, evidence per value and separator of a coded column;
    a value the header's legend spells out ('1=남') is read as its label."""
    sep = None
    if var == "first_cycle_agents":
        sep, counts = _split_tokens(series)
    else:
        counts = Counter(t.strip() for t in series.dropna().astype(str) if t.strip())
    known = _known_codes(var)
    taught = learned.codes.get(var, {})
    codes: dict[str, Any] = {}
    missing: list[str] = []
    why: dict[str, str] = {}
    for value, k in sorted(counts.items(), key=lambda x: (-x[1], x[0])):
        label = codes_in_header.get(value, value)
        low = label.lower()
        said = f" ({value}={label} in the header)" if label != value else ""
        if low in MISSING_TOKENS or values.is_missing(value):
            if not values.is_missing(value):
                missing.append(value)
            why[value] = f"x{k}, a missing-value token{said}"
            continue
        if low in taught:
            codes[value], src = taught[low]
            why[value] = f"x{k}, learned from {src}{said}"
        elif low in known:
            codes[value] = known[low]
            kind = "a dictionary value" if str(known[low]).lower() == low else "a known label"
            why[value] = f"x{k}, {kind}{said}"
        else:
            codes[value] = "TODO"
            why[value] = f"x{k}, no known meaning{said}: decide"
    return codes, missing, why, sep


def draft(
    path: str | Path,
    *,
    site: str,
    reader: dict[str, Any] | None = None,
    study: str | None = None,
    root: Path = dictionary.REPO_ROOT,
) -> Draft:
    """A draft mapping with proposals, evidence and what to decide first.

    Values are read out only for coded columns (as code-list suggestions); identifier-like
    columns are put under ``drop`` and their values never read out.
    """
    reader, layout_note = _reader(path, reader)
    res = read_submission(path, reader or None, site=site)
    data = res.data
    cols = [c for c in data.columns if not c.startswith("_source_")]
    labels = _variable_labels(path, res.reader, reader, site)
    learned = Learned.from_study(study, root)
    mapping: dict[str, Any] = {"site": site, "file": str(path)}
    if reader:
        mapping["reader"] = reader
    notes: list[str] = [
        f"read with the {res.reader} reader"
        + (f", encoding {res.encoding}" if res.encoding else "")
        + (f", delimiter {res.delimiter!r}" if res.delimiter else "")
    ] + ([layout_note] if layout_note else [])
    if study:
        notes.append(
            f"learned {len(learned.headers)} header and "
            f"{sum(map(len, learned.codes.values()))} code synonyms from study {study}'s mappings"
        )
    idents = {f.column: f for f in scan(data, exempt=set())}
    local_id, unmapped = _local_id(cols, notes, set(idents), labels)
    idents.pop(local_id, None)
    rest = [c for c in cols if c != local_id and c not in idents and c not in unmapped]
    proposals, lost = _assign(rest, data, learned, labels)
    columns: dict[str, Any] = {}
    code_evidence: dict[str, dict[str, str]] = {}
    decide: list[str] = []
    for var in (v for v in _candidates() if v in proposals):
        p = proposals[var]
        label = labels.get(p.column, "")
        columns[var], why = _rule(var, p, data[p.column], learned, label, decide)
        if why is not None:
            code_evidence[var] = why
        if p.flagged:
            decide.insert(0, f"{var} <- {p.column!r}: confidence {p.confidence}, check it")
    for col, var in lost.items():
        unmapped.append(col)
        decide.append(f"{col!r} also looks like {var} (given to {proposals[var].column!r})")
    unmapped += [c for c in rest if c not in {p.column for p in proposals.values()}]
    unmapped = list(dict.fromkeys(unmapped))
    if study:
        decide[:0] = _unmet_needs(study, root, set(columns))[::-1]  # the last need first
    mapping["local_id"] = local_id or "TODO: column with the site's local patient ID"
    if not local_id:
        decide.insert(0, "local_id: no patient ID column recognised")
    mapping["drop"] = sorted(idents)
    mapping["columns"] = columns
    for f in idents.values():
        notes.append(f"dropped {f.column!r}: looks like a {f.kind} (by {f.how})")
    return Draft(mapping, unmapped, notes, proposals, code_evidence, decide)


def _reader(path: str | Path, reader: dict[str, Any] | None) -> tuple[dict[str, Any], str | None]:
    """The reader options (a workbook's sheet and header rows guessed unless given) and a
    note saying what was guessed."""
    reader = dict(reader or {})
    is_xlsx = reader.get("format") == "xlsx" or str(path).lower().endswith((".xlsx", ".xlsm"))
    if not is_xlsx or "header_row" in reader:
        return reader, None
    layout = guess_xlsx_layout(path, reader.get("sheet"))
    reader = {"format": "xlsx", **layout, **reader}
    if reader["header_rows"] == 1:
        del reader["header_rows"]
    note = (
        f"sheet {layout['sheet']!r}, header on row {layout['header_row']}"
        + (" under merged group titles (2 header rows)" if layout["header_rows"] > 1 else "")
        + " was guessed: check it"
    )
    return reader, note


def _variable_labels(
    path: str | Path, fmt: str, reader: dict[str, Any], site: str
) -> dict[str, str]:
    """Column -> variable label for formats that carry one (SPSS; REDCap's field labels)."""
    if fmt == "sav":
        return sav_variable_labels(Path(path), site=site)
    if fmt == "redcap" and reader.get("dictionary"):
        return redcap_field_labels(Path(reader["dictionary"]))
    return {}


def _rule(
    var: str,
    p: Proposal,
    series: pd.Series,
    learned: Learned,
    label: str,
    decide: list[str],
) -> tuple[dict[str, Any], dict[str, str] | None]:
    """The mapping rule of one proposed variable and the evidence per value (None for a
    column with neither codes nor missing tokens); what the reviewer must decide is appended
    to ``decide``. Code legends and units are read from the header or its variable label."""
    rule: dict[str, Any] = {"source": p.column}
    spec = dictionary.spec_of(var)
    why: dict[str, str] | None = None
    if spec["type"] in ("category", "bool") or var in ("first_cycle_agents", "hsct_donor"):
        codes, missing, why, sep = _codes(var, series, learned, legend(p.column) or legend(label))
        rule.update({"separator": sep} if sep else {})
        rule.update({"codes": codes} if codes else {})
        rule.update({"missing": missing} if missing else {})
        todo = [v for v, t in codes.items() if t == "TODO"]
        if todo:
            decide.append(f"{var}: no meaning known for {len(todo)} value(s) {todo[:5]}")
    else:
        cells = series.dropna().astype(str).str.strip()
        miss = sorted(
            {t for t in cells if t.lower() in MISSING_TOKENS and not values.is_missing(t)}
        )
        if miss:
            rule["missing"] = miss
            why = {t: "a missing-value token" for t in miss}
    if var in ("wbc", "platelets"):
        units = [u.strip() for t in (p.column, label) for u in _BRACKETED.findall(t)]
        unit = next((u for u in units if known_unit(u)), None)
        rule["unit"] = values.normalise_unit(unit) if unit else None
        if rule["unit"] is None:
            rule["unit"] = "TODO: /uL | x10^3/uL | x10^9/L"
            decide.append(f"{var}: unit of {p.column!r} not stated in the header")
    if spec["type"] == "date" and _needs_partial(series):
        rule["partial_dates"] = "mid"
        decide.append(f"{var}: year-month dates found; `partial_dates: mid` proposed")
    return rule, why


def _unmet_needs(study: str, root: Path, mapped: set[str]) -> list[str]:
    """What the study needs that no column was found for."""
    return [
        f"{need.label}: {need.level} by study {study} ({need.used_by[0]}), "
        "no column found: map it or ask the site"
        for need in study_needs(study_for_check(study, root))
        if not need.met(mapped)
    ]


def _needs_partial(series: pd.Series) -> bool:
    cells = series.dropna().astype(str).str.strip()
    return bool(cells.str.fullmatch(r"\d{4}\s*[-./]\s*\d{1,2}\.?|\d{4}\s*년\s*\d{1,2}\s*월").any())


def _local_id(
    cols: list[str], notes: list[str], idents: set[str], labels: dict[str, str] | None = None
) -> tuple[str | None, list[str]]:
    """The local patient ID column (a named ID beats a bare row number; the header or its
    variable label names it) and set-aside ones; a later ID-like column that looks like an
    identifier is left to ``drop``."""
    labels = labels or {}
    local_id = None
    unmapped: list[str] = []
    for col in cols:
        named = "local_id" in (match_header(col), match_header(labels.get(col, "")))
        if not named or (local_id is not None and col in idents):
            continue
        name = normalise_header(col)
        if local_id is None:
            local_id = col
        elif normalise_header(local_id) in GENERIC_IDS and name not in GENERIC_IDS:
            unmapped.append(local_id)
            notes.append(f"{local_id!r} looks like a row number; {col!r} taken as local_id")
            local_id = col
        else:
            unmapped.append(col)
            notes.append(
                f"{col!r} also looks like a patient ID; {local_id!r} was taken as local_id: "
                "swap them if needed, and drop the other if it identifies the patient"
            )
    return local_id, unmapped


def draft_mapping(
    path: str | Path,
    *,
    site: str,
    reader: dict[str, Any] | None = None,
    study: str | None = None,
) -> tuple[dict[str, Any], list[str], list[str]]:
    """A draft mapping, the unmapped columns and notes for the reviewer (see ``draft``)."""
    d = draft(path, site=site, reader=reader, study=study)
    return d.mapping, d.unmapped, d.notes


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
        values_ = [v for v in r if v not in (None, "")]
        if filled[i - 1] >= 0.6 * width and all(isinstance(v, str) for v in values_):
            header_row = i
            break
    header_rows = 1
    if header_row > 1 and any(
        rng.min_row == rng.max_row == header_row - 1 and rng.max_col > rng.min_col
        for rng in ws.merged_cells.ranges
    ):
        header_rows = 2
    return {"sheet": ws.title, "header_row": header_row, "header_rows": header_rows}


def _q(v: Any) -> str:
    """A YAML scalar: true/false for booleans, a double-quoted string otherwise."""
    if isinstance(v, bool):
        return "true" if v else "false"
    return json.dumps(str(v), ensure_ascii=False)


def render(d: Draft, *, study: str | None = None) -> str:
    """The draft as commented YAML: what to decide first, notes, then one block per variable
    with its confidence, evidence and, per code, the count and where its meaning came from."""
    m = d.mapping
    out = [
        f"# DRAFT site mapping for {m['site']}"
        + (f" (study {study})" if study else "")
        + ", written by `python -m cohortflow onboard`.",
        "# Review every line, then run `python -m cohortflow check-mapping` and list the site",
        "# in the study's config/studies/<study>.yaml.",
        "# DECIDE FIRST:" if d.decide_first else "# Nothing flagged; still review every match.",
        *[f"#  {i}. {t}" for i, t in enumerate(d.decide_first, 1)],
        "# Notes:",
        *[f"#  - {n}" for n in d.notes],
        "# Unmapped columns (map them, add them to drop, or leave them out):",
        *[f"#  - {c}" for c in d.unmapped],
        f"site: {_q(m['site'])}",
        f"file: {_q(m['file'])}",
    ]
    if "reader" in m:
        out.append(
            "reader: {" + ", ".join(f"{k}: {_flow(v)}" for k, v in m["reader"].items()) + "}"
        )
    out.append(f"local_id: {_q(m['local_id'])}")
    out.append("drop: [" + ", ".join(_q(c) for c in m["drop"]) + "]")
    out.append("columns:")
    for var, rule in m["columns"].items():
        p = d.proposals.get(var)
        if p:
            level = "CHECK" if p.flagged else "high"
            out.append(
                f"  # {var}: confidence {p.confidence:.2f} ({level}): {'; '.join(p.evidence)}"
            )
        out.append(f"  {var}:")
        why = d.code_evidence.get(var, {})
        for key, val in rule.items():
            if key == "codes":
                out.append("    codes:")
                for code, target in val.items():
                    note = f"  # {why[code]}" if code in why else ""
                    out.append(f"      {_q(code)}: {_q(target)}{note}")
            elif key == "missing":
                notes = "; ".join(f"{t}: {why.get(t, '')}" for t in val if t in why)
                out.append(
                    "    missing: ["
                    + ", ".join(_q(t) for t in val)
                    + "]"
                    + (f"  # {notes}" if notes else "")
                )
            else:
                out.append(f"    {key}: {_q(val)}")
    return "\n".join(out) + "\n"


def _flow(v: Any) -> str:
    return str(v) if isinstance(v, int) and not isinstance(v, bool) else _q(v)


def write_draft(
    path: str | Path,
    out: str | Path,
    *,
    site: str,
    reader: dict[str, Any] | None = None,
    study: str | None = None,
) -> Path:
    """Write the draft mapping YAML with its proposals, evidence and decisions as comments."""
    d = draft(path, site=site, reader=reader, study=study)
    text = render(d, study=study)
    if yaml.safe_load(text) != d.mapping:  # the comments must never change the mapping
        raise RuntimeError("onboard: the rendered draft does not read back as the mapping")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return out
