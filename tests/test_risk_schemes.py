"""Interfant-06, NCI/Rome and BFM relapse schemes: boundaries, missing inputs, flags, derivations.

Every scheme is loaded through cohortflow.core.config.load_risk_scheme (JSON-schema validation) and
applied with cohortflow.classify.schemes.classify to hand-built frames in canonical dtypes.
"""

from __future__ import annotations

import itertools

import pandas as pd
import pytest

from cohortflow.classify.schemes import UNCLASSIFIABLE, classify, scheme_inputs
from cohortflow.core.config import load_risk_scheme
from cohortflow.core.dictionary import conform
from cohortflow.harmonise.derive import harmonise, relapse_timing

INTERFANT = load_risk_scheme("interfant06")
NCI = load_risk_scheme("nci_rome")
BFM = load_risk_scheme("bfm_relapse")


def patients(rows: list[dict]) -> pd.DataFrame:
    """Canonical patients table (every dictionary column, canonical dtypes) from partial rows."""
    df = pd.DataFrame(rows)
    df["study_id"] = [f"p{i}" for i in range(len(df))]
    return conform(df)


def run(scheme: dict, rows: list[dict]) -> pd.DataFrame:
    return classify(patients(rows), scheme)


def one(scheme: dict, **row: object) -> dict:
    return run(scheme, [row]).iloc[0].to_dict()


# --------------------------------------------------------------------------- scheme metadata


@pytest.mark.parametrize("scheme", [INTERFANT, NCI, BFM], ids=lambda s: s["id"])
def test_metadata_and_unreachable_otherwise(scheme):
    for key in ("id", "name", "version", "source", "notes", "applies_to"):
        assert scheme[key]
    # every known input combination is covered by an explicit group, so 'otherwise' is only a
    # guard against out-of-dictionary values and never a silent clinical default
    assert scheme["otherwise"] == UNCLASSIFIABLE
    names = [c["name"] for g in scheme["groups"] for c in g.get("any_of", []) + g.get("all_of", [])]
    assert len(names) == len(set(names))


def test_inputs_listed():
    assert scheme_inputs(INTERFANT) == [
        "age_at_diagnosis_months",
        "kmt2a_status",
        "wbc",
        "prednisone_response",
    ]
    assert scheme_inputs(NCI) == ["age_at_diagnosis_years", "wbc"]
    assert scheme_inputs(BFM) == ["relapse_timing", "relapse_site", "immunophenotype"]


def test_notes_state_the_traps():
    assert "30,000/uL" in INTERFANT["notes"] and "300,000/uL" in INTERFANT["notes"]
    assert "ptd" in INTERFANT["notes"].lower()
    assert "365.25" in NCI["notes"]
    assert "UNVERIFIED" in BFM["notes"] and "UNVERIFIED" in BFM["name"]
    assert "mixed" in BFM["notes"]


# --------------------------------------------------------------------------- Interfant-06

HR_ALL = "kmt2a_rearranged;age_lt_6_months;wbc_ge_300_or_poor_prednisone"
# criteria_fired lists only the assigned group's criteria that held: an MR patient shows
# kmt2a_rearranged_not_hr, never the parts of the HR conjunction that happened to be true.
MR_U6 = "kmt2a_rearranged_not_hr"
MR_HIGH = "kmt2a_rearranged_not_hr"


def infant(age, wbc, kmt2a, pred, years=None):
    return {
        "age_at_diagnosis_months": age,
        "age_at_diagnosis_years": years,
        "wbc": wbc,
        "kmt2a_status": kmt2a,
        "prednisone_response": pred,
    }


