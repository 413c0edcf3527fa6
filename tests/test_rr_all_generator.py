"""The synthetic R/R ALL submission (data/rr_all) is reproducible and matches the seed-001 counts.

Everything here reads a FRESH generation in a temporary directory (files and mappings), never
the committed config/sites/rr_all mappings a user is expected to edit (adding a site, fixing a
code): those edits cannot break these tests. The committed demo data files are only checked to
be the generator's output, file by file (a user's added site folder is not the generator's).

The counts are recomputed from the raw site files with a minimal reader written here, independent
of the pipeline's readers: pandas for the CSVs (UTF-8 with BOM, semicolon, CP949, tab), a small
REDCap flattener (plain pandas, same naming rules as the pipeline's REDCap reader), openpyxl for
XLSX (two-row merged header, blank rows, Excel serial numbers) and pyreadstat for the SPSS file
(value labels applied). The values are decoded with the site mappings in config/sites/rr_all, so
this also checks that every coded value and every column name in the files is covered by its
mapping. The planted data errors (README, "Planted data errors") are checked on their own; the
planted duplicate record (S07, rr_all.DUPLICATE_LOCAL_ID), which the pipeline sets aside, is
left out of the recomputed counts.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import yaml

from cohortflow.demo import rr_all, rr_records

ROOT = Path(__file__).resolve().parents[1]
COMMITTED_DATA = ROOT / "data" / "rr_all"
#: The fresh generation (a temporary repository-like tree), set by the `generated` fixture.
GEN = Path("/nonexistent")
DATA = GEN / "data" / "rr_all"
MAPPINGS = GEN / "config" / "sites" / "rr_all"
SITES = list(rr_all.SITES)
MISSING = {"", "na", "n/a", ".", "nan", "none", "null"}
CUTOFF = dt.date(2016, 12, 31)
EXCEL_ORIGIN = dt.date(1899, 12, 30)
COMMITTED = {
    "S01/S01_2017-02-14.csv",
    "S01/S01_2017-03-20.csv",
    "S02/S02_2017-02-20.csv",
    "S03/S03_2017-03-02_dictionary.csv",
    "S03/S03_2017-03-02_redcap.csv",
    "S04/S04_2017-03-02.csv",
    "S05/S05_2017-03-08.txt",
    "S06/S06_2017-03-15.csv",
    "S07/S07_2017-03-21.xlsx",
    "S08/S08_2017-03-27.xlsx",
    "S09/S09_2017-04-03.sav",
}
KOREAN = ("S04", "S05", "S06")


def _files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "README.md"
    }


def _generate(out: Path) -> Path:
    rr_all.generate(out / "data" / "rr_all")
    rr_all.write_mappings(out / "config" / "sites" / "rr_all", data_dir="data/rr_all")
    return out


@pytest.fixture(scope="module", autouse=True)
def generated(tmp_path_factory) -> Path:
    """A fresh generation; every helper below reads it (not the committed files)."""
    global GEN, DATA, MAPPINGS
    GEN = _generate(tmp_path_factory.mktemp("rr_all"))
    DATA, MAPPINGS = GEN / "data" / "rr_all", GEN / "config" / "sites" / "rr_all"
    return GEN


@pytest.fixture(scope="module")
def truth() -> dict[tuple[str, str], rr_all.Patient]:
    return {(p.site, p.local_id): p for p in rr_all.build_cohort()}


def _mapping(site: str) -> dict:
    return yaml.safe_load((MAPPINGS / f"{site}.yaml").read_text(encoding="utf-8"))


def _file_in_use(mapping: dict) -> Path:
    if "submissions" in mapping:
        return GEN / max(mapping["submissions"], key=lambda s: s["date"])["file"]
    return GEN / mapping["file"]


def test_generation_is_reproducible(generated, tmp_path):
    again = _generate(tmp_path)
    assert set(_files(generated / "data" / "rr_all")) == COMMITTED
    for part in ("data/rr_all", "config/sites/rr_all"):
        assert _files(again / part) == _files(generated / part), part


def test_committed_demo_files_are_the_generated_ones(generated):
    """Each generated data file is committed byte for byte (other files may be added)."""
    committed = _files(COMMITTED_DATA)
    fresh = _files(generated / "data" / "rr_all")
    for name, blob in fresh.items():
        assert committed.get(name) == blob, f"data/rr_all/{name} differs from the generator"


def test_mappings_are_valid(generated):
    assert sorted(p.stem for p in MAPPINGS.glob("*.yaml")) == SITES
    import jsonschema

    schema = json.loads((ROOT / "schemas" / "site.schema.json").read_text(encoding="utf-8"))
    for site in SITES:
        jsonschema.validate(_mapping(site), schema)


def test_sav_header_timestamp_is_pinned():
    data = (DATA / "S09" / "S09_2017-04-03.sav").read_bytes()
    assert data[:4] == b"$FL2"
    # rec_type 4 + prod_name 60 + layout_code, nominal_case_size, compression, weight_index,
    # ncases 4 each + bias 8 = 92: creation_date (9), creation_time (8), file_label (64)
    assert data[92:101] == b"01 Jan 17" and data[101:109] == b"00:00:00"
    assert data[109:173].rstrip() == b"SYNTHETIC DATA - NOT REAL PATIENTS"


# --- a minimal, independent reader of the raw files -----------------------------------------


def _text(v: object) -> str | None:
    if v is None or (isinstance(v, float) and pd.isna(v)) or v is pd.NaT:
        return None
    if isinstance(v, (pd.Timestamp, dt.datetime)):
        return v.date().isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    t = str(v).strip()
    return t or None


def _date(t: str, partial: str | None) -> tuple[dt.date, bool]:
    """(date, imputed) from ISO, dotted, unpadded, Korean, Excel-serial or year-month text."""
    m = re.fullmatch(r"(\d{4})[-.](\d{1,2})[-.](\d{1,2})", t) or re.fullmatch(
        r"(\d{4})년 (\d{1,2})월 (\d{1,2})일", t
    )
    if m:
        return dt.date(*(int(g) for g in m.groups())), False
    m = re.fullmatch(r"(\d{4})년 (\d{1,2})월", t)
    if m and partial == "mid":
        return dt.date(int(m.group(1)), int(m.group(2)), 15), True
    if re.fullmatch(r"\d{5}", t):
        return EXCEL_ORIGIN + dt.timedelta(days=int(t)), False
    raise AssertionError(f"unrecognised date {t!r}")


def _read_csv(site: str, path: Path, mapping: dict) -> pd.DataFrame:
    raw = path.read_bytes()
    if site == "S01":
        assert raw.startswith(b"\xef\xbb\xbf")
        enc = "utf-8-sig"
    else:
        assert not raw.startswith(b"\xef\xbb\xbf")
        enc = "cp949" if site in KOREAN else "utf-8"
    expect = pytest.raises(UnicodeDecodeError) if enc == "cp949" else contextlib.nullcontext()
    with expect:  # the Korean sites' files are CP949, not UTF-8
        raw.decode("utf-8")
    sep = {"S02": ";", "S05": "\t"}.get(site, ",")
    assert mapping["reader"].get("delimiter", sep) == sep
    return pd.read_csv(path, encoding=enc, sep=sep, dtype=str, keep_default_na=False)


def _read_xlsx(path: Path, reader: dict) -> pd.DataFrame:
    from openpyxl import load_workbook

    ws = load_workbook(path)[reader["sheet"]]
    last = reader.get("header_row", 1)
    first = last - reader.get("header_rows", 1) + 1
    names = []
    for col in range(1, ws.max_column + 1):
        parts = []
        for r in range(first, last + 1):
            value = ws.cell(r, col).value
            for rng in ws.merged_cells.ranges:
                if rng.min_row <= r <= rng.max_row and rng.min_col <= col <= rng.max_col:
                    value = ws.cell(rng.min_row, rng.min_col).value
            if value is not None and str(value).strip() not in parts:
                parts.append(str(value).strip())
        names.append(" / ".join(parts))
    rows = [
        list(r)
        for r in ws.iter_rows(min_row=last + 1, values_only=True)
        if any(v is not None for v in r)
    ]
    return pd.DataFrame(rows, columns=names, dtype=object)


def _redcap_choices(text: str) -> dict[str, str]:
    return {
        code.strip(): label.strip()
        for code, _, label in (item.partition(",") for item in text.split("|") if item.strip())
    }


def _flatten_redcap(export: Path, dictionary: Path) -> pd.DataFrame:
    """One row per record: codes -> labels, checkbox labels joined by '; ', field[event] when a
    field has values in several events, field#n for repeating-instrument instances."""
    dd = pd.read_csv(dictionary, dtype=str, keep_default_na=False)
    ex = pd.read_csv(export, dtype=str, keep_default_na=False)
    rid = dd.iloc[0]["Variable / Field Name"]
    fields = {r["Variable / Field Name"]: r for _, r in dd.iterrows()}
    labels = {
        name: {"1": "Yes", "0": "No"}
        if f["Field Type"] == "yesno"
        else _redcap_choices(f["Choices, Calculations, OR Slider Labels"])
        for name, f in fields.items()
        if f["Field Type"] in ("radio", "dropdown", "yesno", "checkbox")
    }
    checkboxes = [n for n, f in fields.items() if f["Field Type"] == "checkbox"]

    def form_has_data(row: pd.Series, form: str) -> bool:
        return any(
            row.get(n, "") != ""
            for n, f in fields.items()
            if f["Form Name"] == form and f["Field Type"] not in ("checkbox", "descriptive")
        )

    # (record, column) -> value, collecting for each column the events it has values in
    cells: dict[tuple[str, str, str | None, str | None], str] = {}
    events: dict[str, set[str]] = {}
    for _, row in ex.iterrows():
        inst = row["redcap_repeat_instance"] or None
        for col in ex.columns[4:]:
            base = col.split("___")[0]
            v = row[col]
            if base in checkboxes:
                if not form_has_data(row, fields[base]["Form Name"]):
                    continue  # REDCap's 0 filler in rows of other instruments
            elif v == "":
                continue
            else:
                v = labels.get(col, {}).get(v, v)
            cells[(row[rid], col, row["redcap_event_name"], inst)] = v
            events.setdefault(col, set()).add(row["redcap_event_name"])
    for (rec, col, ev, inst), _v in list(cells.items()):
        base = col.split("___")[0]
        if base in checkboxes and col == f"{base}___1":
            checked = [
                lab
                for code, lab in labels[base].items()
                if cells.get((rec, f"{base}___{code}", ev, inst)) == "1"
            ]
            cells[(rec, base, ev, inst)] = "; ".join(checked)
            events.setdefault(base, set()).add(ev)
    out: dict[str, dict[str, str]] = {r: {rid: r} for r in dict.fromkeys(ex[rid])}
    for (rec, col, ev, inst), v in cells.items():
        name = col + (f"[{ev}]" if len(events[col]) > 1 else "") + (f"#{inst}" if inst else "")
        out[rec][name] = v
    return pd.DataFrame(list(out.values()), dtype=object)


