"""Deterministic generator of a SYNTHETIC multicentre relapsed/refractory (R/R) paediatric ALL
submission, shaped like the Korean multicentre retrospective study of seed 001
(Yoo KH et al., Clin Pediatr Hematol Oncol 2017;24:101).

Nine sites (S01..S09) each send their case report forms in their own way, so that every reader
and quirk of the pipeline is exercised: UTF-8 CSV with a BOM and a corrected resubmission (S01),
semicolon-delimited CSV (S02), a REDCap raw export with its data dictionary (S03), CP949 CSV or
tab-delimited text from Korean Excel with FAKE direct identifiers to be dropped (S04-S06), XLSX
with a two-row merged header (S07) or title rows, blank rows and Excel serial dates (S08), and an
SPSS .sav file with value labels (S09). Count-level aggregates of the paper (screened, eligible,
analysed, Table 1 categories, Table 2 agents, responses, HSCT) are reproduced exactly by
construction; continuous summaries and Kaplan-Meier survival are approximated.

Usage::

    python -m cohortflow.demo.rr_all --out data/rr_all --mappings config/sites/rr_all

The output is byte-for-byte reproducible (fixed seeds; XLSX timestamps and zip entry times and
the SPSS header's creation date/time are pinned). No real patient is represented; the names,
resident registration numbers, phone numbers and addresses of S04 and S06 are invented.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import math
import random
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist
from typing import Any

import pandas as pd
import pyreadstat
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

SEED = 20170925
CUTOFF = dt.date(2016, 12, 31)
RR_START = dt.date(2007, 1, 1)
RR_END = dt.date(2013, 11, 30)
DAYS_PER_YEAR = 365.25
DAYS_PER_MONTH = DAYS_PER_YEAR / 12
SITE_SIZES = {
    "S01": 15,
    "S02": 12,
    "S03": 10,
    "S04": 8,
    "S05": 7,
    "S06": 6,
    "S07": 5,
    "S08": 4,
    "S09": 3,
}
FIXED_TIMESTAMP = "2017-01-01T00:00:00Z"
ZIP_DATE_TIME = (2017, 1, 1, 0, 0, 0)
#: Missing-value tokens the mapper recognises without being told (case-insensitive).
DEFAULT_MISSING = frozenset({"", "na", "n/a", ".", "nan", "none", "null"})

# Planted data errors (data/rr_all/README.md, "Planted data errors"). None changes a count.
#: (1) S07 sent one extra record, a second copy of an S04 patient (same sex, birth date and
#: initial diagnosis date): a cross-site duplicate. It is appended to S07's CRF sheet and is
#: not one of the 70 screened patients (not in ``build_cohort()``).
DUPLICATE_SITE = "S07"
DUPLICATE_LOCAL_ID = "HG-0371"
DUPLICATE_OF = ("S04", "HD-0061")
#: (2) In that record the R/R diagnosis date and the date of death are swapped, so death comes
#: before R/R diagnosis (fatal); the last follow-up is the true one (the true date of death).
#: (3) Its best response is a code outside S07's code list (fatal).
DUPLICATE_RESPONSE = "CRi"
#: (4) S02 declares its WBC column in x10^3/uL; for this patient the WBC (1.5 x10^3/uL) was
#: written in /uL: the cell reads "1500", i.e. 1500 x10^9/L once converted (plausibility
#: warning, inside the dictionary range 0-2000). The patient is 13.6 years old at initial
#: diagnosis, so the NCI/Rome group (high risk by age) is the same with either value.
WRONG_UNIT_WBC = ("S02", "HB00138")
WRONG_UNIT_WBC_PER_UL = 1500

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
#: First R/R cycle regimens of the 63 analysed patients (agents other than steroids), built so
#: that the agent counts equal the paper's Table 2 exactly.
REGIMENS: tuple[tuple[tuple[str, ...], int], ...] = (
    (("vincristine", "idarubicin", "methotrexate"), 8),
    (("vincristine", "idarubicin"), 7),
    (("vincristine", "idarubicin", "asparaginase"), 1),
    (("idarubicin", "cytarabine"), 7),
    (("vincristine", "daunorubicin"), 2),
    (("fludarabine", "cytarabine"), 2),
    (("vincristine", "dasatinib"), 2),
    (("nelarabine",), 2),
    (("ifosfamide", "etoposide"), 1),
    (("cyclophosphamide", "etoposide"), 2),
    (("vincristine", "doxorubicin", "cyclophosphamide"), 1),
    (("cyclophosphamide", "cytarabine", "mercaptopurine"), 1),
    (("etoposide", "cytarabine"), 2),
    (("vincristine", "rituximab"), 1),
    (("vincristine", "cytarabine", "methotrexate"), 3),
    (("vincristine", "methotrexate"), 4),
    (("cytarabine", "methotrexate"), 4),
    (("vincristine", "cytarabine"), 1),
    (("vincristine",), 4),
    (("cytarabine",), 8),
)
TABLE2 = {
    "vincristine": 34,
    "cytarabine": 28,
    "idarubicin": 23,
    "methotrexate": 19,
    "etoposide": 5,
    "cyclophosphamide": 4,
    "daunorubicin": 2,
    "fludarabine": 2,
    "nelarabine": 2,
    "dasatinib": 2,
    "doxorubicin": 1,
    "ifosfamide": 1,
    "asparaginase": 1,
    "mercaptopurine": 1,
    "rituximab": 1,
}

# Survival design (months from R/R diagnosis), tuned so that the Kaplan-Meier estimates come close
# to the paper's 1/2/3/5-year OS (53.7/26.5/13.2/6.7 %) and HSCT vs none (35.2 % vs 0 %).
INDUCTION_DEATHS = (0.4, 0.7, 0.9, 1.2, 1.5)  # 5 "not evaluated": died during induction
REFRACTORY_OR_NE_DEATHS = (
    1.7,
    2.1,
    2.5,
    2.9,
    3.3,
    3.7,
    4.1,
    4.6,
    5.1,
    5.6,
    6.1,
    6.7,
    7.3,
    7.9,
    8.5,
    9.1,
    9.8,
    10.5,
    11.2,
    12.4,
    13.0,
    14.2,
    15.4,
    16.5,
    17.6,
    18.8,
    20.0,
    21.2,
    22.4,
    23.5,
)  # 16 refractory + 14 other not evaluated
RESPONDER_NO_HSCT_DEATHS = (
    8.2,
    10.2,
    11.6,
    14.0,
    18.5,
    19.8,
    19.9,
    23.0,
    34.6,
    34.8,
    35.4,
    35.9,
)  # CR/CRp/PR without HSCT: all relapse and die
HSCT_DEATHS = (5.0, 11.0, 19.0, 24.6, 28.0, 34.0, 49.0, 58.0)
HSCT_ALIVE = (19.5, 25.0, 30.0, 34.5, 44.0, 70.0, 85.0, 100.0)  # < 40 months: lost to follow-up
LOST_BELOW_MONTHS = 40.0

# Median reference heights (cm) by age (years), boys and girls; rough Korean growth-chart values.
_REF_AGES = (2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18)
_REF_HEIGHT = {
    "M": (87, 96, 103, 110, 116, 122, 128, 133, 139, 145, 151, 159, 165, 169, 171, 172, 173),
    "F": (86, 95, 102, 109, 115, 121, 127, 133, 139, 145, 151, 155, 158, 159, 160, 160, 160),
}
#: Median BMI (kg/m2) by age (years), both sexes; rough reference values.
_REF_BMI_AGES = (2, 4, 6, 8, 10, 12, 14, 16, 18, 20)
_REF_BMI = (16.5, 15.7, 15.5, 16.0, 16.9, 18.0, 19.2, 20.3, 21.2, 21.8)


@dataclass
class Patient:
    """One synthetic patient in canonical terms (before site-specific formatting)."""

    sex: str
    birth: dt.date
    dx: dt.date
    rr: dt.date
    immuno: str
    cyto: str
    status: str
    prior: int
    blasts: float
    clofarabine: bool
    height: float | None
    weight: float | None
    tx: bool
    agents: tuple[str, ...] = ()
    response: str | None = None
    hsct: dt.date | None = None
    donor: str | None = None
    source: str | None = None
    death: dt.date | None = None
    lfu: dt.date | None = None
    eligible: bool = True
    reason: str = ""
    note: str = ""
    site: str = ""
    local_id: str = ""
    wbc: int | None = None  # WBC at initial diagnosis, cells/uL (a multiple of 100)
    hsct2: dt.date | None = None  # second allogeneic HSCT (one S03 patient)
    donor2: str | None = None
    source2: str | None = None


# --------------------------------------------------------------------------------------------
# Cohort construction
# --------------------------------------------------------------------------------------------


def _days(months: float) -> int:
    """Whole days in ``months`` months of average length."""
    return round(months * DAYS_PER_MONTH)


def _random_date(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    """A uniformly drawn date in [start, end]."""
    return start + dt.timedelta(days=rng.randint(0, (end - start).days))


def _shaped_values(
    rng: random.Random,
    n_side: int,
    n_mid: int,
    lo: float,
    mid: float,
    hi: float,
    mean: float,
    sd: float,
) -> list[float]:
    """Sorted values with exact minimum ``lo``, median ``mid`` and maximum ``hi`` whose mean and
    SD approximate ``mean`` and ``sd``.

    ``n_side`` values lie below and above the ``n_mid`` copies of the median. Positions come from
    (slightly jittered) normal quantiles scaled to [0, 1] on each side; the lower side becomes
    lo + (mid - lo) * t**a and the upper mid + (hi - mid) * s**b, with the exponents a and b
    chosen on a log grid so that the mean and SD match.
    """
    n = 2 * n_side + n_mid
    nd = NormalDist()
    levels = [
        (k + 0.5 + (rng.uniform(-0.25, 0.25) if 0 < k < n - 1 else 0.0)) / n for k in range(n)
    ]
    q = [nd.inv_cdf(x) for x in levels]
    t = [(x - q[0]) / -q[0] for x in q[:n_side]]
    s = [x / q[-1] for x in q[n - n_side :]]
    grid = [0.2 * 25 ** (k / 299) for k in range(300)]

    def sums(base: float, span: float, xs: list[float], e: float) -> tuple[float, float]:
        vals = [base + span * x**e for x in xs]
        return sum(vals), sum(v * v for v in vals)

    lower = [sums(lo, mid - lo, t, a) for a in grid]
    upper = [sums(mid, hi - mid, s, b) for b in grid]
    best: tuple[float, int, int] | None = None
    for i, (l1, l2) in enumerate(lower):
        for j, (u1, u2) in enumerate(upper):
            s1 = l1 + u1 + n_mid * mid
            s2 = l2 + u2 + n_mid * mid * mid
            m = s1 / n
            v = max((s2 - n * m * m) / (n - 1), 0.0)
            err = (m - mean) ** 2 + (v**0.5 - sd) ** 2
            if best is None or err < best[0]:
                best = (err, i, j)
    assert best is not None
    a, b = grid[best[1]], grid[best[2]]
    values = (
        [lo + (mid - lo) * x**a for x in t] + [mid] * n_mid + [mid + (hi - mid) * x**b for x in s]
    )
    return sorted(values)


def _interpolate(x: float, xs: Sequence[float], ys: Sequence[float]) -> float:
    """Piecewise-linear interpolation, constant beyond the ends."""
    if x <= xs[0]:
        return float(ys[0])
    if x >= xs[-1]:
        return float(ys[-1])
    k = max(i for i in range(len(xs)) if xs[i] <= x)
    return ys[k] + (x - xs[k]) / (xs[k + 1] - xs[k]) * (ys[k + 1] - ys[k])


def _ref_height(age: float, sex: str) -> float:
    """Median height (cm) for age (years) and sex."""
    return _interpolate(age, _REF_AGES, _REF_HEIGHT[sex])


def _ref_bmi(age: float) -> float:
    """Median BMI (kg/m2) for age (years)."""
    return _interpolate(age, _REF_BMI_AGES, _REF_BMI)


def _gap_days(rng: random.Random, age_rr: float, status: str) -> int:
    """Days from initial to R/R diagnosis, keeping the initial-diagnosis age in [1.05, 20.9]."""
    lo, hi = (0.4, 1.6) if status == "refractory" else (1.5, 7.0)
    lo = max(lo, age_rr - 20.9)
    hi = min(hi, age_rr - 1.05)
    if hi < lo:
        raise ValueError(f"no admissible gap for age {age_rr:.2f} ({status})")
    return round(rng.uniform(lo, hi) * DAYS_PER_YEAR)


def _place_followup(rng: random.Random, p: Patient, months: float, died: bool) -> None:
    """Set R/R diagnosis, death and last follow-up dates for a survival time in months."""
    days = _days(months)
    if died:
        latest = min(RR_END, CUTOFF - dt.timedelta(days=days + 1))
        p.rr = _random_date(rng, RR_START, latest)
        p.death = p.rr + dt.timedelta(days=days)
        p.lfu = p.death
    elif months >= LOST_BELOW_MONTHS:  # followed up to shortly before the data cut-off
        p.lfu = CUTOFF - dt.timedelta(days=rng.randint(0, 120))
        p.rr = p.lfu - dt.timedelta(days=days)
    else:  # alive, lost to follow-up
        latest = min(RR_END, CUTOFF - dt.timedelta(days=days + 30))
        p.rr = _random_date(rng, RR_START, latest)
        p.lfu = p.rr + dt.timedelta(days=days)
        p.note = "lost"
    if not RR_START <= p.rr <= RR_END:
        raise ValueError(f"R/R diagnosis {p.rr} outside the study window")


def _blank_patient() -> Patient:
    """A placeholder patient whose fields are all filled in later."""
    d = dt.date(2000, 1, 1)
    return Patient(
        sex="M",
        birth=d,
        dx=d,
        rr=d,
        immuno="unknown",
        cyto="unknown",
        status="relapsed",
        prior=2,
        blasts=50.0,
        clofarabine=False,
        height=None,
        weight=None,
        tx=True,
    )


def _eligible_patients(rng: random.Random) -> list[Patient]:
    """The 64 eligible patients: Table 1 over all, treatment and outcome over 63."""
    n = 64
    pts = [_blank_patient() for _ in range(n)]
    ages = _shaped_values(rng, 31, 2, 6.0, 15.0, 25.0, 14.3, 4.5)
    rng.shuffle(ages)
    sexes = ["M"] * 39 + ["F"] * 25
    rng.shuffle(sexes)
    immuno = ["B"] * 48 + ["T"] * 11 + ["mixed"] * 4 + ["unknown"]
    rng.shuffle(immuno)
    for p, sex, im in zip(pts, sexes, immuno, strict=True):
        p.sex, p.immuno = sex, im
    # B-lineage-specific cytogenetics go to B-ALL patients; the rest are spread over everyone.
    b_idx = [i for i in range(n) if pts[i].immuno == "B"]
    rng.shuffle(b_idx)
    specific = ["hypodiploid"] * 2 + ["hyperdiploid"] * 6 + ["t(1;19)"] * 2 + ["t(9;22)"] * 3
    for i, c in zip(b_idx[: len(specific)], specific, strict=True):
        pts[i].cyto = c
    rest = [i for i in range(n) if i not in set(b_idx[: len(specific)])]
    general = ["diploid"] * 5 + ["other"] * 26 + ["unknown"] * 20
    rng.shuffle(general)
    for i, c in zip(rest, general, strict=True):
        pts[i].cyto = c
    # Refractory (13) only where the age allows a short course before R/R diagnosis.
    young = [i for i in range(n) if ages[i] <= 21.5]
    rng.shuffle(young)
    for i in young[:13]:
        pts[i].status = "refractory"
    for p in pts:
        choices = (2, 2, 2, 3) if p.status == "refractory" else (2, 2, 2, 2, 2, 3, 3, 3, 4)
        p.prior = rng.choice(choices)
        p.blasts = round(rng.uniform(30.0, 98.0) * 2) / 2
    pts[rng.randrange(n)].blasts = 25.0  # boundary case: >= 25 % is eligible

    nodata = rng.choice([i for i in range(n) if pts[i].immuno == "B" and pts[i].cyto != "t(9;22)"])
    pts[nodata].tx = False
    pts[nodata].note = "no_data"
    analysed = [i for i in range(n) if i != nodata]

    # Treatment: special regimens to plausible patients, the rest shuffled.
    regimens = [r for r, k in REGIMENS for _ in range(k)]
    assigned: dict[int, tuple[str, ...]] = {}
    ph = [i for i in analysed if pts[i].cyto == "t(9;22)"]
    t_all = [i for i in analysed if pts[i].immuno == "T"]
    rng.shuffle(ph)
    rng.shuffle(t_all)
    for i in ph[:2]:
        assigned[i] = ("vincristine", "dasatinib")
    for i in t_all[:2]:
        assigned[i] = ("nelarabine",)
    b_free = [i for i in analysed if pts[i].immuno == "B" and i not in assigned]
    assigned[rng.choice(b_free)] = ("vincristine", "rituximab")
    for r in assigned.values():
        regimens.remove(r)
    free = [i for i in analysed if i not in assigned]
    rng.shuffle(regimens)
    assigned.update(zip(free, regimens, strict=True))
    for i in analysed:
        pts[i].agents = assigned[i]

    # Response, HSCT and survival.
    hsct = sorted(rng.sample(analysed, 16))
    no_hsct = [i for i in analysed if i not in set(hsct)]
    resp_h = ["CR"] * 9 + ["CRp"] * 5 + ["PR", "not_evaluated"]
    resp_n = ["CR"] * 5 + ["CRp"] * 5 + ["PR"] * 2 + ["refractory"] * 16 + ["not_evaluated"] * 19
    rng.shuffle(resp_h)
    rng.shuffle(resp_n)
    for i, r in zip(hsct + no_hsct, resp_h + resp_n, strict=True):
        pts[i].response = r

    ne = [i for i in no_hsct if pts[i].response == "not_evaluated"]
    rng.shuffle(ne)
    for i, m in zip(ne[:5], INDUCTION_DEATHS, strict=True):
        _place_followup(rng, pts[i], m, died=True)
        pts[i].note = "induction_death"
    poor = ne[5:] + [i for i in no_hsct if pts[i].response == "refractory"]
    times = list(REFRACTORY_OR_NE_DEATHS)
    rng.shuffle(times)
    for i, m in zip(poor, times, strict=True):
        _place_followup(rng, pts[i], m, died=True)
    responders = [i for i in no_hsct if pts[i].response in ("CR", "CRp", "PR")]
    times = list(RESPONDER_NO_HSCT_DEATHS)
    rng.shuffle(times)
    for i, m in zip(responders, times, strict=True):
        _place_followup(rng, pts[i], m, died=True)

    # All 8 survivors were in CR/CRp; the two transplanted non-responders (PR, not evaluated)
    # take the two latest deaths (late relapse), which brings the 3-year OS after HSCT in the
    # CR/CRp group near the paper's 46.9 %.
    crh = [i for i in hsct if pts[i].response in ("CR", "CRp")]
    rng.shuffle(crh)
    alive = sorted(crh[:8])
    others = [i for i in hsct if pts[i].response not in ("CR", "CRp")]
    dying = others + sorted(crh[8:])
    early = list(HSCT_DEATHS[:-2])
    rng.shuffle(early)
    d_times = list(HSCT_DEATHS[-2:]) + early
    a_times = list(HSCT_ALIVE)
    rng.shuffle(a_times)
    donors = ["MSD"] * 4 + ["MUD"] * 5 + ["MMUD"] * 2 + ["haplo"] * 2 + ["UCB"] * 3
    rng.shuffle(donors)
    for k, i in enumerate(dying + alive):
        p = pts[i]
        died = k < len(dying)
        months = d_times[k] if died else a_times[k - len(dying)]
        _place_followup(rng, p, months, died=died)
        latest = min(200, _days(months) - 25)
        p.hsct = p.rr + dt.timedelta(days=rng.randint(40, latest))
        p.donor = donors[k]
        p.source = {"UCB": "CB", "haplo": "PB", "MMUD": "PB"}.get(p.donor) or rng.choice(
            ("BM", "BM", "PB")
        )
    pts[nodata].rr = _random_date(rng, RR_START, RR_END)

    # Birth and initial diagnosis from the R/R age and a status-dependent interval.
    for p, age in zip(pts, ages, strict=True):
        p.birth = p.rr - dt.timedelta(days=round(age * DAYS_PER_YEAR))
        p.dx = p.rr - dt.timedelta(days=_gap_days(rng, age, p.status))

    # Height and weight (63 of 64): exact target distributions assigned by rank of a size score.
    # The paper's values (mean 143.8 cm at a mean R/R age of 14.3 y) fit the age at INITIAL
    # diagnosis, so the size scores use that age.
    measured = analysed
    heights = _shaped_values(rng, 31, 1, 90.4, 145.0, 178.5, 143.8, 23.2)
    weights = _shaped_values(rng, 31, 1, 13.1, 39.0, 105.0, 41.1, 18.5)
    age_dx = {i: (pts[i].dx - pts[i].birth).days / DAYS_PER_YEAR for i in measured}
    score = {i: _ref_height(age_dx[i], pts[i].sex) + rng.gauss(0, 4) for i in measured}
    for i, h in zip(sorted(measured, key=lambda i: score[i]), heights, strict=True):
        pts[i].height = round(h, 1)
    wscore = {
        i: _ref_bmi(age_dx[i]) * pts[i].height ** 2 * math.exp(rng.gauss(0, 0.12)) for i in measured
    }
    for i, w in zip(sorted(measured, key=lambda i: wscore[i]), weights, strict=True):
        pts[i].weight = round(w, 1)
    return pts


def _ineligible_patients(rng: random.Random) -> list[Patient]:
    """The six screened but ineligible patients, each failing exactly one criterion."""
    specs: list[tuple[str, dict[str, Any]]] = [
        (
            "clofarabine",
            {"clofarabine": True, "agents": ("clofarabine", "etoposide", "cyclophosphamide")},
        ),
        ("clofarabine", {"clofarabine": True}),
        ("age_at_diagnosis", {}),
        ("marrow_blasts", {"blasts": 18.0}),
        ("marrow_blasts", {"blasts": 22.5}),
        ("prior_regimens", {"prior": 1}),
    ]
    out = []
    for reason, extra in specs:
        p = _blank_patient()
        p.eligible, p.reason = False, reason
        p.sex = rng.choice("MF")
        p.immuno = rng.choice(("B", "B", "B", "T"))
        p.cyto = rng.choice(("other", "unknown", "diploid", "hyperdiploid"))
        p.prior = rng.choice((2, 3))
        p.blasts = round(rng.uniform(40.0, 95.0))
        p.agents = rng.choice(
            (
                ("vincristine", "idarubicin"),
                ("cytarabine",),
                ("vincristine", "cytarabine", "methotrexate"),
            )
        )
        p.response = rng.choice(("CR", "PR", "refractory", "not_evaluated"))
        for k, v in extra.items():
            setattr(p, k, v)
        _place_followup(rng, p, rng.uniform(3.0, 30.0), died=True)
        if reason == "age_at_diagnosis":  # infant at initial diagnosis
            age_dx, age_rr = rng.uniform(0.3, 0.9), rng.uniform(2.6, 3.4)
        else:
            age_rr = rng.uniform(7.0, 17.0)
            age_dx = age_rr - rng.uniform(1.5, min(6.0, age_rr - 1.2))
        p.birth = p.rr - dt.timedelta(days=round(age_rr * DAYS_PER_YEAR))
        p.dx = p.birth + dt.timedelta(days=round(age_dx * DAYS_PER_YEAR))
        p.height = round(_ref_height(age_dx, p.sex) + rng.gauss(0, 4), 1)
        bmi = _ref_bmi(age_dx) * math.exp(rng.gauss(0, 0.1))
        p.weight = round(bmi * (p.height / 100) ** 2, 1)
        out.append(p)
    return out


def build_cohort(seed: int = SEED) -> list[Patient]:
    """All 70 screened patients with site and local ID, in site then local-ID order."""
    rng = random.Random(seed)
    pts = _eligible_patients(rng) + _ineligible_patients(rng)
    rng.shuffle(pts)
    out: list[Patient] = []
    start = 0
    for site, size in SITE_SIZES.items():
        members = sorted(pts[start : start + size], key=lambda p: (p.rr, p.birth))
        start += size
        numbers = sorted(rng.sample(range(1, 400), size))
        for p, num in zip(members, numbers, strict=True):
            p.site = site
            p.local_id = SITES[site].id_format.format(num=num, year=p.rr.year % 100)
        out.extend(members)
    _check_cohort(out)
    _add_wbc(out, seed)
    _set_wrong_unit_wbc(out)
    _add_second_transplant(out)
    return out


def _add_wbc(pts: Sequence[Patient], seed: int) -> None:
    """WBC at initial diagnosis (cells/uL, rounded to 100) from a separate random stream, so
    that nothing else about the patients changes. Log-normal, median about 10 x10^9/L (T-ALL
    about 25), limited to 0.8-650 x10^9/L."""
    rng = random.Random(seed + 1)
    for p in pts:
        x = math.exp(rng.gauss(math.log(25.0 if p.immuno == "T" else 10.0), 1.2))
        p.wbc = round(min(max(x, 0.8), 650.0) * 10) * 100


def _set_wrong_unit_wbc(pts: Sequence[Patient]) -> None:
    """The true WBC of the planted wrong-unit patient is a low count, 1.5 x10^3/uL (drawn: 3.0),
    so that its value in /uL (written by mistake in S02's x10^3/uL column) lies between the
    plausibility warning (500 x10^9/L) and the dictionary maximum (2000 x10^9/L). Nothing else
    uses the WBC, and no other patient's value changes."""
    site, local_id = WRONG_UNIT_WBC
    p = next(p for p in pts if (p.site, p.local_id) == (site, local_id))
    assert p.eligible and p.tx and (p.dx - p.birth).days / DAYS_PER_YEAR >= 10
    p.wbc = WRONG_UNIT_WBC_PER_UL


def planted_duplicate(pts: Sequence[Patient]) -> Patient:
    """The extra S07 record: the S04 patient ``DUPLICATE_OF`` as S07 transcribed it.

    Sex, birth date and initial diagnosis date are those of the S04 record (the cross-site
    duplicate key). As a second hospital's transcription, height, weight and marrow blasts are
    rounded to whole numbers. The R/R diagnosis date and the date of death are swapped (death
    before R/R diagnosis); the last follow-up stays the true one. The best response is written
    as ``DUPLICATE_RESPONSE`` by ``generate`` (``response`` here is the true one)."""
    site, local_id = DUPLICATE_OF
    twin = next(p for p in pts if (p.site, p.local_id) == (site, local_id))
    assert twin.tx and twin.death is not None and twin.hsct is None
    assert DUPLICATE_LOCAL_ID not in {p.local_id for p in pts}
    dup = Patient(**{k: getattr(twin, k) for k in twin.__dataclass_fields__})
    dup.site, dup.local_id, dup.note = DUPLICATE_SITE, DUPLICATE_LOCAL_ID, ""
    dup.height = float(round(twin.height)) if twin.height is not None else None
    dup.weight = float(round(twin.weight)) if twin.weight is not None else None
    dup.blasts = float(round(twin.blasts))
    dup.rr, dup.death = twin.death, twin.rr
    assert dup.death < dup.rr <= RR_END and dup.dx < dup.death and dup.lfu == dup.rr
    return dup


def _add_second_transplant(pts: Sequence[Patient]) -> None:
    """A second allogeneic HSCT (haploidentical, peripheral blood) for the first S03 recipient
    who died at least 180 days after the first one, 55 % of the way from HSCT to death. Only
    the REDCap export of S03 can carry it (repeating instrument, instance 2); every
    patient-level variable, and hence every count, still refers to the first HSCT."""
    p = next(
        p for p in pts if p.site == "S03" and p.hsct and p.death and (p.death - p.hsct).days >= 180
    )
    p.hsct2 = p.hsct + dt.timedelta(days=round(0.55 * (p.death - p.hsct).days))
    p.donor2, p.source2 = "haplo", "PB"


def _check_cohort(pts: Sequence[Patient]) -> None:
    """Assert the exact aggregates and the date ordering (cheap guard against regressions)."""
    assert len(pts) == 70
    elig = [p for p in pts if p.eligible]
    anal = [p for p in elig if p.tx]
    assert len(elig) == 64 and len(anal) == 63
    for p in pts:
        assert p.birth < p.dx < p.rr, p
        assert RR_START <= p.rr <= RR_END
        if p.tx:
            assert p.lfu is not None and p.rr <= p.lfu <= CUTOFF
            if p.death is not None:
                assert p.death == p.lfu
            if p.hsct is not None:
                assert p.rr <= p.hsct <= p.lfu
        age_dx = (p.dx - p.birth).days / DAYS_PER_YEAR
        if p.eligible:
            assert 1.0 <= age_dx <= 21.0 and p.prior >= 2 and p.blasts >= 25
            assert not p.clofarabine
    counts: dict[str, int] = {}
    for p in anal:
        for a in p.agents:
            counts[a] = counts.get(a, 0) + 1
    assert counts == TABLE2, counts
    assert sum(p.hsct is not None for p in anal) == 16
    assert sum(p.hsct is not None and p.death is None for p in anal) == 8


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


_EN_HEADERS = {
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
_VITAL_STATUS = ((1, "Alive"), (2, "Dead"))


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
            {**_EN_HEADERS, "remarks": "Comments"},
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
        headers=_with({**_EN_HEADERS, "remarks": "Remarks"}, "diagnosis_date", wbc="WBC (/uL)"),
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

#: Columns written with the site's "not applicable" token (no HSCT, alive) ...
_NA_VARS = frozenset({"hsct_date", "hsct_donor", "hsct_source", "death_date"})
#: ... and columns that can be empty because no data were submitted.
_BLANK_VARS = _NA_VARS | {
    "height_cm",
    "weight_kg",
    "first_cycle_agents",
    "induction_response",
    "last_followup_date",
}
_DATE_VARS = (
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


def _number(x: float) -> str:
    """Plain text for a number: no trailing '.0' on whole numbers."""
    return str(int(x)) if float(x).is_integer() else f"{x:.1f}"


def _wbc_value(wbc_per_ul: int, unit: str, *, as_text: bool, thousands: bool = False) -> Any:
    """A WBC (cells/uL) in ``unit``: text for CSV, a number for XLSX/SPSS."""
    if unit == "/uL":
        if not as_text:
            return wbc_per_ul
        return f"{wbc_per_ul:,}" if thousands else str(wbc_per_ul)
    x = wbc_per_ul / 1000  # x10^3/uL = x10^9/L
    return _number(x) if as_text else round(x, 1)


def _rrn_check_digit(first12: str) -> int:
    """Check digit of a (pre-2020) Korean resident registration number."""
    weights = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)
    return (11 - sum(int(c) * w for c, w in zip(first12, weights, strict=True)) % 11) % 10


def _fake_rrn(p: Patient, rng: random.Random) -> str:
    """A FAKE resident registration number YYMMDD-SNNNNNN: birth date and sex digit (1/2 born
    in the 1900s, 3/4 in the 2000s) are consistent with the patient; five random digits; the
    last digit is chosen to FAIL the checksum, so it cannot be a valid number."""
    s = (1 if p.sex == "M" else 2) + (2 if p.birth.year >= 2000 else 0)
    body = f"{p.birth:%y%m%d}{s}" + "".join(str(rng.randrange(10)) for _ in range(5))
    bad = [d for d in range(10) if d != _rrn_check_digit(body)]
    return f"{body[:6]}-{body[6:]}{rng.choice(bad)}"


def _site_rng(code: str) -> random.Random:
    """The random stream of one site's formatting (independent of the cohort's)."""
    return random.Random(f"{SEED}-{code}")


def partial_lfu_patients(members: Sequence[Patient]) -> list[Patient]:
    """S05: at most two patients whose last follow-up is written as year and month only.

    Only patients whose true last follow-up falls on day 15 qualify, so that the pipeline's
    'mid' imputation (day 15) gives the true date back; alive patients come first."""
    cands = [p for p in members if p.lfu is not None and p.lfu.day == 15]
    return sorted(cands, key=lambda p: p.death is not None)[:2]


def _extras(site: SiteFormat, members: Sequence[Patient]) -> dict[str, dict[str, Any]]:
    """Per-patient site-level extras: fake identifiers, WBC unit, partial dates."""
    rng = _site_rng(site.code)
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


def _record(
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
        return x if xlsx else _number(x)

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
        "wbc": _wbc_value(p.wbc, unit, as_text=not xlsx, thousands=site.wbc_thousands),
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


def _first_submission(
    site: SiteFormat, members: Sequence[Patient], rows: list[list[Any]]
) -> list[list[Any]]:
    """Rows of the superseded first submission: the corrected rows with two errors."""
    keys = list(site.headers)
    typo, undated = resubmission_fixes(members)
    out = [list(r) for r in rows]
    out[list(members).index(typo)][keys.index("marrow_blasts_pct")] = _number(typo.blasts).replace(
        ".", ""
    )
    out[list(members).index(undated)][keys.index("death_date")] = site.blank_token
    return out


def _write_csv(path: Path, site: SiteFormat, rows: list[list[Any]]) -> None:
    """Write a CSV in the site's encoding, delimiter and line ending."""
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=site.delimiter, lineterminator=site.newline)
    writer.writerow(list(site.headers.values()))
    writer.writerows(rows)
    path.write_bytes(buf.getvalue().encode(site.encoding))


def _instructions(site: SiteFormat) -> list[str]:
    """Lines of the Instructions sheet of an XLSX submission."""
    lines = [
        "SYNTHETIC DATA - NOT REAL PATIENTS",
        "Generated by `python -m cohortflow.demo.rr_all` (cohortflow demo); any resemblance to "
        "real persons is coincidental.",
        f"Site {site.code}: relapsed/refractory ALL case report form, one row per patient.",
        "Dates are Excel dates. Empty cell = missing or not applicable.",
        "",
        "Codes:",
    ]
    for var in (
        "sex",
        "disease_status",
        "clofarabine_exposed",
        "treatment_data_available",
        "induction_response",
    ):
        pairs = ", ".join(
            f"{v} = {k if not isinstance(k, bool) else ('yes' if k else 'no')}"
            for k, v in site.labels[var].items()
        )
        lines.append(f"  {site.headers[var]}: {pairs}")
    lines.append(
        f"  {site.headers['first_cycle_agents']}: agents other than steroids, "
        f"separated by '{site.agent_sep.strip()}'"
    )
    return lines


def _split_group(name: str) -> tuple[str | None, str]:
    """(group title, column name) of an S07-style combined header."""
    if " / " in name:
        group, sub = name.split(" / ", 1)
        return group, sub
    return None, name


def _write_xlsx(path: Path, site: SiteFormat, rows: list[list[Any]]) -> None:
    """Write an XLSX with an Instructions sheet and a CRF sheet, then fix timestamps."""
    fixed = dt.datetime(2017, 1, 1)
    wb = Workbook()
    info = wb.active
    info.title = "Instructions"
    for line in _instructions(site):
        info.append([line])
    info["A1"].font = Font(bold=True)
    info.column_dimensions["A"].width = 100
    ws = wb.create_sheet("CRF")
    for line in site.title_rows:
        ws.append([line])
    names = list(site.headers.values())
    if site.group_header:
        groups = [_split_group(n)[0] for n in names]
        ws.append([g if k == 0 or groups[k - 1] != g else None for k, g in enumerate(groups)])
        r = ws.max_row
        start = 0
        for k in range(1, len(groups) + 1):
            if k == len(groups) or groups[k] != groups[start]:
                if groups[start] is not None:
                    if k - start > 1:
                        ws.merge_cells(start_row=r, start_column=start + 1, end_row=r, end_column=k)
                    cell = ws.cell(r, start + 1)
                    cell.font = Font(bold=True)
                    cell.alignment = Alignment(horizontal="center")
                start = k
        names = [_split_group(n)[1] for n in names]
    ws.append(names)
    for cell in ws[site.header_row]:
        cell.font = Font(bold=True)
    for k, row in enumerate(rows, start=1):
        ws.append(row)
        for _ in range(site.blank_rows_after.count(k)):
            ws.append([])
    for row in ws.iter_rows(min_row=site.header_row + 1):
        for cell in row:
            if isinstance(cell.value, dt.date):
                cell.number_format = "yyyy-mm-dd"
    for k, header in enumerate(names, start=1):
        ws.column_dimensions[ws.cell(site.header_row, k).column_letter].width = max(
            10, len(header) + 2
        )
    wb.properties.creator = "cohortflow.demo.rr_all (synthetic data)"
    wb.properties.title = f"SYNTHETIC R/R ALL CRF {site.code}"
    wb.properties.created = fixed
    wb.properties.modified = fixed
    buf = io.BytesIO()
    wb.save(buf)
    path.write_bytes(normalise_zip(buf.getvalue()))


def normalise_zip(data: bytes) -> bytes:
    """Rewrite an OOXML zip with fixed entry times and fixed core-property timestamps.

    openpyxl stamps ``dcterms:modified`` and every zip entry with the time of saving; both are
    replaced so that the file bytes depend only on the content.
    """
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            content = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                text = content.decode("utf-8")
                for tag in ("created", "modified"):
                    text = re.sub(
                        rf"(<dcterms:{tag}[^>]*>)[^<]*(</dcterms:{tag}>)",
                        rf"\g<1>{FIXED_TIMESTAMP}\g<2>",
                        text,
                    )
                content = text.encode("utf-8")
            zi = zipfile.ZipInfo(info.filename, date_time=ZIP_DATE_TIME)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            dst.writestr(zi, content)
    return out.getvalue()


# --- S09: SPSS -----------------------------------------------------------------------------

_SAV_LABELS = {
    **_EN_HEADERS,
    "local_id": "Local patient ID",
    "wbc": "WBC at initial diagnosis (x10^3/uL)",
    "first_cycle_agents": "Agents of the first R/R cycle (excl. steroids)",
}


def pin_sav_timestamp(data: bytes) -> bytes:
    """An SPSS .sav file with the header's creation date and time set to 01 Jan 17 00:00:00.

    ReadStat stamps the time of writing into bytes 92-108 of the header (creation_date, 9
    bytes "dd Mon yy", then creation_time, 8 bytes "hh:mm:ss"); nothing else in the file
    depends on the time, so the pinned file depends only on its content."""
    off = SAV_CREATION_OFFSET
    if data[:4] != b"$FL2" or not re.fullmatch(
        rb"\d\d [A-Z][a-z]{2} \d\d\d\d:\d\d:\d\d", data[off : off + 17]
    ):
        raise ValueError("unexpected SPSS header layout")
    return data[:off] + SAV_CREATION + data[off + 17 :]


def _write_sav(path: Path, site: SiteFormat, members: Sequence[Patient]) -> None:
    """Write an SPSS .sav file with value and variable labels and a pinned header time."""

    def coded(var: str, value: Any) -> float:
        return math.nan if value is None else float(site.codes[var][value])

    def number(x: float | None) -> float:
        return math.nan if x is None else float(x)

    cols: dict[str, list[Any]] = {}
    for var, name in site.headers.items():
        if var == "local_id":
            vals: list[Any] = [p.local_id for p in members]
        elif var in _DATE_VARS:
            attr = {
                "birth_date": "birth",
                "diagnosis_date": "dx",
                "rr_diagnosis_date": "rr",
                "hsct_date": "hsct",
                "death_date": "death",
                "last_followup_date": "lfu",
            }[var]
            vals = [getattr(p, attr) for p in members]
        elif var == "wbc":
            vals = [_wbc_value(p.wbc, site.wbc_unit, as_text=False) for p in members]
            vals = [float(v) for v in vals]
        elif var == "first_cycle_agents":
            vals = [site.agent_sep.join(site.agents[a] for a in p.agents) for p in members]
        elif var in site.codes:
            attr = {
                "sex": "sex",
                "immunophenotype": "immuno",
                "cytogenetics_group": "cyto",
                "disease_status": "status",
                "clofarabine_exposed": "clofarabine",
                "treatment_data_available": "tx",
                "induction_response": "response",
                "hsct_donor": "donor",
                "hsct_source": "source",
            }[var]
            vals = [coded(var, getattr(p, attr)) for p in members]
        else:
            attr = {
                "prior_regimens": "prior",
                "marrow_blasts_pct": "blasts",
                "height_cm": "height",
                "weight_kg": "weight",
            }[var]
            vals = [number(getattr(p, attr)) for p in members]
        cols[name] = vals
    df = pd.DataFrame(cols)
    value_labels = {
        site.headers[var]: {float(site.codes[var][k]): site.labels[var][k] for k in site.codes[var]}
        for var in site.codes
    }
    measure = {
        name: "nominal"
        if var in site.codes or var in ("local_id", "first_cycle_agents")
        else "scale"
        for var, name in site.headers.items()
    }
    formats = {site.headers[var]: "F1.0" for var in site.codes}
    formats.update(
        {
            site.headers[var]: fmt
            for var, fmt in (
                ("prior_regimens", "F2.0"),
                ("marrow_blasts_pct", "F5.1"),
                ("height_cm", "F5.1"),
                ("weight_kg", "F5.1"),
                ("wbc", "F6.1"),
            )
        }
    )
    pyreadstat.write_sav(
        df,
        str(path),
        file_label="SYNTHETIC DATA - NOT REAL PATIENTS",
        column_labels={site.headers[v]: _SAV_LABELS[v] for v in site.headers},
        note=[  # SPSS document lines hold at most 80 characters
            "SYNTHETIC DATA - NOT REAL PATIENTS.",
            f"Site {site.code}, generated by python -m cohortflow.demo.rr_all (cohortflow demo).",
        ],
        variable_value_labels=value_labels,
        variable_measure=measure,
        variable_format=formats,
    )
    path.write_bytes(pin_sav_timestamp(path.read_bytes()))


# --- S03: REDCap ---------------------------------------------------------------------------


def _redcap_choices(site: SiteFormat, f: RedcapField) -> list[tuple[int, str]]:
    """(code, label) choices of a radio, dropdown or checkbox field."""
    if f.type == "checkbox":
        return [(k, site.agents[a]) for k, a in enumerate(AGENTS, start=1)]
    if f.name == "vital_status":
        return list(_VITAL_STATUS)
    if f.type in ("radio", "dropdown"):
        assert f.var is not None
        return [(code, site.labels[f.var][k]) for k, code in site.codes[f.var].items()]
    return []


def redcap_dictionary_rows(site: SiteFormat) -> list[list[str]]:
    """The REDCap data dictionary (header row first)."""
    rows = [list(REDCAP_DICTIONARY_COLUMNS)]
    for f in REDCAP_FIELDS:
        choices = " | ".join(f"{c}, {lab}" for c, lab in _redcap_choices(site, f))
        rows.append(
            [
                f.name,
                f.form,
                f.section,
                f.type,
                f.label,
                choices,
                f.note,
                f.validation,
                f.vmin,
                f.vmax,
                "",  # Identifier?: no field is an identifier (record_id included)
                f.branching,
                "y" if f.required else "",
                "",
                "",
                "",
                "",
                f.annotation,
            ]
        )
    return rows


def _redcap_columns() -> list[str]:
    """Columns of the raw export: record and event keys, fields by form, form status."""
    cols = ["record_id", "redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance"]
    for form in REDCAP_FORMS:
        for f in REDCAP_FIELDS:
            if f.form != form or f.name == "record_id" or f.type == "descriptive":
                continue
            if f.type == "checkbox":
                cols += [f"{f.name}___{k}" for k in range(1, len(AGENTS) + 1)]
            else:
                cols.append(f.name)
        cols.append(f"{form}_complete")
    return cols


def _redcap_value(site: SiteFormat, f: RedcapField, p: Patient, second: bool) -> str:
    """Raw export text of one (non-checkbox) field for one patient."""
    if f.name == "vital_status":
        return "2" if p.death else "1"
    var = f.var
    value: Any
    if var == "hsct_date":
        value = p.hsct2 if second else p.hsct
    elif var == "hsct_donor":
        value = p.donor2 if second else p.donor
    elif var == "hsct_source":
        value = p.source2 if second else p.source
    else:
        value = {
            "sex": p.sex,
            "birth_date": p.birth,
            "diagnosis_date": p.dx,
            "wbc": p.wbc,
            "immunophenotype": p.immuno,
            "cytogenetics_group": p.cyto,
            "rr_diagnosis_date": p.rr,
            "disease_status": p.status,
            "prior_regimens": p.prior,
            "marrow_blasts_pct": p.blasts,
            "clofarabine_exposed": p.clofarabine,
            "height_cm": p.height,
            "weight_kg": p.weight,
            "treatment_data_available": p.tx,
            "induction_response": p.response,
            "death_date": p.death,
            "last_followup_date": p.lfu,
        }[var]
    if value is None:
        return ""
    if var in site.codes:
        return str(site.codes[var][value])
    if var == "wbc":
        return _wbc_value(value, site.wbc_unit, as_text=True)
    if isinstance(value, dt.date):
        return value.isoformat()
    return _number(value)


def _redcap_row(
    site: SiteFormat,
    p: Patient,
    cols: Sequence[str],
    event: str,
    instance: int | None,
    forms: Sequence[str],
) -> list[str]:
    """One export row of a record: the fields of ``forms`` filled in, everything else empty
    except the checkbox columns, which REDCap writes as 0 in rows of other instruments."""
    vals = dict.fromkeys(cols, "")
    vals.update(
        record_id=p.local_id,
        redcap_event_name=event,
        redcap_repeat_instrument=REDCAP_REPEATING if instance else "",
        redcap_repeat_instance=str(instance) if instance else "",
    )
    for k in range(1, len(AGENTS) + 1):
        vals[f"agents___{k}"] = "0"
    for form in forms:
        for f in REDCAP_FIELDS:
            if f.form != form or f.name == "record_id" or f.type == "descriptive":
                continue
            if f.type == "checkbox":
                for k, a in enumerate(AGENTS, start=1):
                    vals[f"agents___{k}"] = "1" if a in p.agents else "0"
            else:
                vals[f.name] = _redcap_value(site, f, p, instance == 2)
        vals[f"{form}_complete"] = "2"
    return [vals[c] for c in cols]


def redcap_export_rows(site: SiteFormat, members: Sequence[Patient]) -> list[list[str]]:
    """The raw REDCap export (header row first): per record a baseline row, a follow-up row
    (patients with follow-up data) and one row per transplant instance."""
    cols = _redcap_columns()
    rows = [cols]
    for p in members:
        baseline = ("demographics", "diagnosis", "rr_episode")
        rows.append(_redcap_row(site, p, cols, REDCAP_BASELINE, None, baseline))
        if p.tx:
            rows.append(_redcap_row(site, p, cols, REDCAP_FOLLOWUP, None, ("outcome",)))
        for k, d in enumerate((p.hsct, p.hsct2), start=1):
            if d is not None:
                rows.append(_redcap_row(site, p, cols, REDCAP_FOLLOWUP, k, (REDCAP_REPEATING,)))
    return rows


def _write_rows_csv(path: Path, rows: list[list[str]]) -> None:
    """A plain UTF-8 comma-separated file (REDCap export style)."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path.write_bytes(buf.getvalue().encode("utf-8"))


def _plant_errors(
    site: SiteFormat, patients: Sequence[Patient], members: Sequence[Patient], rows: list[list[Any]]
) -> None:
    """Plant the data errors of the README in a site's CRF rows (in place): S02's WBC written in
    /uL, and S07's extra record (cross-site duplicate, swapped dates, response off the code
    list) appended after its own patients."""
    keys = list(site.headers)
    if site.code == WRONG_UNIT_WBC[0]:
        k = [p.local_id for p in members].index(WRONG_UNIT_WBC[1])
        rows[k][keys.index("wbc")] = str(members[k].wbc)
    if site.code == DUPLICATE_SITE:
        dup = planted_duplicate(patients)
        row = _record(dup, len(members) + 1, site, {}, _site_rng(site.code + "-duplicate"))
        row[keys.index("induction_response")] = DUPLICATE_RESPONSE
        rows.append(row)


def generate(out_dir: Path) -> None:
    """Write the nine site submissions under ``out_dir/<site>/`` (the README is not touched)."""
    out_dir = Path(out_dir)
    patients = build_cohort()
    for code, site in SITES.items():
        members = [p for p in patients if p.site == code]
        folder = out_dir / code
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / site.filename
        if site.fmt == "sav":
            _write_sav(path, site, members)
            continue
        if site.fmt == "redcap":
            _write_rows_csv(path, redcap_export_rows(site, members))
            _write_rows_csv(folder / site.dictionary_filename, redcap_dictionary_rows(site))
            continue
        extras = _extras(site, members)
        rng = _site_rng(code + "-cells")
        rows = [
            _record(p, k, site, extras[p.local_id], rng) for k, p in enumerate(members, start=1)
        ]
        _plant_errors(site, patients, members, rows)
        if site.fmt == "csv":
            _write_csv(path, site, rows)
            if site.earlier is not None:
                first = _first_submission(site, members, rows)
                _write_csv(folder / site.filename_for(site.earlier), site, first)
        else:
            _write_xlsx(path, site, rows)


# --------------------------------------------------------------------------------------------
# Site mappings (config/sites/rr_all/<site>.yaml)
# --------------------------------------------------------------------------------------------


def _yaml_scalar(x: Any) -> str:
    """A YAML flow scalar: booleans bare, everything else as a JSON (double-quoted) string."""
    if isinstance(x, bool):
        return "true" if x else "false"
    return json.dumps(str(x), ensure_ascii=False)


def _yaml_codes(codes: dict[Any, Any]) -> str:
    """A flow mapping of site label -> canonical value."""
    return "{" + ", ".join(f"{_yaml_scalar(k)}: {_yaml_scalar(v)}" for k, v in codes.items()) + "}"


def mapping_yaml(code: str, data_dir: str = "data/rr_all") -> str:
    """Text of the site mapping YAML for ``code`` (the format the cohortflow mapper reads)."""
    site = SITES[code]
    lines = [
        f"# Site mapping: SYNTHETIC R/R ALL demo (seed 001 shape), site {code}.",
        "# Generated by `python -m cohortflow.demo.rr_all --mappings config/sites/rr_all`;",
        "# edit the generator, not this file.",
        f"site: {code}",
    ]
    if site.earlier is None:  # one dated submission, so every report shows its date
        lines.append("submissions:")
        lines.append(
            f'  - {{file: {data_dir}/{code}/{site.filename}, date: "{site.submitted.isoformat()}"}}'
        )
    else:
        lines.append("submissions:")
        for d, note in (
            (
                site.earlier,
                "first submission, superseded: one death date missing, one blast % mistyped",
            ),
            (site.submitted, "corrected resubmission"),
        ):
            lines.append(
                f"  - {{file: {data_dir}/{code}/{site.filename_for(d)}, "
                f'date: "{d.isoformat()}", note: {_yaml_scalar(note)}}}'
            )
    reader = [f"format: {site.fmt}"]
    if site.fmt == "xlsx":
        reader.append("sheet: CRF")
    if site.header_row != 1:
        reader.append(f"header_row: {site.header_row}")
    if site.group_header:
        reader.append("header_rows: 2")
    if site.fmt == "csv" and site.delimiter != "," and not site.sniff_delimiter:
        reader.append(f"delimiter: {_yaml_scalar(site.delimiter)}")
    if site.fmt == "redcap":
        reader.append(f"dictionary: {data_dir}/{code}/{site.dictionary_filename}")
    lines.append("reader: {" + ", ".join(reader) + "}")
    lines.append(f"local_id: {_yaml_scalar(site.headers['local_id'])}")
    drop = [site.headers[k] for k in IDENTIFIER_KEYS if k in site.headers]
    lines.append(f"drop: [{', '.join(_yaml_scalar(c) for c in drop)}]")
    # seed 001 reports no relapse dates after HSCT: no site collects them (REL_HSCT is empty)
    lines.append("not_collected: [relapse_date]")
    lines.append(f"notes: >-\n  {site.quirks}")
    lines.append("columns:")
    for var, header in site.headers.items():
        if var in ("serial", "remarks", "local_id", "wbc_unit", *IDENTIFIER_KEYS):
            continue
        parts = [f"source: {_yaml_scalar(header)}"]
        if var == "first_cycle_agents":
            parts.append(f"separator: {_yaml_scalar(site.agent_sep.strip())}")
            parts.append(f"codes: {_yaml_codes({v: k for k, v in site.agents.items()})}")
        elif var in site.labels:
            parts.append(f"codes: {_yaml_codes({v: k for k, v in site.labels[var].items()})}")
        elif var == "wbc":
            if site.wbc_unit == "column":
                parts.append(f"unit_source: {_yaml_scalar(site.headers['wbc_unit'])}")
            else:
                parts.append(f"unit: {_yaml_scalar(site.wbc_unit)}")
        if var == "last_followup_date" and site.partial_lfu:
            parts.append("partial_dates: mid")
        tokens = set()
        if var in _NA_VARS and site.fmt == "csv":
            tokens.add(site.na_token)
        if var in _BLANK_VARS and site.fmt == "csv":
            tokens.add(site.blank_token)
        extra = sorted(t for t in tokens if t.lower() not in DEFAULT_MISSING)
        if extra:
            parts.append(f"missing: [{', '.join(_yaml_scalar(t) for t in extra)}]")
        if var == "induction_response" and code == DUPLICATE_SITE:
            # the planted duplicate's response is the site's data error, not a missing code
            parts.append(f"query: [{_yaml_scalar(DUPLICATE_RESPONSE)}]")
        lines.append(f"  {var}: {{{', '.join(parts)}}}")
    return "\n".join(lines) + "\n"


def write_mappings(config_dir: Path, data_dir: str = "data/rr_all") -> None:
    """Write ``config_dir/<site>.yaml`` for every site."""
    config_dir = Path(config_dir)
    config_dir.mkdir(parents=True, exist_ok=True)
    for code in SITES:
        (config_dir / f"{code}.yaml").write_text(mapping_yaml(code, data_dir), encoding="utf-8")


# --------------------------------------------------------------------------------------------
# Summary (what was achieved)
# --------------------------------------------------------------------------------------------


def _km(times: list[int], events: list[bool], at_days: list[float]) -> list[float]:
    """Kaplan-Meier survival at the given days (product-limit, right-continuous)."""
    order = sorted(zip(times, events, strict=True))
    surv, out, s = [], [], 1.0
    n_at_risk = len(order)
    k = 0
    while k < len(order):
        t = order[k][0]
        same = [e for tt, e in order[k:] if tt == t]
        d = sum(same)
        if d:
            s *= 1 - d / n_at_risk
            surv.append((t, s))
        n_at_risk -= len(same)
        k += len(same)
    for a in at_days:
        v = 1.0
        for t, sv in surv:
            if t <= a:
                v = sv
        out.append(v)
    return out


def summary(patients: Sequence[Patient] | None = None) -> dict[str, Any]:
    """Achieved aggregates: continuous summaries (eligible) and KM overall survival (analysed)."""
    pts = list(patients) if patients is not None else build_cohort()
    elig = [p for p in pts if p.eligible]
    anal = [p for p in elig if p.tx]

    def stats(xs: list[float]) -> dict[str, float]:
        xs = sorted(xs)
        n = len(xs)
        mean = sum(xs) / n
        sd = (sum((x - mean) ** 2 for x in xs) / (n - 1)) ** 0.5
        med = (xs[(n - 1) // 2] + xs[n // 2]) / 2
        return {
            "n": n,
            "mean": round(mean, 2),
            "sd": round(sd, 2),
            "median": round(med, 2),
            "min": round(xs[0], 2),
            "max": round(xs[-1], 2),
        }

    def os(group: list[Patient]) -> list[float]:
        times = [(p.lfu - p.rr).days for p in group if p.lfu]
        events = [p.death is not None for p in group if p.lfu]
        return [
            round(100 * v, 1) for v in _km(times, events, [y * DAYS_PER_YEAR for y in (1, 2, 3, 5)])
        ]

    cr_hsct = [p for p in anal if p.hsct and p.response in ("CR", "CRp")]
    post = _km(
        [(p.lfu - p.hsct).days for p in cr_hsct],
        [p.death is not None for p in cr_hsct],
        [3 * DAYS_PER_YEAR],
    )
    return {
        "age_at_rr_years": stats([(p.rr - p.birth).days / DAYS_PER_YEAR for p in elig]),
        "height_cm": stats([p.height for p in elig if p.height is not None]),
        "weight_kg": stats([p.weight for p in elig if p.weight is not None]),
        "os_1_2_3_5y_pct": os(anal),
        "os_hsct_1_2_3_5y_pct": os([p for p in anal if p.hsct]),
        "os_no_hsct_1_2_3_5y_pct": os([p for p in anal if not p.hsct]),
        "os_3y_after_hsct_cr_crp_pct": round(100 * post[0], 1),
    }


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: write the data (and optionally the mappings) and print what was achieved."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("data/rr_all"), help="output directory")
    ap.add_argument(
        "--mappings",
        type=Path,
        default=None,
        help="also write the site mappings into this directory",
    )
    args = ap.parse_args(argv)
    generate(args.out)
    if args.mappings is not None:
        write_mappings(args.mappings)
    for key, value in summary().items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