@pytest.mark.parametrize(
    ("age", "wbc", "kmt2a", "pred", "group", "fired"),
    [
        # WBC boundary: exactly 300 x10^9/L is HR, 299.999 is not
        (5, 300.0, "rearranged", "good", "HR", HR_ALL),
        (5, 299.999, "rearranged", "good", "MR", MR_U6),
        # prednisone response: poor alone suffices, good does not
        (5, 299.999, "rearranged", "poor", "HR", HR_ALL),
        (5, 10.0, "rearranged", "good", "MR", MR_U6),
        # age boundary: 5 completed months is < 6, exactly 6 is not
        (6, 400.0, "rearranged", "poor", "MR", MR_HIGH),
        (0, 400.0, "rearranged", "good", "HR", HR_ALL),
        (11, 10.0, "rearranged", "good", "MR", "kmt2a_rearranged_not_hr"),
        # infant boundary: exactly 12 completed months is not an infant
        (12, 400.0, "rearranged", "poor", "not_applicable", "age_ge_12_months"),
        (11, 400.0, "germline", "poor", "LR", "kmt2a_germline"),
        (5, 400.0, "germline", "poor", "LR", "kmt2a_germline"),
        # PTD (dupMLL) is not a rearrangement: LR, whatever the age/WBC/prednisone
        (3, 400.0, "ptd", "poor", "LR", "kmt2a_ptd_not_rearranged"),
        (30, 10.0, "germline", "good", "not_applicable", "age_ge_12_months"),
    ],
)
def test_interfant_boundaries(age, wbc, kmt2a, pred, group, fired):
    out = one(INTERFANT, **infant(age, wbc, kmt2a, pred))
    assert out["group"] == group
    assert out["criteria_fired"] == fired
    assert out["missing_inputs"] == ""
    assert out["scheme"] == "interfant06" and out["scheme_version"] == "2006.1"


def test_interfant_explains_why_earlier_groups_did_not_apply():
    mr = one(INTERFANT, **infant(5, 299.999, "rearranged", "good"))
    assert mr["group"] == "MR"
    assert mr["groups_not_met"] == (
        "not_applicable not met (any of: age_ge_12_months=false); "
        "LR not met (any of: kmt2a_germline=false, kmt2a_ptd_not_rearranged=false); "
        "HR not met (all of: kmt2a_rearranged=true, age_lt_6_months=true, "
        "wbc_ge_300_or_poor_prednisone=false)"
    )
    lr = one(INTERFANT, **infant(5, 10.0, "germline", "good"))
    assert lr["groups_not_met"] == "not_applicable not met (any of: age_ge_12_months=false)"
    assert one(INTERFANT, **infant(13, 10.0, "germline", "good"))["groups_not_met"] == ""
    # unclassifiable: the missing inputs say why, not a partial trace
    assert one(INTERFANT, **infant(5, 10.0, "unknown", "good"))["groups_not_met"] == ""


@pytest.mark.parametrize(
    ("age", "wbc", "kmt2a", "pred", "group", "missing"),
    [
        # unknown or missing KMT2A status is unclassifiable, never LR
        (5, 100.0, "unknown", "poor", UNCLASSIFIABLE, "kmt2a_status"),
        (8, 10.0, "unknown", "good", UNCLASSIFIABLE, "kmt2a_status"),
        (5, 100.0, None, "poor", UNCLASSIFIABLE, "kmt2a_status"),
        (5, None, None, None, UNCLASSIFIABLE, "kmt2a_status"),
        # ...but a patient known not to be an infant is not_applicable whatever KMT2A is
        (13, None, "unknown", None, "not_applicable", ""),
        # rearranged < 6 months: HR needs WBC >= 300 or poor prednisone
        (5, 100.0, "rearranged", None, UNCLASSIFIABLE, "prednisone_response"),
        (5, None, "rearranged", "good", UNCLASSIFIABLE, "wbc"),
        (5, None, "rearranged", None, UNCLASSIFIABLE, "prednisone_response;wbc"),
        (5, 300.0, "rearranged", None, "HR", ""),
        (5, None, "rearranged", "poor", "HR", ""),
        # rearranged >= 6 months: WBC and prednisone do not matter
        (8, None, "rearranged", None, "MR", ""),
        # germline infant: LR whatever else is missing
        (5, None, "germline", None, "LR", ""),
        # age missing: applicability unknown
        (None, 400.0, "rearranged", "poor", UNCLASSIFIABLE, "age_at_diagnosis_months"),
        (None, 10.0, "germline", "good", UNCLASSIFIABLE, "age_at_diagnosis_months"),
        (None, None, None, None, UNCLASSIFIABLE, "age_at_diagnosis_months"),
    ],
)
def test_interfant_missing_inputs(age, wbc, kmt2a, pred, group, missing):
    out = one(INTERFANT, **infant(age, wbc, kmt2a, pred))
    assert out["group"] == group
    assert out["missing_inputs"] == missing