def _read_raw(site: str) -> tuple[dict, pd.DataFrame]:
    mapping = _mapping(site)
    path = _file_in_use(mapping)
    assert path.parent == DATA / site and path.name.startswith(f"{site}_2017-")
    reader = mapping["reader"]
    if reader["format"] == "csv":
        df = _read_csv(site, path, mapping)
    elif reader["format"] == "redcap":
        df = _flatten_redcap(path, GEN / reader["dictionary"])
    elif reader["format"] == "xlsx":
        df = _read_xlsx(path, reader)
    else:
        import pyreadstat

        assert reader["format"] == "sav" and path.suffix == ".sav"
        df, _ = pyreadstat.read_sav(str(path), apply_value_formats=True)
        df = df.astype(object)
    for col in mapping["drop"]:
        assert col in df.columns
    return mapping, df.drop(columns=mapping["drop"])


def _without_planted_duplicate(site: str, mapping: dict, raw: pd.DataFrame) -> pd.DataFrame:
    """The raw rows less the planted duplicate record (set aside by the pipeline: fatal)."""
    ids = [_text(v) for v in raw[mapping["local_id"]]]
    keep = [not (site == rr_all.DUPLICATE_SITE and i == rr_all.DUPLICATE_LOCAL_ID) for i in ids]
    assert sum(not k for k in keep) == (site == rr_all.DUPLICATE_SITE)
    return raw[keep].reset_index(drop=True)


