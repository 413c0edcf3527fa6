"""Parsers for raw cell text: numbers, dates, booleans, units and karyotypes."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import numpy as np

EXCEL_ORIGIN = dt.date(1899, 12, 30)  # Excel 1900 date system (with its 1900 leap-year bug)
DEFAULT_MISSING = frozenset({"", "na", "n/a", ".", "nan", "null"})

DATE_YMD = re.compile(r"^(\d{4})\s*[-./]\s*(\d{1,2})\s*[-./]\s*(\d{1,2})\.?(?:[ T]00:00(?::00)?)?$")
DATE_KOREAN = re.compile(r"^(\d{4})\s*년\s*(\d{1,2})\s*월\s*(\d{1,2})\s*일$")
DATE_YM = re.compile(r"^(\d{4})\s*[-./]\s*(\d{1,2})\.?$|^(\d{4})\s*년\s*(\d{1,2})\s*월$")
DATE_Y = re.compile(r"^(\d{4})(?:\s*년)?$")
_COMPACT = re.compile(r"^((?:19|20)\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])$")
#: Largest number read as an Excel serial date (2100-12-31); larger numbers are not dates.
EXCEL_SERIAL_MAX = 73415
NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
THOUSANDS = re.compile(r"^[+-]?[1-9]\d{0,2}(,\d{3})+(\.\d+)?$")
#: One comma followed by exactly three digits and nothing else (``1,234``, ``12,345``): a
#: thousands separator or a decimal comma; the text alone cannot say which.
COMMA_AMBIGUOUS = re.compile(r"^[+-]?[1-9]\d{0,2},\d{3}$")
#: A comma that cannot separate thousands (a thousands group has exactly three digits and no
#: group starts a number with ``0``): ``1,5``, ``172,25``, ``0,500``, ``1234,5``.
DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")


def is_missing(text: str | None, extra: frozenset[str] | set[str] = frozenset()) -> bool:
    """True if a cell is empty or one of the missing-value tokens."""
    if text is None:
        return True
    t = str(text).strip()
    return t.lower() in DEFAULT_MISSING or t in extra


def parse_number(text: str) -> float:
    """A float from text such as '33,900', '1.5', '2e3'; ValueError otherwise."""
    t = str(text).strip().replace("\u00a0", "")
    if THOUSANDS.match(t):
        t = t.replace(",", "")
    if not NUMBER.match(t):
        raise ValueError(f"not a number: {text!r}")
    return float(t)


def comma_reading(text: str) -> str | None:
    """How the comma of a number written with one reads (None: no comma, or not a number).

    'thousands' when it can only be a thousands separator (several groups, ``1,234,567``, or
    groups before a decimal point, ``1,234.5``); 'ambiguous' for one comma followed by exactly
    three digits (``1,234``: 1234 or 1.234); 'decimal' when it cannot separate thousands
    (``1,5``, ``0,500``, ``1234,5``): a decimal comma.

    >>> [comma_reading(t) for t in ("1,234,567", "1,234", "1,5", "0,500", "12")]
    ['thousands', 'ambiguous', 'decimal', 'decimal', None]
    """
    t = str(text).strip().replace("\u00a0", "")
    if "," not in t:
        return None
    if COMMA_AMBIGUOUS.match(t):
        return "ambiguous"
    if THOUSANDS.match(t):
        return "thousands"
    if DECIMAL_COMMA.match(t):
        return "decimal"
    return None


def parse_decimal_comma(text: str) -> float:
    """A float from text with a decimal comma (``1,5`` -> 1.5); ValueError otherwise."""
    t = str(text).strip().replace("\u00a0", "")
    if not DECIMAL_COMMA.match(t):
        raise ValueError(f"not a number with a decimal comma: {text!r}")
    return float(t.replace(",", "."))


def thousands_plausible(
    submitted: Any,
    factor: Any,
    low: float | None,
    high: float | None,
    *,
    whole: Any,
) -> np.ndarray:
    """Where an ambiguous ``a,bcd`` cell may be read as the whole number ``abcd`` (vectorised).

    ``submitted`` is the thousands reading in the unit the site wrote (the decimal-comma
    reading is a thousandth of it), ``factor`` converts that unit to the variable's canonical
    unit (1 unless a cell count is converted), ``low``/``high`` the dictionary's range in the
    canonical unit (None: open), ``whole`` where the submitted unit counts whole things (an
    ``int`` variable, a count per uL) so that a decimal reading with three decimals is
    implausible. True where the thousands reading is plausible and the decimal-comma reading
    is not: the one case the comma is read as a thousands separator; anywhere else the cell
    is ambiguous for its unit.

    >>> thousands_plausible([1234, 1234, 12345], [0.001, 1.0, 1.0], 0, 2000,
    ...                     whole=[True, False, False]).tolist()
    [True, False, False]
    """
    x = np.asarray(submitted, dtype=float)
    f = np.broadcast_to(np.asarray(factor, dtype=float), x.shape)
    lo = -np.inf if low is None else float(low)
    hi = np.inf if high is None else float(high)
    whole_unit = np.broadcast_to(np.asarray(whole, dtype=bool), x.shape)
    t_ok = (x * f >= lo) & (x * f <= hi)
    dec = x * f / 1000.0
    # a whole count is never written with three decimals (`1,000` cells/uL is not 1.000)
    d_ok = (dec >= lo) & (dec <= hi) & ~whole_unit
    return t_ok & ~d_ok


def parse_date(text: str, *, partial: str | None = "mid") -> tuple[dt.date, str | None]:
    """A date from ISO, dotted, Korean, YYYYMMDD or Excel-serial text, with an imputation note.

    Partial dates are imputed by the stated rule ``partial``: "mid" (day 15, month 7 for a bare
    year) or "first" (day 1, January); the note says what was imputed, None if nothing. With
    ``partial=None`` (no rule stated) a partial date is refused, never imputed.
    """
    t = str(text).strip()
    if partial is None and (DATE_YM.match(t) or (DATE_Y.match(t) and 1900 <= int(t[:4]) <= 2100)):
        raise ValueError(
            f"partial date {text!r} and no imputation rule: state `partial_dates: mid` or "
            "`partial_dates: first` for this column in the site mapping"
        )
    for rx in (DATE_YMD, DATE_KOREAN):
        m = rx.match(t)
        if m:
            y, mo, d = (int(g) for g in m.groups())
            return dt.date(y, mo, d), None
    m = DATE_YM.match(t)
    if m:
        g = [x for x in m.groups() if x is not None]
        y, mo = int(g[0]), int(g[1])
        day = 15 if partial == "mid" else 1
        return dt.date(y, mo, day), f"day imputed as {day} ({partial} rule)"
    m = DATE_Y.match(t)
    if m and 1900 <= int(m.group(1)) <= 2100:
        y = int(m.group(1))
        md = (7, 1) if partial == "mid" else (1, 1)
        return dt.date(y, *md), f"month and day imputed as {md[0]:02d}-{md[1]:02d} ({partial} rule)"
    m = _COMPACT.match(t)
    if m:  # YYYYMMDD, as hospital systems export: no Excel serial is this large
        y, mo, d = (int(g) for g in m.groups())
        return dt.date(y, mo, d), None
    if NUMBER.match(t):
        serial = float(t)
        if serial.is_integer() and 1 <= serial <= EXCEL_SERIAL_MAX:
            return EXCEL_ORIGIN + dt.timedelta(days=int(serial)), None
        raise ValueError(
            f"not a recognised date form: {text!r} (a number is read as an Excel date serial "
            f"only from 1 to {EXCEL_SERIAL_MAX}, i.e. up to 2100-12-31)"
        )
    raise ValueError(f"not a recognised date form: {text!r}")


#: Unit spellings -> canonical unit label, and factor to x10^9/L for cell counts.
UNIT_ALIASES = {
    "/ul": "/uL",
    "/μl": "/uL",
    "/µl": "/uL",
    "/mm3": "/uL",
    "cells/ul": "/uL",
    "/mcl": "/uL",
    "x10^3/ul": "x10^3/uL",
    "10^3/ul": "x10^3/uL",
    "k/ul": "x10^3/uL",
    "x10^3/μl": "x10^3/uL",
    "x1000/ul": "x10^3/uL",
    "10^3/μl": "x10^3/uL",
    "x10^3/µl": "x10^3/uL",
    "x10^9/l": "x10^9/L",
    "10^9/l": "x10^9/L",
    "g/l": "x10^9/L",
    "x10e9/l": "x10^9/L",
}
TO_10E9_PER_L = {"/uL": 1e-3, "x10^3/uL": 1.0, "x10^9/L": 1.0}


def normalise_unit(unit: str) -> str:
    """Canonical spelling of a cell-count unit; ValueError if unknown (never guessed)."""
    key = str(unit).strip().lower().replace(" ", "").replace("×", "x")
    if key in UNIT_ALIASES:
        return UNIT_ALIASES[key]
    raise ValueError(f"unknown unit {unit!r}; known: {sorted(set(UNIT_ALIASES.values()))}")


def to_10e9_per_l(value: float, unit: str) -> float:
    """Convert a cell count in ``unit`` to x10^9/L (1 x10^9/L = 1 x10^3/uL = 1,000/uL)."""
    return value * TO_10E9_PER_L[normalise_unit(unit)]


def cell_count_unit(rule: dict[str, Any], row_unit: str | None) -> str | None:
    """The unit text that applies to a mapped cell count: the row's own unit cell when the
    mapping rule names a ``unit_source`` column, else the rule's fixed ``unit``."""
    return row_unit if "unit_source" in rule else rule.get("unit")