def test_interfant_unknown_kmt2a_is_never_low_risk():
    rows = [
        infant(age, wbc, k, pred)
        for age in (0, 5, 6, 11)
        for wbc in (10.0, 299.999, 300.0, None)
        for k in ("unknown", None)
        for pred in ("good", "poor", None)
    ]
    out = run(INTERFANT, rows)
    assert (out["group"] == UNCLASSIFIABLE).all()
    assert (out["missing_inputs"] == "kmt2a_status").all()


def test_interfant_flags():
    out = run(
        INTERFANT,
        [
            infant(3, 400.0, "ptd", "poor"),
            infant(30, 10.0, "ptd", "good"),
            infant(5, 10.0, "rearranged", "good"),
            infant(12, 10.0, "germline", "good", years=365 / 365.25),
            infant(12, 10.0, "germline", "good", years=366 / 365.25),
        ],
    )
    assert list(out["group"]) == ["LR", "not_applicable", "MR", "not_applicable", "not_applicable"]
    assert list(out["flags"]) == ["kmt2a_ptd", "kmt2a_ptd", "", "first_birthday_gap", ""]


def test_interfant_out_of_dictionary_value_is_not_silently_grouped():
    out = one(INTERFANT, **infant(5, 10.0, "translocation?", "good"))
    assert out["group"] == UNCLASSIFIABLE


def test_interfant_from_dates_and_karyotype():
    """End to end through harmonise: calendar-month age, parsed KMT2A, derived prednisone."""
    mapped = pd.DataFrame(
        {
            "study_id": ["a", "b", "c", "d", "e"],
            "birth_date": ["2001-10-25", "2001-10-25", "2001-10-25", "2000-08-31", "2000-08-31"],
            "diagnosis_date": [
                "2002-04-24",  # day before birth date + 6 months: 5 completed months
                "2002-04-25",  # birth date + 6 months: 6
                "2002-04-24",
                "2001-02-28",  # 31 Aug + 6 months falls on 1 Mar: still 5
                "2001-03-01",
            ],
            "karyotype": [
                "46,XY,t(4;11)(q21;q23)",
                "46,XY,t(4;11)(q21;q23)",
                "dupMLL",
                "46,XX,t(11;19)(q23;p13.3)",
                "46,XX,t(11;19)(q23;p13.3)",
            ],
            "wbc": [300.0, 300.0, 500.0, 12.0, 12.0],
            "pb_blasts_day8": [0.0, 0.0, 5000.0, 1000.0, 1000.0],
        }
    )
    h = harmonise(mapped)
    assert list(h["age_at_diagnosis_months"]) == [5, 6, 5, 5, 6]
    assert list(h["kmt2a_status"]) == [
        "rearranged",
        "rearranged",
        "ptd",
        "rearranged",
        "rearranged",
    ]
    out = classify(h, INTERFANT)
    assert list(out["group"]) == ["HR", "MR", "LR", "HR", "MR"]
    assert list(out["flags"]) == ["", "", "kmt2a_ptd", "", ""]


# --------------------------------------------------------------------------- NCI/Rome


def nci(years, wbc, immuno="B", months=None):
    return {
        "age_at_diagnosis_years": years,
        "age_at_diagnosis_months": months,
        "wbc": wbc,
        "immunophenotype": immuno,
    }


SR_ALL = "age_1_to_lt_10_years;wbc_lt_50"


