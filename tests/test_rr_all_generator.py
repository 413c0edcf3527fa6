"""The synthetic R/R ALL submission (data/rr_all) is reproducible and matches the seed-001 counts.

The counts are recomputed from the raw site files, read with pandas directly (CP949 for the
Korean CSVs, openpyxl for XLSX) and decoded with the site mappings in config/sites/rr_all, so
this also checks that every coded value in the files is covered by its mapping.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import yaml

from cohortflow.demo import rr_all

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "rr_all"
MAPPINGS = ROOT / "config" / "sites" / "rr_all"
SITES = [f"S0{k}" for k in range(1, 10)]
MISSING = {"", "na", "n/a", ".", "nan", "none", "null"}
CUTOFF = dt.date(2016, 12, 31)


def _files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "README.md"
    }


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("rr_all")
    rr_all.generate(out / "data")
    rr_all.write_mappings(out / "mappings")
    return out


def test_generated_files_are_byte_identical_to_committed(generated):
    committed = _files(DATA)
    assert len(committed) == 9
    assert _files(generated / "data") == committed


def test_mappings_are_the_generated_ones(generated):
    assert _files(generated / "mappings") == _files(MAPPINGS)
    assert sorted(p.stem for p in MAPPINGS.glob("*.yaml")) == SITES


# --- a minimal, independent reader of the raw files -----------------------------------------


def _text(v: object) -> str | None:
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return None
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def _date(v: object) -> dt.date:
    if isinstance(v, (pd.Timestamp, dt.datetime)):
        return v.date()
    t = str(v).strip()
    m = re.fullmatch(r"(\d{4})[-.](\d{1,2})[-.](\d{1,2})", t) or re.fullmatch(
        r"(\d{4})년 (\d{1,2})월 (\d{1,2})일", t
    )
    assert m, f"unrecognised date {t!r}"
    return dt.date(*(int(g) for g in m.groups()))


def _read_raw(site: str) -> tuple[dict, pd.DataFrame]:
    mapping = yaml.safe_load((MAPPINGS / f"{site}.yaml").read_text(encoding="utf-8"))
    path = ROOT / mapping["file"]
    assert path.parent == DATA / site and path.name.startswith(f"{site}_2017-")
    if path.suffix == ".csv":
        enc = "cp949" if site in ("S04", "S05", "S06") else "utf-8"
        expect = pytest.raises(UnicodeDecodeError) if enc == "cp949" else contextlib.nullcontext()
        with expect:  # the Korean sites' files are CP949, not UTF-8
            path.read_bytes().decode("utf-8")
        df = pd.read_csv(path, encoding=enc, dtype=str, keep_default_na=False)
    else:
        reader = mapping["reader"]
        df = pd.read_excel(
            path,
            sheet_name=reader["sheet"],
            header=reader.get("header_row", 1) - 1,
            dtype=object,
            engine="openpyxl",
        )
    return mapping, df


def _canonical(site: str) -> pd.DataFrame:
    mapping, raw = _read_raw(site)
    out: dict[str, list] = {}
    for var, rule in mapping["columns"].items():
        codes = {str(k).lower(): v for k, v in (rule.get("codes") or {}).items()}
        extra = set(rule.get("missing", []))
        values = []
        for cell in raw[rule["source"]]:
            t = _text(cell)
            if t is None or t.lower() in MISSING or t in extra:
                values.append(None)
            elif var.endswith("_date"):
                values.append(_date(cell))
            elif "separator" in rule:
                tokens = [x.strip() for x in t.split(rule["separator"]) if x.strip()]
                values.append(tuple(codes[x.lower()] for x in tokens))
            elif codes:
                assert t.lower() in codes, f"{site} {var}: {t!r} not in the codes"
                values.append(codes[t.lower()])
            else:
                values.append(float(t.replace(",", "")))
        out[var] = values
    df = pd.DataFrame(out)
    df["site"] = site
    df["local_id"] = raw[mapping["local_id"]].astype(str).to_numpy()
    return df


@pytest.fixture(scope="module")
def patients() -> pd.DataFrame:
    df = pd.concat([_canonical(s) for s in SITES], ignore_index=True)
    for col, end in (("age_dx", "diagnosis_date"), ("age_rr", "rr_diagnosis_date")):
        df[col] = [(b - a).days / 365.25 for a, b in zip(df.birth_date, df[end], strict=True)]
    df["eligible"] = (
        (df.marrow_blasts_pct >= 25)
        & df.age_dx.between(1, 21)
        & (df.prior_regimens >= 2)
        & ~df.clofarabine_exposed.astype(bool)
    )
    return df


# --- the counts of seed 001 -------------------------------------------------------------------


def test_screening_and_eligibility(patients):
    assert patients.groupby("site").size().to_dict() == dict(
        zip(SITES, [15, 12, 10, 8, 7, 6, 5, 4, 3], strict=True)
    )
    assert not patients.duplicated(["site", "local_id"]).any()
    assert len(patients) == 70
    inel = patients[~patients.eligible]
    assert len(inel) == 6
    assert inel.clofarabine_exposed.sum() == 2
    assert (inel.age_dx < 1).sum() == 1
    assert (inel.marrow_blasts_pct < 25).sum() == 2
    assert (inel.prior_regimens < 2).sum() == 1
    elig = patients[patients.eligible]
    assert len(elig) == 64
    assert elig.treatment_data_available.eq(False).sum() == 1
    assert elig.treatment_data_available.eq(True).sum() == 63


def test_table1(patients):
    e = patients[patients.eligible]
    assert Counter(e.sex) == {"M": 39, "F": 25}
    assert Counter(e.immunophenotype) == {"B": 48, "T": 11, "mixed": 4, "unknown": 1}
    assert Counter(e.disease_status) == {"relapsed": 51, "refractory": 13}
    assert Counter(e.cytogenetics_group) == {
        "diploid": 5,
        "hypodiploid": 2,
        "hyperdiploid": 6,
        "t(1;19)": 2,
        "t(9;22)": 3,
        "other": 26,
        "unknown": 20,
    }
    age = e.age_rr
    assert (round(age.median(), 1), round(age.min(), 1), round(age.max(), 1)) == (15.0, 6.0, 25.0)
    assert abs(age.mean() - 14.3) < 0.05 and abs(age.std() - 4.5) < 0.05
    for var, mean, sd, lo, hi in (
        ("height_cm", 143.8, 23.2, 90.4, 178.5),
        ("weight_kg", 41.1, 18.5, 13.1, 105.0),
    ):
        x = e[var].dropna()
        assert len(x) == 63
        assert (x.min(), x.max()) == (lo, hi)
        assert abs(x.mean() - mean) < 0.1 and abs(x.std() - sd) < 0.1


def test_treatment_response_and_hsct(patients):
    a = patients[patients.eligible & patients.treatment_data_available.eq(True)]
    assert len(a) == 63
    assert all(len(x) >= 1 for x in a.first_cycle_agents)
    agents = Counter(x for xs in a.first_cycle_agents for x in xs)
    assert agents == {
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
    assert Counter(a.induction_response) == {
        "CR": 14,
        "CRp": 10,
        "PR": 3,
        "refractory": 16,
        "not_evaluated": 20,
    }
    h = a[a.hsct_date.notna()]
    assert len(h) == 16
    assert h.induction_response.isin(["CR", "CRp"]).sum() == 14
    alive = h[h.death_date.isna()]
    assert len(alive) == 8 and alive.induction_response.isin(["CR", "CRp"]).all()
    assert a[a.hsct_date.isna()].death_date.notna().all()  # no HSCT: all 47 died
    nodata = patients[patients.eligible & patients.treatment_data_available.eq(False)]
    assert (
        nodata[
            [
                "first_cycle_agents",
                "induction_response",
                "hsct_date",
                "death_date",
                "last_followup_date",
            ]
        ]
        .isna()
        .all(axis=None)
    )


def test_dates_are_consistent(patients):
    p = patients
    assert (p.birth_date < p.diagnosis_date).all()
    assert (p.diagnosis_date < p.rr_diagnosis_date).all()
    assert p.rr_diagnosis_date.between(dt.date(2007, 1, 1), dt.date(2013, 11, 30)).all()
    f = p[p.last_followup_date.notna()]
    assert (f.rr_diagnosis_date <= f.last_followup_date).all()
    assert (f.last_followup_date <= CUTOFF).all()
    d = f[f.death_date.notna()]
    assert (d.death_date == d.last_followup_date).all()
    h = f[f.hsct_date.notna()]
    assert (h.rr_diagnosis_date <= h.hsct_date).all()
    assert (h.hsct_date <= h.last_followup_date).all()