def _canonical(site: str) -> pd.DataFrame:
    mapping, raw = _read_raw(site)
    raw = _without_planted_duplicate(site, mapping, raw)
    out: dict[str, list] = {"imputed": [False] * len(raw)}
    for var, rule in mapping["columns"].items():
        codes = {str(k).lower(): v for k, v in (rule.get("codes") or {}).items()}
        extra = set(rule.get("missing", []))
        units = raw[rule["unit_source"]] if "unit_source" in rule else [rule.get("unit")] * len(raw)
        values = []
        for i, (cell, unit) in enumerate(zip(raw[rule["source"]], units, strict=True)):
            t = _text(cell)
            if t is None or t.lower() in MISSING or t in extra:
                values.append(None)
            elif var.endswith("_date"):
                d, imputed = _date(t, rule.get("partial_dates"))
                out["imputed"][i] |= imputed
                values.append(d)
            elif "separator" in rule:
                tokens = [x.strip() for x in t.split(rule["separator"]) if x.strip()]
                values.append(tuple(codes[x.lower()] for x in tokens))
            elif codes:
                assert t.lower() in codes, f"{site} {var}: {t!r} not in the codes"
                values.append(codes[t.lower()])
            else:
                x = float(t.replace(",", "")) if re.fullmatch(r"\d{1,3}(,\d{3})+", t) else float(t)
                if var == "wbc":
                    x *= {"/uL": 1e-3, "x10^3/uL": 1.0, "x10^9/L": 1.0}[unit]
                values.append(x)
        out[var] = values
    df = pd.DataFrame(out)
    df["site"] = site
    df["local_id"] = [_text(v) for v in raw[mapping["local_id"]]]
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