@pytest.mark.parametrize(
    ("years", "wbc", "group", "fired"),
    [
        (1.0, 49.999, "SR", SR_ALL),  # exactly 1.0 year is not an infant
        (1.0, 50.0, "HR", "wbc_ge_50"),  # exactly 50 x10^9/L is HR
        (0.999, 10.0, "not_applicable", "age_lt_1_year"),
        (0.5, 200.0, "not_applicable", "age_lt_1_year"),  # infants are not HR
        (9.999, 49.999, "SR", SR_ALL),
        (10.0, 10.0, "HR", "age_ge_10_years"),  # exactly 10.0 years is HR
        (10.0, 50.0, "HR", "age_ge_10_years;wbc_ge_50"),
        (17.5, 0.5, "HR", "age_ge_10_years"),
    ],
)
def test_nci_boundaries(years, wbc, group, fired):
    out = one(NCI, **nci(years, wbc))
    assert out["group"] == group
    assert out["criteria_fired"] == fired
    assert out["missing_inputs"] == "" and out["flags"] == ""
    assert out["scheme_version"] == "1996.1"


@pytest.mark.parametrize(
    ("years", "wbc", "immuno", "group", "missing"),
    [
        (5.0, None, "B", UNCLASSIFIABLE, "wbc"),
        (5.0, None, "unknown", UNCLASSIFIABLE, "wbc"),  # lineage is not an input
        (None, 10.0, "B", UNCLASSIFIABLE, "age_at_diagnosis_years"),
        (None, 100.0, "B", UNCLASSIFIABLE, "age_at_diagnosis_years"),  # could be an infant
        (None, None, "B", UNCLASSIFIABLE, "age_at_diagnosis_years"),
        (12.0, None, "B", "HR", ""),
        (0.5, None, "B", "not_applicable", ""),
        (5.0, 10.0, None, "SR", ""),
    ],
)
def test_nci_missing_inputs(years, wbc, immuno, group, missing):
    out = one(NCI, **nci(years, wbc, immuno))
    assert out["group"] == group
    assert out["missing_inputs"] == missing


def test_nci_t_all_is_computed_but_flagged():
    out = run(
        NCI,
        [nci(5.0, 10.0, "T"), nci(12.0, 100.0, "T"), nci(5.0, 10.0, "mixed"), nci(0.5, 1.0, "T")],
    )
    assert list(out["group"]) == ["SR", "HR", "SR", "not_applicable"]
    t_flag = "t_all_no_downgrade"
    assert list(out["flags"]) == [t_flag, t_flag, "", t_flag]
    label = {f["name"]: f["label"] for f in NCI["flags"]}["t_all_no_downgrade"]
    assert label == "NCI standard risk must never downgrade T-ALL"


def test_nci_age_is_days_over_365_25():
    mapped = pd.DataFrame(
        {
            "study_id": ["a", "b", "c", "d"],
            "birth_date": ["2001-01-01", "2000-01-01", "2001-01-01", "2003-01-01"],
            # 365 days (no 29 Feb): 0.9993 y; 366 days: 1.0027 y; 10th birthdays with two
            # (3,652 days = 9.9986 y) and three (3,653 days = 10.0014 y) 29 Februaries
            "diagnosis_date": ["2002-01-01", "2001-01-01", "2011-01-01", "2013-01-01"],
            "wbc": [10.0, 10.0, 10.0, 10.0],
        }
    )
    h = harmonise(mapped)
    out = classify(h, NCI)
    assert list(out["group"]) == ["not_applicable", "SR", "SR", "HR"]
    assert list(out["flags"]) == ["first_birthday_gap", "", "", ""]
    # the first birthday (365 days) is not an infant for Interfant-06 either: the gap is flagged
    inf = classify(h, INTERFANT)
    assert inf.loc[0, "group"] == "not_applicable"
    assert inf.loc[0, "flags"] == "first_birthday_gap"


# --------------------------------------------------------------------------- BFM relapse

SITES = ("isolated_em", "combined", "isolated_bm")
TIMINGS = ("very_early", "early", "late")
LINEAGES = ("B", "T", "mixed")


