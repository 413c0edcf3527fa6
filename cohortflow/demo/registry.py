"""A SYNTHETIC registry-scale study: N sites x M patients in a mix of submission formats.

```sh
python -m cohortflow.demo.registry --sites 100 --patients-per-site 10000 --out DIR [--seed S]
```

writes, under ``DIR`` (a repository root or a copy of one):

* ``data/<study>/<site>/...``: one submission per site, the format by site number (CSV UTF-8
  with English headers, CSV CP949 with Korean headers and labels, XLSX, SPSS ``.sav`` with value
  labels, REDCap raw export with its data dictionary);
* ``config/sites/<study>/<site>.yaml``: the site mappings;
* ``config/studies/<study>.yaml``: the study (the ``rr_all`` definition with these sites,
  without published values and swimmer plot);
* ``data/<study>/planted.json``: the truth: planted errors per kind and site, and the
  cross-site duplicates.

Values are drawn vectorised (numpy) from realistic distributions for relapsed/refractory
childhood ALL; a known share of records (``--error-rate``, default 0.2 %) carries a planted
error and a few patients are sent by two sites. Everything is deterministic for a seed: the
same arguments give the same bytes. Not part of ``make run``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from cohortflow.demo.rr_files import normalise_zip, pin_sav_timestamp
from cohortflow.demo.rr_sites import SITES

STUDY = "registry"
#: The sex code planted as an error outside the code list (declared as a `query` value).
PLANTED_SEX_CODE = "X"
CUTOFF = "2016-12-31"
#: Submission format by site number modulo 10.
FORMATS = ("csv", "csv", "csv", "csv", "cp949", "cp949", "xlsx", "xlsx", "sav", "redcap")
#: Canonical variable -> English header (CSV UTF-8, XLSX).
EN = {
    "local_id": "Patient ID",
    "sex": "Sex",
    "birth_date": "Date of birth",
    "diagnosis_date": "Date of initial diagnosis",
    "wbc": "WBC at diagnosis (x10^9/L)",
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
    "first_cycle_agents": "1st cycle agents",
    "induction_response": "Best response",
    "hsct_date": "HSCT date",
    "relapse_date": "Date of relapse after HSCT",
    "death_date": "Date of death",
    "last_followup_date": "Date of last follow-up",
}
#: Korean headers (CSV CP949).
KO = {
    "local_id": "등록번호",
    "sex": "성별",
    "birth_date": "생년월일",
    "diagnosis_date": "초진단일",
    "wbc": "진단시 백혈구(x10^9/L)",
    "immunophenotype": "면역표현형",
    "cytogenetics_group": "초기 염색체",
    "rr_diagnosis_date": "재발/불응 진단일",
    "disease_status": "질병상태",
    "prior_regimens": "이전 치료 횟수",
    "marrow_blasts_pct": "골수 모세포(%)",
    "clofarabine_exposed": "클로파라빈 노출",
    "height_cm": "키(cm)",
    "weight_kg": "체중(kg)",
    "treatment_data_available": "치료자료 유무",
    "first_cycle_agents": "1차 약제",
    "induction_response": "최고 반응",
    "hsct_date": "조혈모세포이식일",
    "relapse_date": "이식 후 재발일",
    "death_date": "사망일",
    "last_followup_date": "최종 추적일",
}
#: Short variable names (SPSS, REDCap): those of S09's SPSS file (no relapse date there).
SHORT = {var: SITES["S09"].headers.get(var, "reldate") for var in EN}
DATES = (
    "birth_date",
    "diagnosis_date",
    "rr_diagnosis_date",
    "hsct_date",
    "relapse_date",
    "death_date",
    "last_followup_date",
)
NUMBERS = ("wbc", "prior_regimens", "marrow_blasts_pct", "height_cm", "weight_kg")
#: Coded variables: canonical value -> probability, and the labels per language.
CODED: dict[str, dict[Any, float]] = {
    "sex": {"M": 0.56, "F": 0.44},
    "immunophenotype": {"B": 0.8, "T": 0.15, "mixed": 0.03, "unknown": 0.02},
    "cytogenetics_group": {
        "diploid": 0.1,
        "hypodiploid": 0.03,
        "hyperdiploid": 0.12,
        "t(1;19)": 0.04,
        "t(9;22)": 0.05,
        "other": 0.36,
        "unknown": 0.3,
    },
    "disease_status": {"relapsed": 0.8, "refractory": 0.2},
    "clofarabine_exposed": {False: 0.95, True: 0.05},
    "treatment_data_available": {True: 0.96, False: 0.04},
    "induction_response": {
        "CR": 0.34,
        "CRp": 0.14,
        "PR": 0.07,
        "refractory": 0.3,
        "not_evaluated": 0.15,
    },
}
#: Value labels: those of the rr_all sites (one generator of label sets), by variable the site
#: whose English (S01, S03) or Korean (S04, S06) labels the registry writes.
LABELS_EN: dict[str, dict[Any, str]] = {
    var: SITES[site].labels[var]
    for var, site in (
        ("sex", "S03"),
        ("immunophenotype", "S01"),
        ("cytogenetics_group", "S01"),
        ("disease_status", "S01"),
        ("clofarabine_exposed", "S01"),
        ("treatment_data_available", "S01"),
        ("induction_response", "S01"),
    )
}
LABELS_KO: dict[str, dict[Any, str]] = {
    **LABELS_EN,
    **{v: SITES["S04"].labels[v] for v in ("sex", "disease_status", "clofarabine_exposed")},
    "treatment_data_available": SITES["S06"].labels["treatment_data_available"],
    # shorter than any rr_all site's: 'unknown' as 모름, responses as codes
    "immunophenotype": {**SITES["S04"].labels["immunophenotype"], "unknown": "모름"},
    "induction_response": {
        **LABELS_EN["induction_response"],
        "refractory": "불응",
        "not_evaluated": "평가불가",
    },
}
AGENTS = {
    "VCR": "vincristine",
    "Ara-C": "cytarabine",
    "IDA": "idarubicin",
    "MTX": "methotrexate",
    "VP-16": "etoposide",
    "CPM": "cyclophosphamide",
    "FLU": "fludarabine",
    "Clofarabine": "clofarabine",
}
#: Planted error kinds: what the check catalogue must find (severity in config/checks.yaml).
ERROR_KINDS = (
    "death_before_rr",  # rr_before_death, fatal
    "code_outside_list",  # code_in_list, fatal
    "height_out_of_range",  # height_range, fatal
    "wbc_wrong_unit",  # wbc_plausible, warning (a count in /uL entered as x10^9/L)
    "unreadable_date",  # type_conformance, fatal
)


def site_codes(n_sites: int) -> list[str]:
    """Site codes S001, S002, ... (zero-padded to three digits or more)."""
    width = max(3, len(str(n_sites)))
    return [f"S{k:0{width}d}" for k in range(1, n_sites + 1)]


def site_format(index: int) -> str:
    """Submission format of the site with 0-based ``index``."""
    return FORMATS[index % len(FORMATS)]


def _choice(rng: np.random.Generator, probs: dict[Any, float], n: int) -> np.ndarray:
    keys = list(probs)
    p = np.array([probs[k] for k in keys], dtype=float)
    idx = rng.choice(len(keys), size=n, p=p / p.sum())
    return np.array(keys, dtype=object)[idx]


def _days(base: np.ndarray, days: np.ndarray) -> np.ndarray:
    return base + days.astype("timedelta64[D]")


def patients(site: str, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """``n`` canonical patient records of one site (no errors), drawn vectorised."""
    d: dict[str, Any] = {"local_id": [f"{site}-{k:06d}" for k in range(1, n + 1)]}
    for var, probs in CODED.items():
        d[var] = _choice(rng, probs, n)
    dx = np.datetime64("2000-01-01") + rng.integers(0, 15 * 365, n).astype("timedelta64[D]")
    age = 1.0 + 19.5 * rng.beta(1.6, 3.2, n)  # years at initial diagnosis, median ~ 7
    d["diagnosis_date"] = dx
    d["birth_date"] = _days(dx, -np.round(age * 365.25).astype(int))
    refractory = d["disease_status"] == "refractory"
    gap = np.where(refractory, rng.integers(30, 200, n), 120 + rng.exponential(900, n).astype(int))
    cut = np.datetime64(CUTOFF)
    # R/R diagnosis at least 60 days before the data cut-off (registered patients)
    gap = np.minimum(gap, ((cut - dx).astype(int) - 60 - rng.integers(0, 400, n)))
    gap = np.maximum(gap, 1)
    rr = _days(dx, gap)
    d["rr_diagnosis_date"] = rr
    d["wbc"] = np.round(np.clip(rng.lognormal(np.log(15), 1.2, n), 0.3, 900), 1)
    d["prior_regimens"] = (1 + rng.poisson(1.3, n)).astype(float)
    d["marrow_blasts_pct"] = np.round(100 * rng.beta(4, 2, n), 1)
    age_rr = age + gap / 365.25
    height = np.minimum(75 + 6.2 * age_rr, 172) + rng.normal(0, 6, n)
    d["height_cm"] = np.round(np.clip(height, 60, 200), 1)
    bmi = 16 + 0.25 * np.minimum(age_rr, 18) + rng.normal(0, 1.8, n)
    d["weight_kg"] = np.round(np.clip(bmi * (height / 100) ** 2, 6, 120), 1)
    n_agents = rng.integers(1, 4, n)
    order = np.argsort(rng.random((n, len(AGENTS))), axis=1)
    names = np.array(list(AGENTS), dtype=object)
    d["first_cycle_agents"] = [",".join(names[np.sort(order[k, : n_agents[k]])]) for k in range(n)]
    resp = d["induction_response"]
    good = np.isin(resp, ["CR", "CRp"])
    hsct = rng.random(n) < np.where(good, 0.55, 0.12)
    hsct_day = rng.integers(60, 240, n)
    # survival from R/R diagnosis: exponential, worse for refractory disease, better with CR
    scale = 700 * np.where(refractory, 0.5, 1.0) * np.where(good, 1.8, 1.0)
    death_day = rng.exponential(scale).astype(int) + 5
    hsct &= hsct_day < death_day
    # follow-up ends at a visit before or shortly after the cut-off, or earlier (lost)
    end = np.minimum(_days(cut, rng.integers(-200, 90, n)), _days(rr, rng.integers(30, 6000, n)))
    end = np.maximum(end, _days(rr, np.full(n, 20)))
    death = _days(rr, death_day)
    died = death <= end
    relapse_day = hsct_day + rng.integers(30, 900, n)
    relapsed = hsct & (rng.random(n) < 0.3) & (relapse_day < death_day)
    relapse = _days(rr, relapse_day)
    relapsed &= relapse <= end
    d["hsct_date"] = np.where(hsct & (_days(rr, hsct_day) <= end), _days(rr, hsct_day), None)
    d["relapse_date"] = np.where(relapsed, relapse, None)
    d["death_date"] = np.where(died, death, None)
    d["last_followup_date"] = np.where(died, death, end)
    out = pd.DataFrame(d)
    for c in DATES:
        out[c] = pd.to_datetime(out[c])
    return out


def plant_errors(
    df: pd.DataFrame,
    rate: float,
    rng: np.random.Generator,
    kinds: Sequence[str] = ERROR_KINDS,
) -> tuple[pd.DataFrame, dict[str, list[int]]]:
    """A share ``rate`` of records each get one planted error (``kinds`` in turn). Returns the
    records (numeric and coded columns may then hold text) and row indices per kind."""
    n = len(df)
    k = max(1, int(round(rate * n))) if rate > 0 else 0
    rows = np.sort(rng.choice(n, size=min(k, n), replace=False))
    # planted values may be text: numeric, coded and the diagnosis date columns hold objects
    # (Timestamps stay Timestamps; every writer tests values, not the column's dtype)
    out = df.astype({c: object for c in ("height_cm", "wbc", "sex", "diagnosis_date")})
    planted: dict[str, list[int]] = {kind: [] for kind in ERROR_KINDS}
    for j, r in enumerate(rows):
        kind = kinds[j % len(kinds)]
        planted[kind].append(int(r))
        if kind == "death_before_rr":
            death = out.loc[r, "rr_diagnosis_date"] - pd.Timedelta(days=1)
            out.loc[r, ["death_date", "last_followup_date"]] = [death, death]
            out.loc[r, ["hsct_date", "relapse_date"]] = [pd.NaT, pd.NaT]
        elif kind == "code_outside_list":
            out.loc[r, "sex"] = PLANTED_SEX_CODE
        elif kind == "height_out_of_range":
            out.loc[r, "height_cm"] = float(out.loc[r, "height_cm"]) * 10
        elif kind == "wbc_wrong_unit":
            out.loc[r, "wbc"] = 1000.0 * min(float(out.loc[r, "wbc"]), 1.9)
        else:
            out.loc[r, "diagnosis_date"] = "unknown date"
    return out, planted


def _labelled(df: pd.DataFrame, labels: dict[str, dict[Any, str]]) -> pd.DataFrame:
    out = df.copy()
    for var, lab in labels.items():
        out[var] = out[var].map(lambda v, lab=lab: lab.get(v, v))
    return out


def _as_text(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in DATES:
        s = out[c]
        out[c] = s.map(lambda v: v.strftime("%Y-%m-%d") if isinstance(v, pd.Timestamp) else v)
        out[c] = out[c].where(s.notna() | out[c].map(lambda v: isinstance(v, str)), "")
    return out


def _write_csv(df: pd.DataFrame, path: Path, encoding: str, headers: dict[str, str]) -> None:
    labels = LABELS_KO if headers is KO else LABELS_EN
    text = _as_text(_labelled(df, labels))[list(headers)].rename(columns=headers)
    text.to_csv(path, index=False, encoding=encoding, lineterminator="\n")


def _write_xlsx(df: pd.DataFrame, path: Path, site: str) -> None:
    """XLSX with a title row above the header (openpyxl write-only: fast at 10,000 rows)."""
    # lazy: demo generator; only this function needs it
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("CRF")
    ws.append([f"SYNTHETIC registry CRF, site {site} (not real patients)"])
    ws.append([EN[c] for c in EN])
    df = _labelled(df, LABELS_EN)
    cols = [df[c].to_numpy(object) for c in EN]
    date_cols = {k for k, c in enumerate(EN) if c in DATES}
    for r in range(len(df)):
        row: list[Any] = []
        for k, col in enumerate(cols):
            v = col[r]
            if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NaT:
                row.append(None)
            elif k in date_cols and isinstance(v, pd.Timestamp):
                cell = WriteOnlyCell(ws, value=v.to_pydatetime())
                cell.number_format = "yyyy-mm-dd"
                row.append(cell)
            else:
                row.append(v)
        ws.append(row)
    fixed = dt.datetime(2017, 1, 1)
    wb.properties.creator = "cohortflow.demo.registry (synthetic data)"
    wb.properties.created = fixed
    wb.properties.modified = fixed
    buf = io.BytesIO()
    wb.save(buf)
    path.write_bytes(normalise_zip(buf.getvalue()))


def _sav_codes(var: str) -> dict[Any, int]:
    return {v: k for k, v in enumerate(CODED[var], start=1)}


def _write_sav(df: pd.DataFrame, path: Path) -> None:
    """SPSS .sav: numeric codes with value labels, dates as SPSS dates."""
    # lazy: demo generator; only this function needs it
    import pyreadstat

    out = pd.DataFrame({SHORT["local_id"]: df["local_id"]})
    value_labels: dict[str, dict[float, str]] = {}
    for var in EN:
        if var == "local_id":
            continue
        name = SHORT[var]
        if var in CODED:
            codes = _sav_codes(var)
            # a value outside the code list is sent as a number without a label
            out[name] = df[var].map(lambda v, c=codes: float(c.get(v, 7))).astype(float)
            value_labels[name] = {float(k): LABELS_EN[var][v] for v, k in codes.items()}
        elif var in DATES:
            s = df[var]
            ok = s.map(lambda v: isinstance(v, pd.Timestamp))
            out[name] = [v.date() if k else None for v, k in zip(s, ok, strict=True)]
        elif var in NUMBERS:
            out[name] = pd.to_numeric(df[var]).astype(float)
        else:
            out[name] = df[var].astype(str)
    bad_date = df["diagnosis_date"].map(lambda v: isinstance(v, str))
    if bad_date.any():  # an unreadable date cannot be stored in an SPSS date: leave it out
        out.loc[bad_date.to_numpy(), SHORT["diagnosis_date"]] = None
    pyreadstat.write_sav(
        out,
        str(path),
        file_label="SYNTHETIC DATA - NOT REAL PATIENTS",
        variable_value_labels=value_labels,
    )
    path.write_bytes(pin_sav_timestamp(path.read_bytes()))


def _redcap_dictionary() -> pd.DataFrame:
    rows = []
    for var in EN:
        name = SHORT[var] if var != "local_id" else "record_id"
        ftype, choices, valid = "text", "", ""
        if var in CODED:
            ftype = "radio"
            choices = " | ".join(f"{k}, {LABELS_EN[var][v]}" for v, k in _sav_codes(var).items())
        elif var in DATES:
            valid = "date_ymd"
        elif var in NUMBERS:
            valid = "number"
        rows.append(
            {
                "Variable / Field Name": name,
                "Form Name": "registry",
                "Section Header": "",
                "Field Type": ftype,
                "Field Label": EN[var],
                "Choices, Calculations, OR Slider Labels": choices,
                "Field Note": "",
                "Text Validation Type OR Show Slider Number": valid,
                "Text Validation Min": "",
                "Text Validation Max": "",
                "Identifier?": "",
            }
        )
    return pd.DataFrame(rows)


def _write_redcap(df: pd.DataFrame, path: Path, dict_path: Path) -> None:
    _redcap_dictionary().to_csv(dict_path, index=False, lineterminator="\n")
    text = _as_text(df)
    out = pd.DataFrame({"record_id": text["local_id"]})
    for var in EN:
        if var == "local_id":
            continue
        col = text[var]
        if var in CODED:
            codes = _sav_codes(var)
            col = col.map(lambda v, c=codes: str(c.get(v, 7)))
        out[SHORT[var] if var != "local_id" else "record_id"] = col
    out.to_csv(path, index=False, lineterminator="\n")


def _mapping(site: str, fmt: str, files: dict[str, str]) -> dict[str, Any]:
    if fmt == "cp949":
        headers, labels = KO, LABELS_KO
    elif fmt in ("sav", "redcap"):
        headers, labels = SHORT, LABELS_EN
    else:
        headers, labels = EN, LABELS_EN
    local_id = "record_id" if fmt == "redcap" else headers["local_id"]
    cols: dict[str, Any] = {}
    for var in EN:
        if var == "local_id":
            continue
        rule: dict[str, Any] = {"source": headers[var]}
        if var in CODED:
            rule["codes"] = {labels[var][v]: v for v in CODED[var]}
        if var == "sex" and fmt not in ("sav", "redcap"):
            # the planted out-of-list code (code_outside_list) is the site's data to correct:
            # declared, so check-mapping lets it through and validation queries it
            rule["query"] = [PLANTED_SEX_CODE]
        if var == "wbc":
            rule["unit"] = "x10^9/L"
        if var == "first_cycle_agents":
            rule["separator"] = ","
            rule["codes"] = dict(AGENTS)
        cols[var] = rule
    reader: dict[str, Any] = {"format": "csv"}
    if fmt == "xlsx":
        reader = {"format": "xlsx", "sheet": "CRF", "header_row": 2}
    elif fmt == "sav":
        reader = {"format": "sav"}
    elif fmt == "redcap":
        reader = {"format": "redcap", "dictionary": files["dictionary"]}
    return {
        "site": site,
        "file": files["data"],
        "reader": reader,
        "local_id": local_id,
        "drop": [],
        "notes": f"SYNTHETIC registry site ({fmt}): python -m cohortflow.demo.registry",
        "columns": cols,
    }


def study_definition(sites: Sequence[str], root: Path, study: str = STUDY) -> dict[str, Any]:
    """The registry study: the ``rr_all`` definition with these sites, no published values,
    no swimmer plot, and a competing-risks analysis of relapse after HSCT."""
    # lazy: demo generator; only this function needs it
    from cohortflow.core.dictionary import REPO_ROOT

    base = yaml.safe_load((REPO_ROOT / "config/studies/rr_all.yaml").read_text(encoding="utf-8"))
    s = dict(base)
    s["id"] = study
    s["title"] = f"SYNTHETIC registry: {len(sites)} sites (cohortflow benchmark)"
    s["data_label"] = "SYNTHETIC REGISTRY DATA (not real patients); public demo key"
    s["sites"] = {c: f"config/sites/{study}/{c}.yaml" for c in sites}
    s.pop("swimmer", None)
    for a in s.get("analyses", []):
        a.pop("published", None)
    for t in s.get("tables", {}).values():
        for item in t.get("items", []):
            item.pop("published", None)
    for r in s.get("responses", {}).get("rates", []):
        r.pop("published_percent", None)
    s["cif_analyses"] = [
        {
            "id": "relapse_nrm_hsct",
            "title": "Relapse and non-relapse mortality after HSCT",
            "endpoint": "REL_HSCT",
            "time_points_years": [1, 3],
            "time_unit": "months",
            "xmax_years": 8,
        }
    ]
    return s


def generate(
    out: Path,
    n_sites: int,
    per_site: int,
    seed: int = 2026,
    error_rate: float = 0.002,
    study: str = STUDY,
) -> dict[str, Any]:
    """Write the registry study under ``out``; returns the planted truth (also written)."""
    out = Path(out)
    codes = site_codes(n_sites)
    data_dir = out / "data" / study
    map_dir = out / "config" / "sites" / study
    map_dir.mkdir(parents=True, exist_ok=True)
    (out / "config" / "studies").mkdir(parents=True, exist_ok=True)
    frames: list[pd.DataFrame] = []
    for k, site in enumerate(codes):
        frames.append(patients(site, per_site, np.random.default_rng([seed, k])))
    # a few patients sent by two sites: same sex, birth and diagnosis date, own local ID
    n_dup = min(5, n_sites - 1) if per_site >= 2 else 0
    duplicates = []
    rng = np.random.default_rng([seed, 10**6])
    for j in range(max(n_dup, 0)):
        a, b = j % n_sites, (j + 1) % n_sites
        ra, rb = int(rng.integers(per_site)), int(rng.integers(per_site))
        for c in ("sex", "birth_date", "diagnosis_date"):
            frames[b].loc[rb, c] = frames[a].loc[ra, c]
        duplicates.append(
            {"sites": [codes[a], codes[b]], "rows": [ra + 1, rb + 1]}  # 1-based data rows
        )
    truth: dict[str, Any] = {
        "seed": seed,
        "sites": n_sites,
        "patients_per_site": per_site,
        "error_rate": error_rate,
        "cross_site_duplicates": duplicates,
        "planted": {},
    }
    for k, site in enumerate(codes):
        fmt = site_format(k)
        # SPSS and REDCap store coded fields as numeric codes with labels: a code outside the
        # labels is refused by the reader (the whole file), and an SPSS date cannot hold text
        skip = {"sav": {"code_outside_list", "unreadable_date"}, "redcap": {"code_outside_list"}}
        kinds = [x for x in ERROR_KINDS if x not in skip.get(fmt, set())]
        rng_k = np.random.default_rng([seed, k, 1])
        df, planted = plant_errors(frames[k], error_rate, rng_k, kinds)
        truth["planted"][site] = {kind: [r + 1 for r in rows] for kind, rows in planted.items()}
        sdir = data_dir / site
        sdir.mkdir(parents=True, exist_ok=True)
        stem = f"{site}_2017-03-01"
        files = {}
        if fmt in ("csv", "cp949"):
            p = sdir / f"{stem}.csv"
            _write_csv(df, p, "utf-8" if fmt == "csv" else "cp949", EN if fmt == "csv" else KO)
        elif fmt == "xlsx":
            p = sdir / f"{stem}.xlsx"
            _write_xlsx(df, p, site)
        elif fmt == "sav":
            p = sdir / f"{stem}.sav"
            _write_sav(df, p)
        else:
            p = sdir / f"{stem}_redcap.csv"
            dpath = sdir / f"{stem}_dictionary.csv"
            _write_redcap(df, p, dpath)
            files["dictionary"] = dpath.relative_to(out).as_posix()
        files["data"] = p.relative_to(out).as_posix()
        m = _mapping(site, fmt, files)
        (map_dir / f"{site}.yaml").write_text(
            "# SYNTHETIC registry site mapping (python -m cohortflow.demo.registry)\n"
            + yaml.safe_dump(m, allow_unicode=True, sort_keys=False, width=200),
            encoding="utf-8",
        )
    (out / "config" / "studies" / f"{study}.yaml").write_text(
        "# SYNTHETIC registry study (python -m cohortflow.demo.registry)\n"
        + yaml.safe_dump(
            study_definition(codes, out, study), allow_unicode=True, sort_keys=False, width=200
        ),
        encoding="utf-8",
    )
    (data_dir / "planted.json").write_text(json.dumps(truth, indent=1) + "\n", encoding="utf-8")
    return truth


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: see the module docstring."""
    ap = argparse.ArgumentParser(prog="python -m cohortflow.demo.registry", description=__doc__)
    ap.add_argument("--sites", type=int, required=True)
    ap.add_argument("--patients-per-site", type=int, required=True)
    ap.add_argument("--out", type=Path, required=True, help="repository root (or a copy)")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--error-rate", type=float, default=0.002)
    ap.add_argument("--study", default=STUDY)
    a = ap.parse_args(argv)
    if a.sites < 1 or a.patients_per_site < 1:
        ap.error("--sites and --patients-per-site must be at least 1")
    t = generate(a.out, a.sites, a.patients_per_site, a.seed, a.error_rate, a.study)
    n_err = sum(len(v) for p in t["planted"].values() for v in p.values())
    print(
        f"{a.sites} sites x {a.patients_per_site} patients written under {a.out} "
        f"({n_err} planted errors, {len(t['cross_site_duplicates'])} cross-site duplicates)"
    )


if __name__ == "__main__":
    main()