def test_values_equal_the_generator_truth(patients, truth):
    """Every decoded value (WBC converted to x10^9/L, imputed dates included) is the truth."""
    for r in patients.itertuples():
        p = truth[(r.site, r.local_id)]
        # the planted wrong-unit cell holds the value in /uL: read as x10^3/uL, 1000 times too big
        factor = 1 if (r.site, r.local_id) == rr_all.WRONG_UNIT_WBC else 1 / 1000
        assert r.wbc == pytest.approx(p.wbc * factor, abs=1e-9), (r.site, r.local_id)
        got = (r.birth_date, r.rr_diagnosis_date, r.hsct_date, r.death_date)
        assert got == (p.birth, p.rr, p.hsct, p.death)
        assert r.last_followup_date == p.lfu
        assert sorted(r.first_cycle_agents or ()) == sorted(p.agents)
    site, local_id = rr_all.WRONG_UNIT_WBC
    wbc = patients.wbc[(patients.site != site) | (patients.local_id != local_id)]
    assert len(wbc) == 69 and 0.8 <= wbc.min() and wbc.max() <= 650


# --- the quirks ---------------------------------------------------------------------------------


def test_s01_resubmission():
    mapping = _mapping("S01")
    subs = mapping["submissions"]
    assert "file" not in mapping and [s["date"] for s in subs] == ["2017-02-14", "2017-03-20"]
    old, new = (
        pd.read_csv(GEN / s["file"], encoding="utf-8-sig", dtype=str, keep_default_na=False)
        for s in subs
    )
    assert old.shape == new.shape and list(old.columns) == list(new.columns)
    diff = [(r, c) for c in new.columns for r in range(len(new)) if old.at[r, c] != new.at[r, c]]
    assert len(diff) == 2
    (r1, c1), (r2, c2) = sorted(diff, key=lambda x: x[1])
    assert c1 == "BM blasts (%)" and old.at[r1, c1] == new.at[r1, c1].replace(".", "")
    assert float(old.at[r1, c1]) > 100
    assert c2 == "Date of death" and old.at[r2, c2] == "" and new.at[r2, c2] != ""
    assert new.at[r2, c2] == new.at[r2, "Date of last follow-up"]
    wbc = new["WBC at diagnosis (/uL)"]
    assert wbc.str.fullmatch(r"\d{1,3}(,\d{3})*").all() and wbc.str.contains(",").sum() >= 10
    text = (DATA / "S01" / "S01_2017-03-20.csv").read_text(encoding="utf-8-sig")
    assert re.search(r',"\d{1,3},\d{3}",', text)  # quoted, because of the comma