def bfm_reference(site: str, timing: str, immuno: str) -> str:
    """The strata as stated in the brief, written independently of the YAML."""
    if site == "isolated_em":
        return "S1" if timing == "late" else "S2"
    if immuno == "T" or timing == "very_early":
        return "S4"
    if timing == "early" and site == "isolated_bm":
        return "S3"
    return "S2"


def relapse(site, timing, immuno):
    return {"relapse_site": site, "relapse_timing": timing, "immunophenotype": immuno}


@pytest.mark.parametrize(
    ("site", "timing", "immuno"), list(itertools.product(SITES, TIMINGS, LINEAGES))
)
def test_bfm_every_combination(site, timing, immuno):
    out = one(BFM, **relapse(site, timing, immuno))
    assert out["group"] == bfm_reference(site, timing, immuno)
    assert out["criteria_fired"] and out["missing_inputs"] == ""


@pytest.mark.parametrize(
    ("site", "timing", "immuno", "group", "fired"),
    [
        ("isolated_em", "late", "B", "S1", "late_isolated_em"),
        ("isolated_em", "late", "T", "S1", "late_isolated_em"),
        ("isolated_em", "early", "T", "S2", "very_early_or_early_isolated_em"),
        ("isolated_em", "very_early", "B", "S2", "very_early_or_early_isolated_em"),
        ("isolated_bm", "very_early", "B", "S4", "very_early_marrow"),
        ("combined", "very_early", "T", "S4", "very_early_marrow;t_lineage_marrow"),
        ("combined", "late", "T", "S4", "t_lineage_marrow"),
        ("isolated_bm", "early", "T", "S4", "t_lineage_marrow"),
        ("isolated_bm", "early", "B", "S3", "early_isolated_bm_non_t"),
        ("isolated_bm", "early", "mixed", "S3", "early_isolated_bm_non_t"),  # mixed = non-T
        ("combined", "early", "B", "S2", "early_combined_non_t"),
        ("combined", "late", "B", "S2", "late_combined_non_t"),
        ("isolated_bm", "late", "B", "S2", "late_isolated_bm_non_t"),
    ],
)
def test_bfm_criteria_fired(site, timing, immuno, group, fired):
    out = one(BFM, **relapse(site, timing, immuno))
    assert (out["group"], out["criteria_fired"]) == (group, fired)
    assert out["scheme_version"] == "2010.1"


@pytest.mark.parametrize(
    ("site", "timing", "immuno", "group", "missing"),
    [
        (None, "late", "B", UNCLASSIFIABLE, "relapse_site"),
        (None, "very_early", "T", UNCLASSIFIABLE, "relapse_site"),  # EM would be S2
        ("isolated_em", None, "B", UNCLASSIFIABLE, "relapse_timing"),
        ("combined", None, "B", UNCLASSIFIABLE, "relapse_timing"),
        ("combined", None, "T", "S4", ""),  # T-lineage marrow: any time point
        ("isolated_bm", "very_early", "unknown", "S4", ""),  # very early marrow: any lineage
        ("isolated_bm", "early", "unknown", UNCLASSIFIABLE, "immunophenotype"),
        ("combined", "late", None, UNCLASSIFIABLE, "immunophenotype"),
        ("isolated_em", "very_early", "unknown", "S2", ""),  # isolated EM: lineage irrelevant
        ("isolated_em", "late", None, "S1", ""),
        # the engine names the inputs of the first undecidable group (S1 reads no lineage)
        (None, None, None, UNCLASSIFIABLE, "relapse_site;relapse_timing"),
    ],
)
def test_bfm_missing_inputs(site, timing, immuno, group, missing):
    out = one(BFM, **relapse(site, timing, immuno))
    assert out["group"] == group
    assert out["missing_inputs"] == missing


def _completions(row: dict, domains: dict) -> list[dict]:
    keys = [k for k, v in row.items() if v is None]
    return [
        dict(row, **dict(zip(keys, vals, strict=True)))
        for vals in itertools.product(*(domains[k] for k in keys))
    ]


