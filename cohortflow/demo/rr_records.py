"""One CRF record per patient written the way a site writes it: dates, numbers, WBC units,
labels, missing-value tokens and the invented direct identifiers of S04 and S06.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from typing import Any

from cohortflow.demo.rr_cohort import SEED, Patient
from cohortflow.demo.rr_sites import (
    EXCEL_ORIGIN,
    FAKE_CITIES,
    FAKE_DISTRICTS,
    FAKE_NAMES,
    FAKE_ROADS,
    SiteFormat,
)

#: Columns written with the site's "not applicable" token (no HSCT, alive) ...
NA_VARS = frozenset({"hsct_date", "hsct_donor", "hsct_source", "death_date"})
#: ... and columns that can be empty because no data were submitted.
BLANK_VARS = NA_VARS | {
    "height_cm",
    "weight_kg",
    "first_cycle_agents",
    "induction_response",
    "last_followup_date",
}
DATE_VARS = (
    "birth_date",
    "diagnosis_date",
    "rr_diagnosis_date",
    "hsct_date",
    "death_date",
    "last_followup_date",
)


def _format_date(d: dt.date, style: str) -> str | dt.date:
    """A date in a site's written form (a date object for XLSX)."""
    if style == "iso":
        return d.isoformat()
    if style == "dot":
        return f"{d.year}.{d.month:02d}.{d.day:02d}"
    if style == "korean":
        return f"{d.year}년 {d.month}월 {d.day}일"
    if style == "dash_nopad":
        return f"{d.year}-{d.month}-{d.day}"
    if style == "excel":
        return d
    raise ValueError(style)


def number_text(x: float) -> str:
    """Plain text for a number: no trailing '.0' on whole numbers."""
    return str(int(x)) if float(x).is_integer() else f"{x:.1f}"


def wbc_value(wbc_per_ul: int, unit: str, *, as_text: bool, thousands: bool = False) -> Any:
    """A WBC (cells/uL) in ``unit``: text for CSV, a number for XLSX/SPSS."""
    if unit == "/uL":
        if not as_text:
            return wbc_per_ul
        return f"{wbc_per_ul:,}" if thousands else str(wbc_per_ul)
    x = wbc_per_ul / 1000  # x10^3/uL = x10^9/L
    return number_text(x) if as_text else round(x, 1)


def rrn_check_digit(first12: str) -> int:
    """Check digit of a (pre-2020) Korean resident registration number."""
    weights = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)
    return (11 - sum(int(c) * w for c, w in zip(first12, weights, strict=True)) % 11) % 10


def _fake_rrn(p: Patient, rng: random.Random) -> str:
    """A FAKE resident registration number YYMMDD-SNNNNNN: birth date and sex digit (1/2 born
    in the 1900s, 3/4 in the 2000s) are consistent with the patient; five random digits; the
    last digit is chosen to FAIL the checksum, so it cannot be a valid number."""
    s = (1 if p.sex == "M" else 2) + (2 if p.birth.year >= 2000 else 0)
    body = f"{p.birth:%y%m%d}{s}" + "".join(str(rng.randrange(10)) for _ in range(5))
    bad = [d for d in range(10) if d != rrn_check_digit(body)]
    return f"{body[:6]}-{body[6:]}{rng.choice(bad)}"


def site_rng(code: str) -> random.Random:
    """The random stream of one site's formatting (independent of the cohort's)."""
    return random.Random(f"{SEED}-{code}")


def partial_lfu_patients(members: Sequence[Patient]) -> list[Patient]:
    """S05: at most two patients whose last follow-up is written as year and month only.

    Only patients whose true last follow-up falls on day 15 qualify, so that the pipeline's
    'mid' imputation (day 15) gives the true date back; alive patients come first."""
    cands = [p for p in members if p.lfu is not None and p.lfu.day == 15]
    return sorted(cands, key=lambda p: p.death is not None)[:2]


