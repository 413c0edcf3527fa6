"""How each rr_all site submits its CRFs (the site formats): file format, headers, value labels,
codes, agent spellings, dates, units and the S03 REDCap project. No patient data.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

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


#: The site formats' data (YAML): per site the fields that differ from the defaults.
SITES_FILE = Path(__file__).with_name("rr_sites.yaml")


def _site_format(code: str, spec: dict[str, Any]) -> SiteFormat:
    """A :class:`SiteFormat` from its entry in ``rr_sites.yaml`` (agents as the site's
    spellings in the order of ``AGENTS``; a REDCap site's headers from its fields)."""
    spec = dict(spec)
    spec["agents"] = dict(zip(AGENTS, spec["agents"].split(), strict=True))
    if spec["fmt"] == "redcap":
        spec["headers"] = _redcap_headers()
    for name, kind in (
        ("title_rows", tuple),
        ("blank_rows_after", tuple),
        ("serial_date_vars", frozenset),
    ):
        if name in spec:
            spec[name] = kind(spec[name])
    return SiteFormat(code=code, **spec)


SITES: dict[str, SiteFormat] = {
    code: _site_format(code, spec)
    for code, spec in yaml.safe_load(SITES_FILE.read_text(encoding="utf-8"))["sites"].items()
}
#: The English headers (S08's, without its WBC and remarks columns).
EN_HEADERS = {k: v for k, v in SITES["S08"].headers.items() if k not in ("wbc", "remarks")}