@pytest.mark.parametrize(
    ("scheme", "domains"),
    [
        (
            BFM,
            {"relapse_site": SITES, "relapse_timing": TIMINGS, "immunophenotype": LINEAGES},
        ),
        (
            INTERFANT,
            {
                "age_at_diagnosis_months": (0, 5, 6, 12),
                "wbc": (10.0, 300.0),
                "kmt2a_status": ("germline", "ptd", "rearranged"),
                "prednisone_response": ("good", "poor"),
            },
        ),
        (NCI, {"age_at_diagnosis_years": (0.5, 1.0, 9.999, 10.0), "wbc": (10.0, 50.0)}),
    ],
    ids=["bfm_relapse", "interfant06", "nci_rome"],
)
def test_missing_inputs_sound_and_minimal(scheme, domains):
    """With inputs missing, a group is given iff every completion of them gives that group
    (sound: never a guess; minimal: never unclassifiable when the missing input cannot matter)."""
    partial = [
        dict(zip(domains, vals, strict=True))
        for vals in itertools.product(*((*d, None) for d in domains.values()))
    ]
    completions = [_completions(row, domains) for row in partial]
    flat = [c for cs in completions for c in cs]
    got = list(run(scheme, partial)["group"])
    full = list(run(scheme, flat)["group"])
    start = 0
    for row, group, cs in zip(partial, got, completions, strict=True):
        outcomes = set(full[start : start + len(cs)])
        start += len(cs)
        if len(outcomes) == 1:
            assert group == outcomes.pop(), row
        else:
            assert group == UNCLASSIFIABLE, row


# --------------------------------------------------------------------------- derivations


def _dates(dates):
    return pd.Series(pd.to_datetime(list(dates)))


def values(s: pd.Series) -> list:
    """Values with every missing marker (None, NaN, NA) as None."""
    return [None if pd.isna(v) else v for v in s]


@pytest.mark.parametrize(
    ("dx", "rel", "eot", "expected"),
    [
        ("2000-01-15", "2001-07-14", "2002-01-15", "very_early"),  # 17 completed months
        ("2000-01-15", "2001-07-15", "2002-01-15", "early"),  # 18 months, before end of therapy
        ("2000-01-15", "2002-07-14", "2002-01-15", "early"),  # 5 months after end of therapy
        ("2000-01-15", "2002-07-15", "2002-01-15", "late"),  # 6 months after end of therapy
        ("2000-01-15", "2003-01-01", "2002-01-15", "late"),
        ("2000-01-15", "2001-07-14", None, "very_early"),  # < 18 months needs no end of therapy
        ("2000-01-15", "2001-07-15", None, None),  # >= 18 months, end of therapy missing
        ("2000-01-15", None, "2002-01-15", None),  # no relapse date
        (None, "2001-07-14", "2002-01-15", None),  # no diagnosis date
    ],
)
def test_relapse_timing_boundaries(dx, rel, eot, expected):
    got = relapse_timing(_dates([dx]), _dates([rel]), _dates([eot]))
    assert values(got) == [expected]


def test_relapse_timing_feeds_bfm_through_harmonise():
    mapped = pd.DataFrame(
        {
            "study_id": ["a", "b", "c"],
            "diagnosis_date": ["2000-01-15"] * 3,
            "relapse_date": ["2001-07-14", "2001-07-15", "2002-07-15"],
            "end_of_therapy_date": ["2002-01-15", None, "2002-01-15"],
            "relapse_site": ["isolated_bm", "isolated_bm", "isolated_em"],
            "immunophenotype": ["B", "B", "B"],
        }
    )
    h = harmonise(mapped)
    assert values(h["relapse_timing"]) == ["very_early", None, "late"]
    out = classify(h, BFM)
    assert list(out["group"]) == ["S4", UNCLASSIFIABLE, "S1"]
    assert list(out["missing_inputs"]) == ["", "relapse_timing", ""]


def test_prednisone_response_threshold():
    mapped = pd.DataFrame(
        {"study_id": ["a", "b", "c", "d"], "pb_blasts_day8": [999.9, 1000.0, 0.0, None]}
    )
    h = harmonise(mapped)
    assert values(h["prednisone_response"]) == ["good", "poor", "good", None]