def convert_cell_count(value: float, unit: str | None) -> tuple[float, str]:
    """``(value in x10^9/L, canonical unit)`` of a cell count written in ``unit``.

    The one conversion the mapping applies and the trace explains. ValueError when the unit
    is missing or unknown (never guessed).

    >>> convert_cell_count(12500, "/uL")
    (12.5, '/uL')
    """
    canon = normalise_unit(unit) if unit else None
    if canon is None:
        raise ValueError("WBC unit unknown: give `unit` or `unit_source`")
    return value * TO_10E9_PER_L[canon], canon


_TRANSLOCATION = re.compile(  # noqa: E501
    r"t\(\s*([0-9XY]+)\s*;\s*([0-9XY]+)\s*\)\s*\(\s*([pq][0-9.]+)\s*;\s*([pq][0-9.]+)\s*\)", re.I
)
_PTD = re.compile(r"dup\s*\(?\s*mll|mll\s*[-_ ]?ptd|kmt2a\s*[-_ ]?ptd|\bptd\b|dup\s*mll", re.I)
#: A submitted statement of a negative KMT2A test (FISH/PCR): germline.
_GERMLINE = re.compile(r"^(neg(ative)?|not detected|germline|wild[- ]?type)$", re.I)
#: A normal karyotype: no rearrangement SEEN (cryptic ones need FISH/PCR), not germline.
_NORMAL_KARYOTYPE = re.compile(r"^(normal|46,\s*x[xy](\[\d+\])?)$", re.I)
NOT_SEEN = "not_seen_by_karyotype"
_TRANSLOCATION_NO_BANDS = re.compile(r"t\(\s*([0-9XY]+)\s*;\s*([0-9XY]+)\s*\)(?!\s*\()", re.I)
#: Chromosomes whose translocation with 11 is, without bands given, a KMT2A rearrangement:
#: 4 (AFF1), 9 (MLLT3), 19 (MLLT1/ELL), 10 (MLLT10), 6 (AFDN).
_KMT2A_PARTNER_CHROMOSOMES = {"4", "9", "19", "10", "6"}
#: Fusion names, old (MLL-AF4) and current (KMT2A-AFF1, KMT2A::AFF1): partner gene.
_FUSION_PARTNERS = {
    "AF4": "AFF1",
    "AFF1": "AFF1",
    "AF9": "MLLT3",
    "MLLT3": "MLLT3",
    "ENL": "MLLT1",
    "MLLT1": "MLLT1",
    "ELL": "ELL",
    "AF10": "MLLT10",
    "MLLT10": "MLLT10",
    "AF6": "AFDN",
    "AFDN": "AFDN",
    "EPS15": "EPS15",
    "AF1P": "EPS15",
}
_FUSION = re.compile(r"\b(mll|kmt2a)\s*(?:-|::|/)\s*(" + "|".join(_FUSION_PARTNERS) + r")\b", re.I)
_MLL_NEGATIVE = re.compile(
    r"\b(mll|kmt2a)\b[^,;]*\b(neg(ative)?|not\s+(detected|rearranged)|absent|germline)\b|"
    r"\bno\s+(mll|kmt2a)\s+rearr",
    re.I,
)
_MLL_REARR_TEXT = re.compile(r"(mll|kmt2a)\s*(r\b|rearr|\+|positive)", re.I)