def test_s03_redcap_export_and_dictionary():
    mapping = _mapping("S03")
    dd = pd.read_csv(GEN / mapping["reader"]["dictionary"], dtype=str, keep_default_na=False)
    assert tuple(dd.columns) == rr_all.REDCAP_DICTIONARY_COLUMNS
    assert dd.iloc[0]["Variable / Field Name"] == "record_id" == mapping["local_id"]
    assert (dd["Identifier?"] == "").all()  # no identifier fields, record_id included
    types = Counter(dd["Field Type"])
    assert {"radio", "dropdown", "yesno", "checkbox", "text", "descriptive"} <= set(types)
    sex = dd.set_index("Variable / Field Name").loc["sex"]
    assert sex["Choices, Calculations, OR Slider Labels"] == "1, Male | 2, Female"
    ex = pd.read_csv(_file_in_use(mapping), dtype=str, keep_default_na=False)
    assert list(ex.columns[:4]) == [
        "record_id",
        "redcap_event_name",
        "redcap_repeat_instrument",
        "redcap_repeat_instance",
    ]
    assert set(ex.redcap_event_name) == {"baseline_arm_1", "followup_arm_1"}
    assert [f"agents___{k}" for k in range(1, 17)] == [c for c in ex.columns if "___" in c]
    tx = ex[ex.redcap_repeat_instrument == "transplant"]
    assert Counter(tx.redcap_repeat_instance) == {"1": 3, "2": 1}
    second = tx[tx.redcap_repeat_instance == "2"].iloc[0]
    first = tx[(tx.record_id == second.record_id) & (tx.redcap_repeat_instance == "1")].iloc[0]
    outcome = ex[(ex.record_id == second.record_id) & (ex.redcap_event_name == "followup_arm_1")]
    assert first.tx_date < second.tx_date <= outcome.iloc[0].death_date
    flat = _flatten_redcap(_file_in_use(mapping), GEN / mapping["reader"]["dictionary"])
    assert {"tx_date#1", "tx_date#2", "agents", "agents___1", "death_date", "sex"} <= set(
        flat.columns
    )
    assert set(flat.sex) == {"Male", "Female"}


def test_identifiers_are_fake_and_dropped(truth):
    mapping = _mapping("S04")
    assert mapping["drop"] == ["성명", "주민등록번호"]
    raw = pd.read_csv(_file_in_use(mapping), encoding="cp949", dtype=str, keep_default_na=False)
    assert set(raw["성명"]) <= set(rr_all.FAKE_NAMES) and raw["성명"].is_unique
    for local_id, rrn in zip(raw["환자번호"], raw["주민등록번호"], strict=True):
        p = truth[("S04", local_id)]
        m = re.fullmatch(r"(\d{6})-(\d)(\d{6})", rrn)
        assert m and m.group(1) == p.birth.strftime("%y%m%d")
        assert int(m.group(2)) == (1 if p.sex == "M" else 2) + (2 if p.birth.year >= 2000 else 0)
        digits = m.group(1) + m.group(2) + m.group(3)
        assert rr_records.rrn_check_digit(digits[:12]) != int(digits[12])  # invalid on purpose
    mapping = _mapping("S06")
    assert mapping["drop"] == ["연락처", "주소"]
    raw = pd.read_csv(_file_in_use(mapping), encoding="cp949", dtype=str, keep_default_na=False)
    assert raw["연락처"].str.fullmatch(r"010-0000-\d{4}").all()
    assert raw["주소"].str.contains("가상구|예시구|모의구").all()
    for site in SITES:
        if site not in ("S04", "S06"):
            assert _mapping(site)["drop"] == []


def test_korean_sites_quirks(patients, truth):
    s05 = _mapping("S05")
    path = _file_in_use(s05)
    assert path.suffix == ".txt" and s05["reader"] == {"format": "csv"}  # tab: sniffed
    assert path.read_bytes().split(b"\r\n")[0].count(b"\t") == 22
    rows = patients[patients.site == "S05"]
    assert 1 <= rows.imputed.sum() <= 2
    for r in rows[rows.imputed].itertuples():
        assert r.last_followup_date == truth[("S05", r.local_id)].lfu  # imputed day 15 = truth
    s04 = pd.read_csv(_file_in_use(_mapping("S04")), encoding="cp949", dtype=str)
    assert set(s04["WBC단위"]) == {"/uL", "x10^3/uL"}
    s06 = pd.read_csv(
        _file_in_use(_mapping("S06")), encoding="cp949", dtype=str, keep_default_na=False
    )
    dates = [v for c in ("생년월일", "진단일", "재발진단일", "최종추적일") for v in s06[c] if v]
    assert any(re.fullmatch(r"\d{4}\.\d\d\.\d\d", d) for d in dates)
    assert any(re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}", d) for d in dates)
    assert all(re.fullmatch(r"\d{4}(\.\d\d\.\d\d|-\d{1,2}-\d{1,2})", d) for d in dates)


