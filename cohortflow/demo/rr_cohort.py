"""The rr_all patients and their values: the paper's counts as constants, the ``Patient``
record, the 70 screened patients drawn deterministically (``build_cohort``), and the planted
value errors (a cross-site duplicate, a WBC in the wrong unit).
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

from cohortflow.demo.rr_sites import SITES

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
    # sex, birth, dx, rr, immuno, cyto, status, prior, blasts, clofarabine, height, weight, tx
    return Patient("M", d, d, d, "unknown", "unknown", "relapsed", 2, 50.0, False, None, None, True)


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