def _involves_chr11(karyotype: str) -> bool:
    """True if any abnormality's chromosome list (first parentheses) names chromosome 11."""
    for m in re.finditer(r"[a-z]+\(([0-9XY;]+)\)", karyotype, re.I):
        if "11" in m.group(1).split(";"):
            return True
    return False


def parse_kmt2a(text: str | None) -> tuple[str, str | None]:
    """KMT2A (MLL) status and partner from a karyotype/MLL finding.

    Returns (status, partner): status is 'rearranged' (a translocation involving 11q23, partner
    given as the ISCN translocation; "t(4;11)" without bands for the classic partner chromosomes
    4, 9, 19, 10 and 6; or a fusion name such as MLL-AF4 / KMT2A-AFF1, partner "KMT2A::AFF1"),
    'ptd' (partial tandem duplication, dupMLL: NOT rearranged), 'germline' (a submitted
    negative test: "MLL negative", "KMT2A not rearranged", "negative"), 'not_seen_by_karyotype'
    (a normal karyotype, or one without an 11q23 abnormality: cryptic rearrangements need FISH
    or PCR, DOMAIN.md section 3) or 'unknown' (missing, '-', or unparseable).
    """
    if text is None or str(text).strip() in ("", "-"):
        return "unknown", None
    t = str(text).strip()
    if _MLL_NEGATIVE.search(t):
        return "germline", None
    m = _FUSION.search(t)
    if m:
        partner = _FUSION_PARTNERS[m.group(2).upper()]
        return "rearranged", f"KMT2A::{partner}"
    for clone in re.split(r"/", t):
        for m in _TRANSLOCATION.finditer(clone):
            c1, c2, b1, b2 = m.groups()
            pairs = [(c1, b1), (c2, b2)]
            if any(c == "11" and b.lower().startswith("q23") for c, b in pairs):
                return "rearranged", m.group(0).replace(" ", "")
    for m in _TRANSLOCATION_NO_BANDS.finditer(t):  # "t(4;11)": classic KMT2A partners only
        c1, c2 = m.groups()
        other = c2 if c1 == "11" else c1 if c2 == "11" else None
        if other in _KMT2A_PARTNER_CHROMOSOMES:
            return "rearranged", m.group(0).replace(" ", "")
    if _PTD.search(t):
        return "ptd", None
    if _MLL_REARR_TEXT.search(t):
        return "rearranged", None
    if _GERMLINE.match(t):
        return "germline", None
    if _NORMAL_KARYOTYPE.match(t):
        return NOT_SEEN, None
    if re.match(r"^\d{2,3},\s*[xy]", t, re.I) and not _involves_chr11(t):
        return NOT_SEEN, None
    return "unknown", None