def site_extras(site: SiteFormat, members: Sequence[Patient]) -> dict[str, dict[str, Any]]:
    """Per-patient site-level extras: fake identifiers, WBC unit, partial dates."""
    rng = site_rng(site.code)
    out: dict[str, dict[str, Any]] = {p.local_id: {} for p in members}
    if "name" in site.headers:
        for p, name in zip(members, FAKE_NAMES, strict=True):
            out[p.local_id]["name"] = name
    if "rrn" in site.headers:
        for p in members:
            out[p.local_id]["rrn"] = _fake_rrn(p, rng)
    if "phone" in site.headers:
        for p, k in zip(members, rng.sample(range(10000), len(members)), strict=True):
            out[p.local_id]["phone"] = f"010-0000-{k:04d}"
    if "address" in site.headers:
        for p in members:
            out[p.local_id]["address"] = (
                f"{rng.choice(FAKE_CITIES)} {rng.choice(FAKE_DISTRICTS)} "
                f"{rng.choice(FAKE_ROADS)} {rng.randint(1, 120)}"
            )
    if site.wbc_unit == "column":
        units = ["/uL", "x10^3/uL"] * ((len(members) + 1) // 2)
        units = units[: len(members)]
        rng.shuffle(units)
        for p, u in zip(members, units, strict=True):
            out[p.local_id]["wbc_unit"] = u
    if site.partial_lfu:
        for p in partial_lfu_patients(members):
            out[p.local_id]["partial_lfu"] = True
    return out


def crf_record(
    p: Patient, serial: int, site: SiteFormat, extra: dict[str, Any], rng: random.Random
) -> list[Any]:
    """One CRF row (CSV or XLSX) in the site's column order (None = empty XLSX cell)."""
    xlsx = site.fmt == "xlsx"
    absent = None if xlsx else site.blank_token
    na = None if xlsx else site.na_token

    def lab(var: str, value: Any) -> Any:
        return site.labels[var][value]

    def date_or(var: str, d: dt.date | None, missing: str | None) -> Any:
        if d is None:
            return missing
        if var in site.serial_date_vars:
            return (d - EXCEL_ORIGIN).days
        if var == "last_followup_date" and extra.get("partial_lfu"):
            assert site.date_style == "korean" and d.day == 15
            return f"{d.year}년 {d.month}월"
        style = site.date_style
        if style == "mixed":
            style = rng.choice(("dot", "dash_nopad"))
        return _format_date(d, style)

    def num(x: float | None) -> Any:
        if x is None:
            return absent
        return x if xlsx else number_text(x)

    unit = extra.get("wbc_unit", site.wbc_unit)
    tx_missing = na if p.tx else absent
    values: dict[str, Any] = {
        "serial": serial if xlsx else str(serial),
        "local_id": p.local_id,
        "name": extra.get("name"),
        "rrn": extra.get("rrn"),
        "phone": extra.get("phone"),
        "address": extra.get("address"),
        "sex": lab("sex", p.sex),
        "wbc": wbc_value(p.wbc, unit, as_text=not xlsx, thousands=site.wbc_thousands),
        "wbc_unit": unit,
        "immunophenotype": lab("immunophenotype", p.immuno),
        "cytogenetics_group": lab("cytogenetics_group", p.cyto),
        "disease_status": lab("disease_status", p.status),
        "prior_regimens": p.prior if xlsx else str(p.prior),
        "marrow_blasts_pct": num(p.blasts),
        "clofarabine_exposed": lab("clofarabine_exposed", p.clofarabine),
        "height_cm": num(p.height),
        "weight_kg": num(p.weight),
        "treatment_data_available": lab("treatment_data_available", p.tx),
        "first_cycle_agents": (
            site.agent_sep.join(site.agents[a] for a in p.agents) if p.agents else absent
        ),
        "induction_response": lab("induction_response", p.response) if p.response else absent,
        "hsct_donor": lab("hsct_donor", p.donor) if p.donor else tx_missing,
        "hsct_source": lab("hsct_source", p.source) if p.source else tx_missing,
        "remarks": site.remarks.get(p.note, None if xlsx else ""),
    }
    for var, d, missing in (
        ("birth_date", p.birth, absent),
        ("diagnosis_date", p.dx, absent),
        ("rr_diagnosis_date", p.rr, absent),
        ("hsct_date", p.hsct, tx_missing),
        ("death_date", p.death, tx_missing),
        ("last_followup_date", p.lfu, absent),
    ):
        if var in site.headers:
            values[var] = date_or(var, d, missing)
    if xlsx and isinstance(values["remarks"], str) and not values["remarks"]:
        values["remarks"] = None
    return [values[k] for k in site.headers]


def resubmission_fixes(members: Sequence[Patient]) -> tuple[Patient, Patient]:
    """S01's first submission: (patient whose blast % lost its decimal point, patient whose
    death date was left empty). Both were corrected in the resubmission."""
    typo = next(p for p in members if p.eligible and not float(p.blasts).is_integer())
    undated = [p for p in members if p.death is not None][-1]
    return typo, undated


def first_submission(
    site: SiteFormat, members: Sequence[Patient], rows: list[list[Any]]
) -> list[list[Any]]:
    """Rows of the superseded first submission: the corrected rows with two errors."""
    keys = list(site.headers)
    typo, undated = resubmission_fixes(members)
    out = [list(r) for r in rows]
    out[list(members).index(typo)][keys.index("marrow_blasts_pct")] = number_text(
        typo.blasts
    ).replace(".", "")
    out[list(members).index(undated)][keys.index("death_date")] = site.blank_token
    return out
