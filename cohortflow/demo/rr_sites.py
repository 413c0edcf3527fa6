"""How each rr_all site submits its CRFs (the site formats): file format, headers, value labels,
codes, agent spellings, dates, units and the S03 REDCap project. No patient data.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

AGENTS = (
    "vincristine",
    "cytarabine",
    "idarubicin",
    "methotrexate",
    "etoposide",
    "cyclophosphamide",
    "daunorubicin",
    "fludarabine",
    "nelarabine",
    "dasatinib",
    "doxorubicin",
    "ifosfamide",
    "asparaginase",
    "mercaptopurine",
    "rituximab",
    "clofarabine",
)


# --------------------------------------------------------------------------------------------
# Site formats
# --------------------------------------------------------------------------------------------

EXCEL_ORIGIN = dt.date(1899, 12, 30)  # Excel 1900 date system
#: SPSS .sav header: rec_type(4) prod_name(60) layout_code(4) nominal_case_size(4)
#: compression(4) weight_index(4) ncases(4) bias(8), then creation_date(9) "dd Mon yy" and
#: creation_time(8) "hh:mm:ss" (bytes 92-100 and 101-108), then file_label(64).
SAV_CREATION_OFFSET = 92
SAV_CREATION = b"01 Jan 17" + b"00:00:00"
#: Obviously invented Korean names (consecutive syllables of the Korean alphabet), S04 only.
FAKE_NAMES = ("김가나", "이다라", "박마바", "최사아", "정자차", "강카타", "조파하", "윤가다")
#: Invented addresses: real city names, districts and roads that do not exist.
FAKE_CITIES = ("서울시", "부산시", "대전시", "광주시", "인천시")
FAKE_DISTRICTS = ("가상구", "예시구", "모의구")
FAKE_ROADS = ("예시로", "가상로", "샘플길")
#: Identifier columns (keys of SiteFormat.headers), listed under ``drop:`` in the mapping.
IDENTIFIER_KEYS = ("name", "rrn", "phone", "address")


@dataclass
class SiteFormat:
    """How one site writes its CRF: shape, column names, labels, dates, units and quirks.

    ``headers`` maps each canonical key to the column name AS THE PIPELINE'S READER NAMES IT:
    the CSV/XLSX header (for S07 "<group> / <sub>"), the REDCap flattened name (S03) or the
    SPSS variable name (S09). ``labels`` gives each coded value as the reader returns it (for
    S03 and S09 the REDCap choice label or SPSS value label); ``codes`` the numeric code
    actually stored by REDCap/SPSS.
    """

    code: str
    fmt: str  # csv | xlsx | sav | redcap
    submitted: dt.date
    id_format: str  # str.format pattern with {num} and {year}
    headers: dict[str, str]
    labels: dict[str, dict[Any, Any]]  # canonical variable -> {canonical value: site label}
    agents: dict[str, str]  # canonical agent -> site spelling
    agent_sep: str
    date_style: str  # iso | dot | korean | dash_nopad | mixed | excel
    wbc_unit: str  # /uL | x10^3/uL | x10^9/L | column (unit given per patient in a column)
    na_token: str = ""  # written where an item does not apply (no HSCT, alive)
    blank_token: str = ""  # written where no data were submitted
    encoding: str = "utf-8"  # utf-8-sig writes a byte order mark
    newline: str = "\n"
    delimiter: str = ","
    sniff_delimiter: bool = False  # leave the delimiter out of the mapping (the reader sniffs it)
    extension: str = ""  # file extension when not the format name
    wbc_thousands: bool = False  # /uL written with thousands separators ("33,900")
    codes: dict[str, dict[Any, Any]] = field(default_factory=dict)
    title_rows: tuple[str, ...] = ()  # XLSX rows above the header
    group_header: bool = False  # XLSX: merged group titles in the row above the header
    serial_date_vars: frozenset[str] = frozenset()  # XLSX: dates as plain Excel serial numbers
    blank_rows_after: tuple[int, ...] = ()  # XLSX: a blank row after these serial numbers
    partial_lfu: bool = False  # some last follow-up dates as year and month only
    earlier: dt.date | None = None  # date of an earlier submission, superseded
    remarks: dict[str, str] = field(default_factory=dict)
    quirks: str = ""

    def filename_for(self, date: dt.date) -> str:
        """File name of the submission dated ``date``."""
        if self.fmt == "redcap":
            return f"{self.code}_{date.isoformat()}_redcap.csv"
        return f"{self.code}_{date.isoformat()}.{self.extension or self.fmt}"

    @property
    def filename(self) -> str:
        """File name of the submission in use (the newest)."""
        return self.filename_for(self.submitted)

    @property
    def dictionary_filename(self) -> str:
        """REDCap data dictionary file name."""
        return f"{self.code}_{self.submitted.isoformat()}_dictionary.csv"

    @property
    def header_row(self) -> int:
        """1-based row number of the (last) header row."""
        return len(self.title_rows) + 1 + int(self.group_header)


def _with(headers: dict[str, str], after: str, **new: str) -> dict[str, str]:
    """``headers`` with ``new`` columns inserted after the key ``after``."""
    out: dict[str, str] = {}
    for k, v in headers.items():
        out[k] = v
        if k == after:
            out.update(new)
    return out


EN_HEADERS = {
    "local_id": "Patient ID",
    "sex": "Sex",
    "birth_date": "Date of birth",
    "diagnosis_date": "Date of initial diagnosis",
    "immunophenotype": "Immunophenotype",
    "cytogenetics_group": "Initial cytogenetics",
    "rr_diagnosis_date": "Date of R/R diagnosis",
    "disease_status": "Disease status",
    "prior_regimens": "No. of prior regimens",
    "marrow_blasts_pct": "BM blasts (%)",
    "clofarabine_exposed": "Clofarabine exposure",
    "height_cm": "Height (cm)",
    "weight_kg": "Weight (kg)",
    "treatment_data_available": "Treatment data available",
    "first_cycle_agents": "1st cycle agents (excl. steroids)",
    "induction_response": "Best response",
    "hsct_date": "HSCT date",
    "hsct_donor": "Donor type",
    "hsct_source": "Stem cell source",
    "death_date": "Date of death",
    "last_followup_date": "Date of last follow-up",
}
_KO_HEADERS = {
    "serial": "연번",
    "local_id": "환자번호",
    "sex": "성별",
    "birth_date": "생년월일",
    "diagnosis_date": "진단일",
    "immunophenotype": "면역표현형",
    "cytogenetics_group": "세포유전학",
    "rr_diagnosis_date": "재발진단일",
    "disease_status": "질병상태",
    "prior_regimens": "이전치료횟수",
    "marrow_blasts_pct": "골수모세포(%)",
    "clofarabine_exposed": "클로파라빈",
    "height_cm": "신장(cm)",
    "weight_kg": "체중(kg)",
    "treatment_data_available": "치료자료",
    "first_cycle_agents": "1차주기약제",
    "induction_response": "치료반응",
    "hsct_date": "조혈모세포이식일",
    "hsct_donor": "공여자",
    "hsct_source": "이식원",
    "death_date": "사망일",
    "last_followup_date": "최종추적일",
}
_EN_CYTO = {
    "diploid": "Diploid",
    "hypodiploid": "Hypodiploid",
    "hyperdiploid": "Hyperdiploid",
    "t(1;19)": "t(1;19)",
    "t(9;22)": "t(9;22)",
    "other": "Others",
    "unknown": "Unknown",
}
_KO_LABELS: dict[str, dict[Any, Any]] = {
    "sex": {"M": "남", "F": "여"},
    "immunophenotype": {"B": "B세포", "T": "T세포", "mixed": "혼합형", "unknown": "미상"},
    "cytogenetics_group": {
        "diploid": "이배체",
        "hypodiploid": "저이배체",
        "hyperdiploid": "고이배체",
        "t(1;19)": "t(1;19)",
        "t(9;22)": "t(9;22)",
        "other": "기타",
        "unknown": "미상",
    },
    "disease_status": {"relapsed": "재발", "refractory": "불응"},
    "clofarabine_exposed": {True: "예", False: "아니오"},
    "treatment_data_available": {True: "유", False: "무"},
    "induction_response": {
        "CR": "완전관해",
        "CRp": "혈소판 미회복 완전관해",
        "PR": "부분관해",
        "refractory": "불응",
        "not_evaluated": "평가불가",
    },
    "hsct_donor": {
        "MSD": "형제일치",
        "MUD": "비혈연일치",
        "MMUD": "비혈연불일치",
        "haplo": "반일치가족",
        "UCB": "제대혈",
    },
    "hsct_source": {"BM": "골수", "PB": "말초혈액", "CB": "제대혈"},
}
_EN_DONOR = {"MSD": "MSD", "MUD": "MUD", "MMUD": "MMUD", "haplo": "Haplo", "UCB": "UCB"}
_SOURCE = {"BM": "BM", "PB": "PB", "CB": "CB"}
_YES_NO = {True: "Yes", False: "No"}
#: Numeric codes stored by the REDCap (S03) and SPSS (S09) sites; the labels differ per site.
_NUMERIC_CODES: dict[str, dict[Any, Any]] = {
    "sex": {"M": 1, "F": 2},
    "immunophenotype": {"B": 1, "T": 2, "mixed": 3, "unknown": 9},
    "cytogenetics_group": {
        "diploid": 1,
        "hypodiploid": 2,
        "hyperdiploid": 3,
        "t(1;19)": 4,
        "t(9;22)": 5,
        "other": 6,
        "unknown": 9,
    },
    "disease_status": {"relapsed": 1, "refractory": 2},
    "clofarabine_exposed": {True: 1, False: 0},
    "treatment_data_available": {True: 1, False: 0},
    "induction_response": {"CR": 1, "CRp": 2, "PR": 3, "refractory": 4, "not_evaluated": 9},
    "hsct_donor": {"MSD": 1, "MUD": 2, "MMUD": 3, "haplo": 4, "UCB": 5},
    "hsct_source": {"BM": 1, "PB": 2, "CB": 3},
}


def _agents(*spellings: str) -> dict[str, str]:
    """Site spelling table in the order of AGENTS."""
    return dict(zip(AGENTS, spellings, strict=True))


def _ko(**overrides: dict[Any, Any]) -> dict[str, dict[Any, Any]]:
    """Korean labels with per-site overrides."""
    return {**_KO_LABELS, **overrides}


# --- S03: REDCap project ---------------------------------------------------------------------

REDCAP_DICTIONARY_COLUMNS = (
    "Variable / Field Name",
    "Form Name",
    "Section Header",
    "Field Type",
    "Field Label",
    "Choices, Calculations, OR Slider Labels",
    "Field Note",
    "Text Validation Type OR Show Slider Number",
    "Text Validation Min",
    "Text Validation Max",
    "Identifier?",
    "Branching Logic (Show field only if...)",
    "Required Field?",
    "Custom Alignment",
    "Question Number (surveys only)",
    "Matrix Group Name",
    "Matrix Ranking?",
    "Field Annotation",
)
REDCAP_BASELINE = "baseline_arm_1"
REDCAP_FOLLOWUP = "followup_arm_1"
#: Instruments (forms) in order, with the event they are designated for.
REDCAP_FORMS = {
    "demographics": REDCAP_BASELINE,
    "diagnosis": REDCAP_BASELINE,
    "rr_episode": REDCAP_BASELINE,
    "transplant": REDCAP_FOLLOWUP,
    "outcome": REDCAP_FOLLOWUP,
}
REDCAP_REPEATING = "transplant"


@dataclass(frozen=True)
class RedcapField:
    """One REDCap field: dictionary entry plus the canonical variable it carries."""

    name: str
    form: str
    type: str  # text | radio | dropdown | yesno | checkbox | descriptive
    label: str
    var: str | None = None
    section: str = ""
    validation: str = ""
    vmin: str = ""
    vmax: str = ""
    note: str = ""
    branching: str = ""
    required: bool = False
    annotation: str = ""


REDCAP_FIELDS = (
    RedcapField("record_id", "demographics", "text", "Record ID (site patient number)", "local_id"),
    RedcapField(
        "synthetic_notice",
        "demographics",
        "descriptive",
        "SYNTHETIC DATA - NOT REAL PATIENTS (cohortflow demo). No field of this project holds "
        "a direct identifier.",
    ),
    RedcapField("sex", "demographics", "radio", "Sex", "sex", section="Patient", required=True),
    RedcapField(
        "dob", "demographics", "text", "Date of birth", "birth_date", validation="date_ymd"
    ),
    RedcapField(
        "dx_date",
        "diagnosis",
        "text",
        "Date of initial diagnosis",
        "diagnosis_date",
        section="Initial diagnosis",
        validation="date_ymd",
        required=True,
    ),
    RedcapField(
        "wbc_dx",
        "diagnosis",
        "text",
        "WBC at initial diagnosis",
        "wbc",
        validation="number",
        vmin="0",
        vmax="2000",
        note="x10^9/L",
    ),
    RedcapField("immuno", "diagnosis", "dropdown", "Immunophenotype", "immunophenotype"),
    RedcapField(
        "cyto_group", "diagnosis", "dropdown", "Initial cytogenetics", "cytogenetics_group"
    ),
    RedcapField(
        "rr_date",
        "rr_episode",
        "text",
        "Date of R/R diagnosis",
        "rr_diagnosis_date",
        section="Relapsed/refractory episode",
        validation="date_ymd",
        required=True,
    ),
    RedcapField("rr_status", "rr_episode", "radio", "Disease status", "disease_status"),
    RedcapField(
        "n_prior",
        "rr_episode",
        "text",
        "Number of prior regimens",
        "prior_regimens",
        validation="integer",
        vmin="0",
        vmax="20",
    ),
    RedcapField(
        "bm_blast_pct",
        "rr_episode",
        "text",
        "Marrow blasts at R/R diagnosis (%)",
        "marrow_blasts_pct",
        validation="number",
        vmin="0",
        vmax="100",
    ),
    RedcapField(
        "clofarabine",
        "rr_episode",
        "yesno",
        "Any clofarabine (earlier or in the first R/R cycle)?",
        "clofarabine_exposed",
    ),
    RedcapField(
        "height",
        "rr_episode",
        "text",
        "Height (cm)",
        "height_cm",
        validation="number",
        vmin="30",
        vmax="230",
    ),
    RedcapField(
        "weight",
        "rr_episode",
        "text",
        "Weight (kg)",
        "weight_kg",
        validation="number",
        vmin="1",
        vmax="250",
    ),
    RedcapField(
        "tx_data",
        "rr_episode",
        "yesno",
        "Treatment and follow-up data available?",
        "treatment_data_available",
    ),
    RedcapField(
        "agents",
        "rr_episode",
        "checkbox",
        "Agents of the first R/R cycle (other than steroids)",
        "first_cycle_agents",
        branching="[tx_data] = '1'",
    ),
    RedcapField(
        "c1_response",
        "rr_episode",
        "dropdown",
        "Best response to the first R/R cycle",
        "induction_response",
        branching="[tx_data] = '1'",
    ),
    RedcapField(
        "tx_date",
        "transplant",
        "text",
        "Date of allogeneic HSCT",
        "hsct_date",
        section="Allogeneic HSCT (one instance per transplant)",
        validation="date_ymd",
        note="Day 0 (stem cell infusion)",
    ),
    RedcapField("tx_donor", "transplant", "dropdown", "Donor type", "hsct_donor"),
    RedcapField("tx_source", "transplant", "radio", "Stem cell source", "hsct_source"),
    RedcapField(
        "vital_status",
        "outcome",
        "radio",
        "Vital status at last follow-up",
        section="Outcome",
    ),
    RedcapField(
        "death_date",
        "outcome",
        "text",
        "Date of death",
        "death_date",
        validation="date_ymd",
        branching="[vital_status] = '2'",
    ),
    RedcapField(
        "lfu_date",
        "outcome",
        "text",
        "Date of last follow-up",
        "last_followup_date",
        validation="date_ymd",
        note="Date of death for a patient who died",
    ),
)
VITAL_STATUS = ((1, "Alive"), (2, "Dead"))


def _redcap_headers() -> dict[str, str]:
    """Canonical key -> column name after the pipeline's REDCap flattening: fields of the
    repeating instrument as ``field#1`` (first instance), the checkbox as its label column,
    everything else (values in one event only) under its plain name."""
    out = {}
    for f in REDCAP_FIELDS:
        if f.var is not None:
            out[f.var] = f.name + ("#1" if f.form == REDCAP_REPEATING else "")
    return out


SITES: dict[str, SiteFormat] = {
    "S01": SiteFormat(
        code="S01",
        fmt="csv",
        submitted=dt.date(2017, 3, 20),
        earlier=dt.date(2017, 2, 14),
        id_format="HA-{num:04d}",
        headers=_with(
            {**EN_HEADERS, "remarks": "Comments"},
            "diagnosis_date",
            wbc="WBC at diagnosis (/uL)",
        ),
        labels={
            "sex": {"M": "M", "F": "F"},
            "immunophenotype": {"B": "B", "T": "T", "mixed": "Mixed", "unknown": "Unknown"},
            "cytogenetics_group": _EN_CYTO,
            "disease_status": {"relapsed": "Relapsed", "refractory": "Refractory"},
            "clofarabine_exposed": _YES_NO,
            "treatment_data_available": _YES_NO,
            "induction_response": {
                "CR": "CR",
                "CRp": "CRp",
                "PR": "PR",
                "refractory": "Refractory",
                "not_evaluated": "NE",
            },
            "hsct_donor": _EN_DONOR,
            "hsct_source": _SOURCE,
        },
        agents=_agents(
            "VCR",
            "Ara-C",
            "IDA",
            "MTX",
            "VP-16",
            "CPM",
            "DNR",
            "FLU",
            "Nelarabine",
            "Dasatinib",
            "DOX",
            "IFO",
            "L-asp",
            "6-MP",
            "Rituximab",
            "Clofarabine",
        ),
        agent_sep=", ",
        date_style="iso",
        wbc_unit="/uL",
        wbc_thousands=True,
        encoding="utf-8-sig",
        remarks={
            "no_data": "transferred after R/R diagnosis; no treatment data",
            "induction_death": "died during induction",
            "lost": "lost to follow-up",
        },
        quirks="UTF-8 with BOM, comma-separated, ISO dates, empty cells for missing; WBC in /uL "
        'with thousands separators (quoted, e.g. "33,900"); free-text Comments column '
        "(unmapped). Resubmitted: the first file (2017-02-14) lacked one death date and had one "
        "blast % mistyped; the corrected file (2017-03-20) is used.",
    ),
    "S02": SiteFormat(
        code="S02",
        fmt="csv",
        submitted=dt.date(2017, 2, 20),
        id_format="HB{num:05d}",
        headers={
            "local_id": "Local ID",
            "sex": "Gender",
            "birth_date": "DOB",
            "diagnosis_date": "Initial Dx date",
            "wbc": "WBC (x10^3/uL)",
            "rr_diagnosis_date": "R/R Dx date",
            "disease_status": "Status",
            "immunophenotype": "Immunophenotype",
            "cytogenetics_group": "Cytogenetics at Dx",
            "prior_regimens": "Prior regimens (n)",
            "marrow_blasts_pct": "Marrow blasts %",
            "clofarabine_exposed": "Clofarabine (Y/N)",
            "height_cm": "Ht (cm)",
            "weight_kg": "Wt (kg)",
            "treatment_data_available": "Tx data (Y/N)",
            "first_cycle_agents": "Cycle 1 drugs",
            "induction_response": "Response C1",
            "hsct_date": "Allo-HSCT date",
            "hsct_donor": "Donor",
            "hsct_source": "Source",
            "death_date": "Death date",
            "last_followup_date": "Last FU",
        },
        labels={
            "sex": {"M": "M", "F": "F"},
            "immunophenotype": {
                "B": "B-lineage",
                "T": "T-lineage",
                "mixed": "Mixed",
                "unknown": "Unknown",
            },
            "cytogenetics_group": {**_EN_CYTO, "other": "Other", "unknown": "Not done"},
            "disease_status": {"relapsed": "Relapse", "refractory": "Refractory"},
            "clofarabine_exposed": {True: "Y", False: "N"},
            "treatment_data_available": {True: "Y", False: "N"},
            "induction_response": {
                "CR": "CR",
                "CRp": "CRp",
                "PR": "PR",
                "refractory": "NR",
                "not_evaluated": "Not evaluated",
            },
            "hsct_donor": _EN_DONOR,
            "hsct_source": _SOURCE,
        },
        agents=_agents(
            "Vincristine",
            "Cytarabine",
            "Idarubicin",
            "Methotrexate",
            "Etoposide",
            "Cyclophosphamide",
            "Daunorubicin",
            "Fludarabine",
            "Nelarabine",
            "Dasatinib",
            "Doxorubicin",
            "Ifosfamide",
            "L-asparaginase",
            "6-mercaptopurine",
            "Rituximab",
            "Clofarabine",
        ),
        agent_sep="; ",
        date_style="iso",
        wbc_unit="x10^3/uL",
        na_token="NA",
        blank_token="NA",
        delimiter=";",
        quirks="UTF-8, SEMICOLON-delimited (cells holding ';' are quoted), ISO dates, 'NA' for "
        "missing/not applicable, WBC in x10^3/uL, agents as full names separated by ';', "
        "refractory coded 'NR', unknown cytogenetics 'Not done'.",
    ),
    "S03": SiteFormat(
        code="S03",
        fmt="redcap",
        submitted=dt.date(2017, 3, 2),
        id_format="HC-{year:02d}-{num:03d}",
        headers=_redcap_headers(),
        labels={
            "sex": {"M": "Male", "F": "Female"},
            "immunophenotype": {
                "B": "B-lineage",
                "T": "T-lineage",
                "mixed": "Mixed phenotype",
                "unknown": "Unknown",
            },
            "cytogenetics_group": {**_EN_CYTO, "other": "Other"},
            "disease_status": {"relapsed": "Relapsed", "refractory": "Refractory"},
            "clofarabine_exposed": _YES_NO,
            "treatment_data_available": _YES_NO,
            "induction_response": {
                "CR": "CR",
                "CRp": "CRp",
                "PR": "PR",
                "refractory": "Refractory",
                "not_evaluated": "Not evaluated",
            },
            "hsct_donor": {
                "MSD": "Matched sibling donor",
                "MUD": "Matched unrelated donor",
                "MMUD": "Mismatched unrelated donor",
                "haplo": "Haploidentical family donor",
                "UCB": "Unrelated cord blood",
            },
            "hsct_source": {"BM": "Bone marrow", "PB": "Peripheral blood", "CB": "Cord blood"},
        },
        codes=_NUMERIC_CODES,
        agents=_agents(
            "Vincristine",
            "Cytarabine",
            "Idarubicin",
            "Methotrexate",
            "Etoposide",
            "Cyclophosphamide",
            "Daunorubicin",
            "Fludarabine",
            "Nelarabine",
            "Dasatinib",
            "Doxorubicin",
            "Ifosfamide",
            "L-asparaginase",
            "6-Mercaptopurine",
            "Rituximab",
            "Clofarabine",
        ),
        agent_sep="; ",
        date_style="iso",
        wbc_unit="x10^9/L",
        quirks="REDCap raw export + data dictionary. Events baseline_arm_1 (demographics, "
        "diagnosis, R/R episode) and followup_arm_1 (outcome; repeating instrument "
        "'transplant', instance 1 = first HSCT, one patient has a second instance). Coded "
        "radio/dropdown/yesno fields and a checkbox 'agents' (agents___1..16); mapped by the "
        "reader's flattened names (labels, 'agents' = checked labels joined by '; ', "
        "'tx_date#1' = first transplant). WBC in x10^9/L. No identifier fields.",
    ),
    "S04": SiteFormat(
        code="S04",
        fmt="csv",
        submitted=dt.date(2017, 3, 2),
        id_format="HD-{num:04d}",
        headers=_with(
            _with(
                {**_KO_HEADERS, "remarks": "비고"},
                "local_id",
                name="성명",
                rrn="주민등록번호",
            ),
            "diagnosis_date",
            wbc="WBC",
            wbc_unit="WBC단위",
        ),
        labels=_ko(),
        agents=_agents(
            "VCR",
            "Ara-C",
            "IDA",
            "MTX",
            "VP-16",
            "CTX",
            "DNR",
            "FLU",
            "NELA",
            "DASA",
            "ADR",
            "IFO",
            "L-ASP",
            "6-MP",
            "RTX",
            "CLO",
        ),
        agent_sep=", ",
        date_style="dot",
        wbc_unit="column",
        na_token="-",
        blank_token="-",
        encoding="cp949",
        newline="\r\n",
        remarks={
            "no_data": "타병원 전원, 치료자료 없음",
            "induction_death": "관해유도 중 사망",
            "lost": "추적소실",
        },
        quirks="CP949 (Korean Excel), CRLF, Korean headers and labels, dates 2011.02.28, '-' for "
        "missing/not applicable; WBC with a per-patient unit column WBC단위 (/uL or x10^3/uL); "
        "FAKE direct identifiers 성명 (name) and 주민등록번호 (resident registration number), "
        "dropped at ingest; serial-number column 연번 and free-text 비고 (unmapped).",
    ),
    "S05": SiteFormat(
        code="S05",
        fmt="csv",
        submitted=dt.date(2017, 3, 8),
        id_format="HE{num:04d}",
        headers={
            "serial": "연번",
            "local_id": "등록번호",
            "sex": "성별",
            "birth_date": "생년월일",
            "diagnosis_date": "최초진단일",
            "wbc": "백혈구(x10^3/uL)",
            "rr_diagnosis_date": "재발/불응 진단일",
            "disease_status": "질병상태",
            "immunophenotype": "면역표현형",
            "cytogenetics_group": "초진 세포유전학",
            "prior_regimens": "이전 항암요법 수",
            "marrow_blasts_pct": "골수 모세포(%)",
            "clofarabine_exposed": "클로파라빈 투여력",
            "height_cm": "키(cm)",
            "weight_kg": "몸무게(kg)",
            "treatment_data_available": "치료자료 유무",
            "first_cycle_agents": "1주기 약제",
            "induction_response": "1주기 치료반응",
            "hsct_date": "이식일",
            "hsct_donor": "공여자",
            "hsct_source": "이식원",
            "death_date": "사망일",
            "last_followup_date": "마지막 추적일",
        },
        labels=_ko(),
        agents=_agents(
            "빈크리스틴",
            "시타라빈",
            "이다루비신",
            "메토트렉세이트",
            "에토포사이드",
            "사이클로포스파미드",
            "다우노루비신",
            "플루다라빈",
            "넬라라빈",
            "다사티닙",
            "독소루비신",
            "이포스파미드",
            "L-아스파라기나제",
            "머캅토퓨린",
            "리툭시맙",
            "클로파라빈",
        ),
        agent_sep="; ",
        date_style="korean",
        wbc_unit="x10^3/uL",
        encoding="cp949",
        newline="\r\n",
        delimiter="\t",
        sniff_delimiter=True,
        extension="txt",
        partial_lfu=True,
        quirks="CP949, CRLF, TAB-delimited text (.txt), Korean headers, dates '2011년 2월 28일'; "
        "a last follow-up date given as year and month only ('2007년 7월', day imputed as 15), "
        "WBC in x10^3/uL, agents in Korean separated by ';', empty cells for missing.",
    ),
    "S06": SiteFormat(
        code="S06",
        fmt="csv",
        submitted=dt.date(2017, 3, 15),
        id_format="HF-{num:04d}",
        headers=_with(
            _with({**_KO_HEADERS, "serial": "No."}, "birth_date", phone="연락처", address="주소"),
            "diagnosis_date",
            wbc="백혈구(/uL)",
        ),
        labels=_ko(
            sex={"M": "남아", "F": "여아"},
            clofarabine_exposed={True: "투여", False: "미투여"},
            treatment_data_available={True: "있음", False: "없음"},
        ),
        agents=_agents(
            "VCR",
            "AraC",
            "IDR",
            "MTX",
            "ETO",
            "CY",
            "DNR",
            "Flu",
            "Nel",
            "Das",
            "DXR",
            "IFOS",
            "L-ASP",
            "6MP",
            "RTX",
            "CLOF",
        ),
        agent_sep=";",
        date_style="mixed",
        wbc_unit="/uL",
        na_token="해당없음",
        blank_token="",
        encoding="cp949",
        newline="\r\n",
        quirks="CP949, CRLF, Korean headers, dates mixed cell by cell between 2011.02.08 and "
        "2011-2-8, sex 남아/여아, clofarabine 투여/미투여, treatment data 있음/없음, '해당없음' "
        "(not applicable) for no HSCT / alive, empty for no data, agents joined by ';', WBC in "
        "/uL; FAKE phone (연락처) and address (주소) columns, dropped at ingest.",
    ),
    "S07": SiteFormat(
        code="S07",
        fmt="xlsx",
        submitted=dt.date(2017, 3, 21),
        id_format="HG-{num:04d}",
        headers={
            "serial": "No.",
            "local_id": "Patient / ID",
            "sex": "Patient / Sex",
            "birth_date": "Patient / DOB",
            "height_cm": "Patient / Height (cm)",
            "weight_kg": "Patient / Weight (kg)",
            "diagnosis_date": "Diagnosis / Date",
            "wbc": "Diagnosis / WBC (x10^9/L)",
            "immunophenotype": "Diagnosis / Immunophenotype",
            "cytogenetics_group": "Diagnosis / Cytogenetics",
            "rr_diagnosis_date": "R/R episode / Date",
            "disease_status": "R/R episode / Status",
            "prior_regimens": "R/R episode / Prior regimens",
            "marrow_blasts_pct": "R/R episode / BM blasts (%)",
            "clofarabine_exposed": "R/R episode / Clofarabine",
            "treatment_data_available": "R/R episode / Treatment data",
            "first_cycle_agents": "R/R episode / Cycle 1 agents",
            "induction_response": "R/R episode / Best response",
            "hsct_date": "HSCT / Date",
            "hsct_donor": "HSCT / Donor",
            "hsct_source": "HSCT / Source",
            "death_date": "Outcome / Date of death",
            "last_followup_date": "Outcome / Last follow-up",
        },
        labels={
            "sex": {"M": 1, "F": 2},
            "immunophenotype": {"B": "B", "T": "T", "mixed": "Mixed", "unknown": "Unknown"},
            "cytogenetics_group": _EN_CYTO,
            "disease_status": {"relapsed": "Relapsed", "refractory": "Refractory"},
            "clofarabine_exposed": {True: "Y", False: "N"},
            "treatment_data_available": {True: "Y", False: "N"},
            "induction_response": {
                "CR": "CR",
                "CRp": "CRp",
                "PR": "PR",
                "refractory": "Refractory",
                "not_evaluated": "Not evaluated",
            },
            "hsct_donor": _EN_DONOR,
            "hsct_source": _SOURCE,
        },
        agents=_agents(
            "VCR",
            "ARA-C",
            "IDA",
            "MTX",
            "ETOPOSIDE",
            "CYCLO",
            "DAUNO",
            "FLUDA",
            "NELARABINE",
            "DASATINIB",
            "DOXO",
            "IFOSFAMIDE",
            "ASP",
            "6-MP",
            "RITUXIMAB",
            "CLOFARABINE",
        ),
        agent_sep=", ",
        date_style="excel",
        wbc_unit="x10^9/L",
        group_header=True,
        quirks="XLSX, sheets Instructions + CRF with a TWO-ROW HEADER: group titles merged across "
        "their columns in row 1 (Patient, Diagnosis, R/R episode, HSCT, Outcome) over the "
        "column names in row 2, read as '<group> / <name>' ('No.' has no group); Excel dates, "
        "sex 1 = male / 2 = female, WBC in x10^9/L, empty cells for missing.",
    ),
    "S08": SiteFormat(
        code="S08",
        fmt="xlsx",
        submitted=dt.date(2017, 3, 27),
        id_format="HH-{num:04d}",
        headers=_with({**EN_HEADERS, "remarks": "Remarks"}, "diagnosis_date", wbc="WBC (/uL)"),
        labels={
            "sex": {"M": 1, "F": 2},
            "immunophenotype": {
                "B": "B-ALL",
                "T": "T-ALL",
                "mixed": "Mixed phenotype",
                "unknown": "Unknown",
            },
            "cytogenetics_group": _EN_CYTO,
            "disease_status": {"relapsed": 1, "refractory": 2},
            "clofarabine_exposed": {True: 1, False: 0},
            "treatment_data_available": {True: 1, False: 0},
            "induction_response": {"CR": 1, "CRp": 2, "PR": 3, "refractory": 4, "not_evaluated": 9},
            "hsct_donor": _EN_DONOR,
            "hsct_source": _SOURCE,
        },
        agents=_agents(
            "vincristine",
            "cytarabine",
            "idarubicin",
            "methotrexate",
            "etoposide",
            "cyclophosphamide",
            "daunorubicin",
            "fludarabine",
            "nelarabine",
            "dasatinib",
            "doxorubicin",
            "ifosfamide",
            "l-asparaginase",
            "6-mp",
            "rituximab",
            "clofarabine",
        ),
        agent_sep=";",
        date_style="excel",
        wbc_unit="/uL",
        title_rows=(
            "R/R ALL retrospective study - case report form (site S08)",
            "Codes: see Instructions sheet",
        ),
        serial_date_vars=frozenset({"last_followup_date"}),
        blank_rows_after=(1, 3, 3),
        remarks={
            "no_data": "transferred; no further data",
            "induction_death": "induction death",
            "lost": "lost to follow-up",
        },
        quirks="XLSX, Instructions + CRF sheet with two title rows (header on row 3) and BLANK "
        "ROWS between patients; last follow-up dates as plain Excel SERIAL NUMBERS (e.g. 40236, "
        "not date-formatted), other dates real Excel dates; numeric codes: sex 1/2, status "
        "1 = relapsed / 2 = refractory, clofarabine and treatment data 1/0, response 1 = CR, "
        "2 = CRp, 3 = PR, 4 = refractory, 9 = not evaluated; WBC in /uL; agents lower-case "
        "joined by ';'.",
    ),
    "S09": SiteFormat(
        code="S09",
        fmt="sav",
        submitted=dt.date(2017, 4, 3),
        id_format="HI-{num:04d}",
        headers={
            "local_id": "pid",
            "sex": "sex",
            "birth_date": "dob",
            "diagnosis_date": "dxdate",
            "wbc": "wbc",
            "immunophenotype": "immuno",
            "cytogenetics_group": "cyto",
            "rr_diagnosis_date": "rrdate",
            "disease_status": "status",
            "prior_regimens": "nprior",
            "marrow_blasts_pct": "blasts",
            "clofarabine_exposed": "clofa",
            "height_cm": "height",
            "weight_kg": "weight",
            "treatment_data_available": "txdata",
            "first_cycle_agents": "agents",
            "induction_response": "resp",
            "hsct_date": "hsctdate",
            "hsct_donor": "donor",
            "hsct_source": "source",
            "death_date": "deathdt",
            "last_followup_date": "lfudate",
        },
        labels={
            "sex": {"M": "Male", "F": "Female"},
            "immunophenotype": {"B": "B", "T": "T", "mixed": "Mixed", "unknown": "ND"},
            "cytogenetics_group": {**_EN_CYTO, "unknown": "ND"},
            "disease_status": {"relapsed": "Relapsed", "refractory": "Refractory"},
            "clofarabine_exposed": _YES_NO,
            "treatment_data_available": _YES_NO,
            "induction_response": {
                "CR": "CR",
                "CRp": "CRp",
                "PR": "PR",
                "refractory": "Refractory",
                "not_evaluated": "NE",
            },
            "hsct_donor": _EN_DONOR,
            "hsct_source": _SOURCE,
        },
        codes=_NUMERIC_CODES,
        agents=_agents(
            "Vcr",
            "AraC",
            "Ida",
            "Mtx",
            "Etop",
            "Cyclo",
            "Dauno",
            "Fluda",
            "Nelara",
            "Dasat",
            "Doxo",
            "Ifos",
            "Asp",
            "6MP",
            "Ritux",
            "Clofa",
        ),
        agent_sep=", ",
        date_style="spss",
        wbc_unit="x10^3/uL",
        quirks="SPSS .sav: numeric codes with VALUE LABELS (sex 1 = Male / 2 = Female, status, "
        "immunophenotype and cytogenetics with 9 = 'ND' (not done), yes/no 1/0, response, "
        "donor, source) applied by the reader, variable labels, SPSS DATE11 date variables, "
        "system-missing for missing; WBC in x10^3/uL; agents in a string variable separated "
        "by ', '.",
    ),
}