def kmt2a_status(
    karyotype: str | None, fish: str | None = None, pcr: str | None = None
) -> tuple[str, str | None]:
    """KMT2A status and partner combining karyotype, break-apart FISH and molecular results.

    Any method showing a rearrangement wins (partner from the karyotype, or "KMT2A" when only
    FISH/PCR show it); then a PTD (PCR or karyotype text); then a negative FISH or PCR, or a
    submitted negative finding, gives 'germline'; a karyotype alone without an 11q23
    rearrangement gives 'not_seen_by_karyotype' (never 'germline'); else 'unknown'.
    """
    k_status, k_partner = parse_kmt2a(karyotype)
    fish = None if fish is None or str(fish) in ("", "nan", "<NA>") else str(fish)
    pcr = None if pcr is None or str(pcr) in ("", "nan", "<NA>") else str(pcr)
    if k_status == "rearranged":
        return k_status, k_partner
    if "rearranged" in (fish, pcr):
        return "rearranged", None
    if k_status == "ptd" or pcr == "ptd":
        return "ptd", None
    if k_status == "germline" or "negative" in (fish, pcr):
        return "germline", None
    return k_status, None


_MODAL = re.compile(r"^\s*(\d{2,3})(?:\s*[~-]\s*\d{2,3})?\s*,\s*([^,\[/]+)", re.I)


def cytogenetics_group(karyotype: str | None) -> str | None:
    """Initial cytogenetics group of an ISCN karyotype (first clone), or None if not ISCN.

    t(9;22) and t(1;19) first; then the modal number: < 46 hypodiploid, > 46 hyperdiploid;
    46 with only the sex chromosomes diploid; any other abnormality 'other'.
    """
    if karyotype is None or str(karyotype).strip() in ("", "-"):
        return None
    t = str(karyotype).strip()
    if re.search(r"t\(\s*9\s*;\s*22\s*\)", t):
        return "t(9;22)"
    if re.search(r"t\(\s*1\s*;\s*19\s*\)", t):
        return "t(1;19)"
    first = t.split("/")[0]
    m = _MODAL.match(first)
    if not m:
        return None
    n = int(m.group(1))
    if n < 46:
        return "hypodiploid"
    if n > 46:
        return "hyperdiploid"
    rest = re.sub(r"\[\d+\]", "", first[m.end(2) :]).strip(" ,")
    return "diploid" if re.fullmatch(r"x[xy]", m.group(2).strip(), re.I) and not rest else "other"