def test_xlsx_and_sav_quirks():
    from openpyxl import load_workbook

    s07 = _mapping("S07")
    assert s07["reader"] == {"format": "xlsx", "sheet": "CRF", "header_row": 2, "header_rows": 2}
    ws = load_workbook(_file_in_use(s07))["CRF"]
    assert len(ws.merged_cells.ranges) == 5 and ws["A1"].value is None
    assert ws["A2"].value == "No." and s07["columns"]["hsct_date"]["source"] == "HSCT / Date"
    s08 = _mapping("S08")
    ws = load_workbook(_file_in_use(s08))["CRF"]
    ids = [ws.cell(r, 1).value for r in range(4, ws.max_row + 1)]
    assert ids.count(None) == 3 and len(ids) == 7  # blank rows between patients
    lfu = [c.value for c in ws["V"][3:] if c.value is not None]
    assert len(lfu) == 4 and all(type(v) is int for v in lfu)  # Excel serial numbers
    assert ws["V3"].value == "Date of last follow-up"
    import pyreadstat

    _, meta = pyreadstat.read_sav(str(_file_in_use(_mapping("S09"))), metadataonly=True)
    assert meta.variable_value_labels["sex"] == {1.0: "Male", 2.0: "Female"}
    assert meta.original_variable_types["dob"] == "DATE11"
    assert meta.column_names_to_labels["wbc"] == "WBC at initial diagnosis (x10^3/uL)"


# --- the planted data errors ------------------------------------------------------------------


def test_planted_duplicate_record_s07(patients):
    """S07 sent 6 records: its 5 patients plus a copy of an S04 patient (same sex, birth date
    and initial diagnosis date) whose death date is before its R/R diagnosis date and whose
    response is not in S07's code list. 71 records received - 1 set aside = 70 screened."""
    from openpyxl import load_workbook

    mapping, raw = _read_raw("S07")
    assert len(raw) == 6 and _text(raw.iloc[-1][mapping["local_id"]]) == rr_all.DUPLICATE_LOCAL_ID
    ws = load_workbook(_file_in_use(mapping))["CRF"]
    assert ws.max_row == 8 and ws.cell(8, 2).value == rr_all.DUPLICATE_LOCAL_ID  # sheet row 8
    received = sum(len(_read_raw(s)[1]) for s in SITES)
    assert received == 71 and received - 1 == len(patients) == 70
    cols = mapping["columns"]
    dup = raw.iloc[-1]

    def cell(var: str) -> str | None:
        return _text(dup[cols[var]["source"]])

    response = cols["induction_response"]
    assert cell("induction_response") == rr_all.DUPLICATE_RESPONSE == "CRi"
    assert "CRi" not in response["codes"]  # outside the code list
    assert [r for r in raw[response["source"]] if r not in response["codes"]] == ["CRi"]
    rr, death, lfu = (
        _date(cell(v), None)[0] for v in ("rr_diagnosis_date", "death_date", "last_followup_date")
    )
    assert death < rr == lfu  # death before R/R diagnosis (swapped dates)
    key = (
        cols["sex"]["codes"][cell("sex")],
        _date(cell("birth_date"), None)[0],
        _date(cell("diagnosis_date"), None)[0],
    )
    # the twin: exactly one of the 70 records (S04) has the same sex, birth and diagnosis dates
    keys = list(zip(patients.sex, patients.birth_date, patients.diagnosis_date, strict=True))
    assert len(set(keys)) == 70  # no other cross-site (or within-site) duplicate
    twins = patients[[k == key for k in keys]]
    assert [(s, i) for s, i in zip(twins.site, twins.local_id, strict=True)] == [
        rr_all.DUPLICATE_OF
    ]
    twin = twins.iloc[0]
    assert twin.eligible and twin.treatment_data_available
    assert (twin.rr_diagnosis_date, twin.death_date) == (death, rr)  # the true dates, swapped


def test_planted_wrong_unit_wbc_s02(patients, truth):
    """S02's WBC column is x10^3/uL; one cell holds the value in /uL: 1500 (-> 1500 x10^9/L,
    above the 500 plausibility warning, within the 0-2000 range: kept)."""
    mapping = _mapping("S02")
    rule = mapping["columns"]["wbc"]
    assert rule["unit"] == "x10^3/uL"
    lines = _file_in_use(mapping).read_text(encoding="utf-8").split("\n")
    site, local_id = rr_all.WRONG_UNIT_WBC
    row = lines[3].split(";")  # file row 4: header + the third patient
    header = lines[0].split(";")
    assert row[0] == local_id and row[header.index(rule["source"])] == "1500"
    assert truth[(site, local_id)].wbc == rr_all.WRONG_UNIT_WBC_PER_UL == 1500
    r = patients[(patients.site == site) & (patients.local_id == local_id)].iloc[0]
    assert r.eligible and r.treatment_data_available and r.age_dx >= 10  # NCI/Rome HR anyway
    assert 500 < r.wbc <= 2000
    others = patients[(patients.site == site) & (patients.local_id != local_id)]
    assert others.wbc.max() <= 650
