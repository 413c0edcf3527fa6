"""Value lineage: where one harmonised value of one patient came from and what used it.

``trace_value`` follows a patient's canonical variable back to the site, the submitted file
(path and SHA-256), sheet, row and column, the raw cell text of the restricted lossless copy,
the mapping rule and unit conversion that turned it into the canonical value, the checks it
passed or failed, and the risk schemes, eligibility criteria, endpoints, analyses and tables
that read it. ``format_value_trace`` prints it.

A trace shows study IDs only: the local patient ID column of the restricted copy is never read
into the output.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pandas as pd

from cohortflow.classify.schemes import scheme_inputs
from cohortflow.core import values
from cohortflow.core.config import load_study
from cohortflow.core.defaults import Analysis, CoxModel, Eligibility, Endpoint, Study
from cohortflow.core.dictionary import columns, spec_of
from cohortflow.core.errors import CohortflowError
from cohortflow.core.expr import names as expr_names
from cohortflow.core.io import read_parquet_metadata, sha256_file
from cohortflow.harmonise.derive import completed_months, years_between
from cohortflow.provenance.lineage import (
    is_na,
    json_value,
    rel_path,
    study_dirs,
    text_of,
    truth_of,
)
from cohortflow.validate.checks import catalogue
from cohortflow.validate.mapping import convert_value

LINEAGE = ("source_sha256", "source_sheet", "source_row")
RAW_ROW, RAW_SHEET = "_source_row", "_source_sheet"

#: Derived canonical variables: their inputs and how they are computed
#: (cohortflow.harmonise.derive).
DERIVED: dict[str, tuple[list[str], str]] = {
    "age_at_diagnosis_months": (
        ["birth_date", "diagnosis_date"],
        "completed calendar months from birth_date to diagnosis_date",
    ),
    "age_at_diagnosis_years": (
        ["birth_date", "diagnosis_date"],
        "(diagnosis_date - birth_date) in days / 365.25",
    ),
    "age_at_rr_years": (
        ["birth_date", "rr_diagnosis_date"],
        "(rr_diagnosis_date - birth_date) in days / 365.25",
    ),
    "prednisone_response": (
        ["pb_blasts_day8"],
        "good if pb_blasts_day8 < 1,000/uL, poor otherwise",
    ),
    "relapse_timing": (
        ["diagnosis_date", "relapse_date", "end_of_therapy_date"],
        "BFM: very early < 18 completed months from diagnosis; early >= 18 months and < 6 "
        "months after the end of therapy; late >= 6 months after the end of therapy",
    ),
    "kmt2a_status": (
        ["karyotype", "kmt2a_fish", "kmt2a_pcr"],
        "KMT2A status combining karyotype, FISH and PCR",
    ),
    "kmt2a_partner": (
        ["karyotype", "kmt2a_fish", "kmt2a_pcr"],
        "KMT2A translocation partner parsed from the karyotype",
    ),
    "wbc_raw": (["wbc"], "the WBC cell exactly as submitted"),
    "wbc_unit": (["wbc"], "unit of the WBC cell (mapping `unit` or `unit_source`), normalised"),
}


def affected(variable: str) -> list[str]:
    """The variable and every derived variable computed from it (transitively)."""
    out = [variable]
    changed = True
    while changed:
        changed = False
        for d, (inputs, _) in DERIVED.items():
            if d not in out and any(i in out for i in inputs):
                out.append(d)
                changed = True
    return out


def _same(a: Any, b: Any) -> bool:
    """Whether a re-derived value equals the stored one (floats to 1e-9)."""
    if is_na(a) or is_na(b):
        return is_na(a) and is_na(b)
    if isinstance(a, float | int) and isinstance(b, float | int) and not isinstance(a, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return text_of(a) == text_of(b)


# --------------------------------------------------------------------------------------------
# finding the patient


def _find_patient(study_dir: Path, study_id: str) -> tuple[pd.Series, str]:
    """The patient's harmonised row and where it lives ('harmonised' or 'set aside')."""
    p = study_dir / "harmonised" / "patients.parquet"
    if not p.exists():
        raise CohortflowError(f"no {p}: run the workflow first")
    df = pd.read_parquet(p)
    hit = df[df["study_id"] == study_id]
    if len(hit):
        return hit.iloc[0], "harmonised"
    for q in sorted((study_dir / "quarantine").glob("*.parquet")):
        qd = pd.read_parquet(q)
        hit = qd[qd["study_id"] == study_id] if "study_id" in qd else qd.iloc[0:0]
        if len(hit):
            return hit.iloc[0], "set aside"
    raise CohortflowError(
        f"study ID {study_id!r} is neither in {p} nor set aside in {study_dir / 'quarantine'}"
    )


def _raw_row(raw_path: Path, row: pd.Series) -> dict[str, Any] | None:
    """The all-text record of the restricted copy holding the patient's source row."""
    raw = pd.read_parquet(raw_path)
    rows = raw[RAW_ROW].astype(str) == str(int(row["source_row"]))
    if RAW_SHEET in raw.columns:
        sheet = "" if is_na(row.get("source_sheet")) else str(row["source_sheet"])
        rows &= raw[RAW_SHEET].fillna("").astype(str) == sheet
    hit = raw[rows]
    return hit.iloc[0].to_dict() if len(hit) else None


# --------------------------------------------------------------------------------------------
# the mapping rule


def _date_form(text: str) -> str:
    t = text.strip()
    if values.DATE_YMD.match(t):
        sep = re.findall(r"[-./]", t)
        kind = {"-": "ISO", ".": "dotted", "/": "slashed"}.get(sep[0] if sep else "-", "")
        return f"full date, {kind} year-month-day".replace(" ,", ",")
    if values.DATE_KOREAN.match(t):
        return "full date, Korean 'YYYY년 M월 D일'"
    if values.DATE_YM.match(t):
        return "partial date (year and month only)"
    if values.DATE_Y.match(t):
        return "partial date (year only)"
    if values.NUMBER.match(t):
        return "Excel serial day number (days since 1899-12-30)"
    return "unrecognised date form"


def _describe_rule(
    variable: str, rule: dict[str, Any], text: str | None, unit_text: str | None
) -> tuple[list[str], Any]:
    """Steps that turn the raw cell into the canonical value, and the value they give."""
    spec = spec_of(variable)
    steps: list[str] = []
    missing = set(rule.get("missing", []))
    if text is None:
        return ["no raw cell found"], None
    if values.is_missing(text, missing):
        extra = f" (mapping `missing`: {sorted(missing)})" if missing else ""
        return [f"cell {text!r} is a missing-value token{extra}: value missing"], None
    t = str(text).strip()
    try:
        value, note = convert_value(text, spec, rule)
    except ValueError as exc:
        return [f"cell {t!r} could not be read: {exc} (value set to missing)"], None
    codes = {str(k).strip().lower(): (k, v) for k, v in (rule.get("codes") or {}).items()}
    kind = spec["type"]
    if kind == "date":
        steps.append(
            f"date read from {t!r}: {_date_form(t)} -> {text_of(value)}"
            + (f"; {note} (`partial_dates: {rule.get('partial_dates', 'mid')}`)" if note else "")
        )
    elif rule.get("separator"):
        toks = [x.strip() for x in t.replace(";", rule["separator"]).split(rule["separator"])]
        shown = [f"{x!r} -> {codes[x.lower()][1]!r}" for x in toks if x and x.lower() in codes]
        steps.append(
            f"list split on {rule['separator']!r}; items mapped by the code list: "
            + (", ".join(shown) if shown else "kept as written")
            + f"; sorted and joined by ';' -> {value!r}"
        )
    elif t.lower() in codes:
        k, v = codes[t.lower()]
        steps.append(f"code {k!r} -> {v!r} (mapping `codes`, {len(codes)} codes)")
    elif kind in ("int", "float"):
        how = {
            "thousands": " (thousands separator removed)",
            "ambiguous": " (comma read as a thousands separator: the unit makes the decimal "
            "reading implausible)",
            "decimal": " (decimal comma read as a decimal point)",
        }.get(values.comma_reading(t) or "", "")
        if value is None and values.comma_reading(t) == "ambiguous":
            how = " (thousands separator or decimal comma, ambiguous for the unit: left unread)"
        steps.append(f"number read from {t!r} -> {text_of(value)}{how}")
    elif kind == "bool":
        steps.append(f"{t!r} -> {value} (default yes/no codes)")
    elif kind == "category":
        steps.append(f"{t!r} -> {value!r} (an allowed value of the dictionary)")
    else:
        steps.append(f"text kept as written -> {value!r}")
    if variable == "wbc" and value is not None:
        unit = values.cell_count_unit(rule, unit_text)
        where = (
            f"column {rule['unit_source']!r} of the same row"
            if "unit_source" in rule
            else "mapping `unit`"
        )
        try:
            new, canon = values.convert_cell_count(value, unit)
            factor = values.TO_10E9_PER_L[canon]
            steps.append(
                f"unit {unit!r} ({where}) -> x10^9/L: {text_of(value)} {canon} x {factor:g} = "
                f"{text_of(new)} x10^9/L"
            )
            value = new
        except ValueError as exc:
            steps.append(f"unit {unit!r} ({where}) not usable: {exc} (value set to missing)")
            value = None
    return steps, value


def _source_trace(
    variable: str,
    row: pd.Series,
    mapping: dict[str, Any],
    raw_rec: dict[str, Any] | None,
    raw_note: str | None,
) -> dict[str, Any]:
    """Source column, raw cell, mapping rule and re-derived value of one mapped variable."""
    base = "wbc" if variable in ("wbc_raw", "wbc_unit") else variable
    rule = mapping["columns"].get(base)
    out: dict[str, Any] = {
        "variable": variable,
        "harmonised": json_value(row.get(variable)),
        "source_column": None,
        "rule": None,
        "raw": None,
        "raw_available": raw_rec is not None,
        "raw_note": raw_note,
        "steps": [],
        "rederived": None,
        "reproduced": None,
    }
    if rule is None:
        out["steps"] = [f"not mapped by site {mapping['site']}'s mapping: value missing"]
        return out
    src = rule["source"]
    out["source_column"] = src
    out["rule"] = {k: v for k, v in rule.items() if k != "source"}
    if "unit_source" in rule:
        out["unit_column"] = rule["unit_source"]
    if src == mapping.get("local_id"):
        out["raw_note"] = "the source is the local patient ID column: never shown"
        return out
    if raw_rec is None:
        return out
    text = raw_rec.get(src)
    text = None if is_na(text) else str(text)
    out["raw"] = text
    unit_text = None
    if "unit_source" in rule:
        u = raw_rec.get(rule["unit_source"])
        unit_text = None if is_na(u) else str(u)
        out["raw_unit"] = unit_text
    if src not in raw_rec:
        out["steps"] = [f"column {src!r} is not in the restricted copy"]
        return out
    steps, value = _describe_rule(base, rule, "" if text is None else text, unit_text)
    if variable == "wbc_raw":
        missing = set(rule.get("missing", []))
        value = None if text is None or values.is_missing(text, missing) else text
        steps = ["the WBC cell kept as written"]
    elif variable == "wbc_unit":
        try:
            u = unit_text if "unit_source" in rule else rule.get("unit")
            value = values.normalise_unit(u) if u and value is not None else None
        except ValueError:
            value = None
        steps = [f"unit of the WBC cell, normalised -> {text_of(value)}"]
    out["steps"] = steps
    out["rederived"] = json_value(value)
    out["reproduced"] = _same(json_value(value), json_value(row.get(variable)))
    return out


def _recompute(variable: str, row: pd.Series) -> tuple[Any, str]:
    """A derived variable recomputed from the patient's harmonised inputs, with the arithmetic."""

    def s(col: str) -> pd.Series:
        return pd.Series([row.get(col)])

    if variable == "age_at_diagnosis_months":
        v = completed_months(s("birth_date"), s("diagnosis_date")).iloc[0]
        return json_value(
            v
        ), f"{text_of(row.get('birth_date'))} -> {text_of(row.get('diagnosis_date'))}"
    if variable in ("age_at_diagnosis_years", "age_at_rr_years"):
        end = "diagnosis_date" if variable == "age_at_diagnosis_years" else "rr_diagnosis_date"
        v = years_between(s("birth_date"), s(end)).iloc[0]
        b, e = row.get("birth_date"), row.get(end)
        if is_na(b) or is_na(e):
            return None, "an input is missing"
        days = (pd.Timestamp(e) - pd.Timestamp(b)).days
        return json_value(v), f"{days} days / 365.25"
    if variable in ("kmt2a_status", "kmt2a_partner"):
        k, fish, pcr = (row.get(c) for c in ("karyotype", "kmt2a_fish", "kmt2a_pcr"))
        st, partner = values.kmt2a_status(*(None if is_na(v) else str(v) for v in (k, fish, pcr)))
        how = f"karyotype {text_of(k)}, FISH {text_of(fish)}, PCR {text_of(pcr)}"
        return (st if variable == "kmt2a_status" else partner), how
    if variable == "prednisone_response":
        b = row.get("pb_blasts_day8")
        if is_na(b):
            return None, "pb_blasts_day8 missing"
        return ("good" if float(b) < 1000 else "poor"), f"pb_blasts_day8 = {text_of(b)}"
    return json_value(row.get(variable)), "as stored"


# --------------------------------------------------------------------------------------------
# checks and rules


def _checks(
    study_dir: Path,
    site: str,
    study_id: str,
    row: pd.Series,
    vars_: list[str],
    cutoff: str,
    root: Path,
    cell_checks: list[str] | None = None,
) -> dict[str, Any]:
    """Findings of this patient naming the variable(s), the row checks reading them and the
    cell checks applied while mapping (``cell_checks``): failed, passed or not evaluated."""
    fpath = study_dir / "validate" / f"{site}.findings.csv"
    failed: list[dict[str, Any]] = []
    if fpath.exists():
        f = pd.read_csv(fpath, dtype=str, keep_default_na=False)
        f = f[f["study_id"] == study_id]
        for r in f.to_dict("records"):
            if set(str(r["variable"]).split(";")) & set(vars_):
                failed.append(
                    {k: r.get(k) for k in ("check", "severity", "variable", "value", "message")}
                )
    failed_names = {f["check"] for f in failed}
    frame = pd.DataFrame([row.to_dict()])
    frame["cutoff_date"] = pd.Timestamp(cutoff)
    passed, unknown = [], []
    try:
        cat = catalogue(root)
    except (OSError, CohortflowError):  # a tree without its own catalogue: the package's
        cat = catalogue()
    for c in cat.values():
        if "expr" not in c or not set(expr_names(c["expr"])) & set(vars_):
            continue
        if c["name"] in failed_names:
            continue
        r = truth_of(c["expr"], frame)
        entry = {"check": c["name"], "severity": c["severity"], "expr": c["expr"]}
        (passed if r in ("true", "not evaluable") else unknown).append(entry)
    for name in cell_checks or []:
        if name in failed_names:
            continue
        entry = {"check": name, "severity": cat[name]["severity"], "expr": "while mapping the cell"}
        (passed if not is_na(row.get(vars_[0])) else unknown).append(entry)
    return {
        "findings_file": rel_path(fpath, root),
        "failed": failed,
        "passed": passed,
        "not_evaluated": unknown,
    }


def _patient_record(path: Path, study_id: str) -> pd.DataFrame:
    """The rows of one patient in a result table (empty when the file is absent)."""
    if not path.exists():
        return pd.DataFrame()
    if path.suffix == ".parquet":
        d = pd.read_parquet(path)
    else:
        d = pd.read_csv(path, dtype=str, keep_default_na=False)
    return d[d["study_id"] == study_id]


def _scheme_uses(
    study_def: dict[str, Any], expl: pd.DataFrame, frame: pd.DataFrame, vs: set[str]
) -> list[dict[str, Any]]:
    """Risk schemes reading the variables: criteria and flags, with this patient's group."""
    out = []
    for sid, scheme in study_def.get("schemes", {}).items():
        flags = [f for f in scheme.get("flags", []) if set(expr_names(f["expr"])) & vs]
        if not (set(scheme_inputs(scheme)) & vs) and not flags:
            continue
        crit = [
            {
                "group": g["group"],
                "criterion": c["name"],
                "expr": c["expr"],
                "result": truth_of(c["expr"], frame),
            }
            for g in scheme["groups"]
            for c in g.get("any_of", []) + g.get("all_of", [])
            if set(expr_names(c["expr"])) & vs
        ]
        crit += [
            {
                "group": "(flag)",
                "criterion": f["name"],
                "expr": f["expr"],
                "result": truth_of(f["expr"], frame),
            }
            for f in flags
        ]
        e = expl[expl["scheme"] == sid] if len(expl) else expl
        rec = e.iloc[0].to_dict() if len(e) else {}
        out.append(
            {
                "scheme": sid,
                "version": str(scheme.get("version", "")),
                "group": rec.get("group"),
                "criteria_fired": rec.get("criteria_fired", ""),
                "flags": rec.get("flags", ""),
                "missing_inputs": rec.get("missing_inputs", ""),
                "criteria": crit,
            }
        )
    return out


def _eligibility_uses(
    study_def: dict[str, Any], cohort_row: pd.Series | None, frame: pd.DataFrame, vs: set[str]
) -> list[dict[str, Any]]:
    """Eligibility criteria reading the variables, then the patient's outcome."""
    out = []
    elig = Eligibility.of(Study.of(study_def).eligibility)
    for kind in ("inclusion", "exclusion", "analysed"):
        for c in getattr(elig, kind):
            if set(expr_names(c["expr"])) & vs:
                out.append(
                    {
                        "kind": kind,
                        "criterion": c["name"],
                        "label": c.get("label", ""),
                        "expr": c["expr"],
                        "result": truth_of(c["expr"], frame),
                    }
                )
    if out and cohort_row is not None:
        out.append(
            {
                "kind": "outcome",
                "eligible": json_value(cohort_row.get("eligible")),
                "analysed": json_value(cohort_row.get("analysed")),
                "exclusion_reason": json_value(cohort_row.get("exclusion_reason")) or "",
            }
        )
    return out


def _endpoint_roles(ep: dict[str, Any], vs: set[str]) -> list[str]:
    """What the variables are to an endpoint: origin, event, competing event, censoring."""
    roles = []
    if ep["origin"] in vs:
        roles.append("time origin")
    roles += [f"event ({e['description']})" for e in ep.get("events", []) if e["source"] in vs]
    roles += [
        f"competing event ({e['description']})"
        for e in Endpoint.of(ep).competing
        if e["source"] in vs
    ]
    if ep.get("censor") in vs:
        roles.append("censoring date")
    ind = ep.get("induction_failure")
    if ind and set(expr_names(ind["expr"])) & vs:
        roles.append("induction failure rule")
    return roles


def _endpoint_uses(
    study_def: dict[str, Any], adtte: pd.DataFrame, vs: set[str]
) -> list[dict[str, Any]]:
    """Endpoints reading the variables, with this patient's ADTTE record."""
    out = []
    for code, ep in study_def.get("endpoints", {}).items():
        roles = _endpoint_roles(ep, vs)
        if not roles:
            continue
        a = adtte[adtte["PARAMCD"] == code] if len(adtte) else adtte
        rec = a.iloc[0] if len(a) else None
        out.append(
            {
                "endpoint": code,
                "label": ep["label"],
                "roles": roles,
                "AVAL": None if rec is None else json_value(rec["AVAL"]),
                "CNSR": None if rec is None else json_value(rec["CNSR"]),
                "ADT": None if rec is None else json_value(rec["ADT"]),
                "description": None
                if rec is None
                else (json_value(rec["EVNTDESC"]) or json_value(rec["CNSDTDSC"]) or ""),
            }
        )
    return out


def _analysis_uses(
    study_def: dict[str, Any], used_endpoints: set[str], used_schemes: set[str], vs: set[str]
) -> list[dict[str, Any]]:
    """Analyses and Cox models reading the variables (endpoint, grouping, subset, covariate)."""
    out = []
    groupings = Study.of(study_def).groupings
    for a in study_def.get("analyses", []):
        why = []
        if a["endpoint"] in used_endpoints:
            why.append(f"endpoint {a['endpoint']}")
        g = groupings.get(Analysis.of(a).by, {})
        g_vars = {n for lvl in g.get("levels", []) for n in expr_names(lvl["expr"])}
        if g.get("time_dependent"):
            g_vars.add(g["time_dependent"])
        if "scheme" in g and g["scheme"] in used_schemes:
            g_vars |= vs
        if g_vars & vs:
            why.append(f"grouping {a['by']}")
        if "subset" in a and set(expr_names(a["subset"]["expr"])) & vs:
            why.append("subset")
        if why:
            out.append({"analysis": a["id"], "via": why})
    for m in Study.of(study_def).cox_models:
        model = CoxModel.of(m)
        why = [f"endpoint {m['endpoint']}"] if m["endpoint"] in used_endpoints else []
        for cv in model.covariates:
            read = {cv["variable"]} if "variable" in cv else set(expr_names(cv.get("expr", "0")))
            if read & vs:
                why.append(f"covariate {cv['label']}")
        for td in model.time_dependent:
            if td.get("date") in vs:
                why.append(f"time-dependent {td['label']}")
        if why:
            out.append({"analysis": m["id"], "via": why})
    return out


def _rules(
    study_def: dict[str, Any],
    study_dir: Path,
    study_id: str,
    row: pd.Series,
    vars_: list[str],
) -> dict[str, list[dict[str, Any]]]:
    """Risk schemes, eligibility criteria, endpoints, analyses and tables that read the
    variable (or a variable derived from it), with this patient's outcome where known."""
    vs = set(vars_)
    c = _patient_record(study_dir / "analyse" / "cohort.parquet", study_id)
    cohort_row = c.iloc[0] if len(c) else None
    frame = pd.DataFrame([(cohort_row if cohort_row is not None else row).to_dict()])
    expl = _patient_record(study_dir / "classify" / "explanations.csv", study_id)
    schemes = _scheme_uses(study_def, expl, frame, vs)
    endpoints = _endpoint_uses(
        study_def, _patient_record(study_dir / "analyse" / "adtte.parquet", study_id), vs
    )
    used_endpoints = {e["endpoint"] for e in endpoints}
    tables = []
    for tname, spec in Study.of(study_def).tables.items():
        for it in spec.get("items", []):
            read = {it["variable"]} if it.get("variable") else set(expr_names(it.get("expr", "0")))
            if read & vs:
                tables.append({"table": tname, "item": it["label"]})
    return {
        "risk_schemes": schemes,
        "eligibility": _eligibility_uses(study_def, cohort_row, frame, vs),
        "endpoints": endpoints,
        "analyses": _analysis_uses(study_def, used_endpoints, {r["scheme"] for r in schemes}, vs),
        "tables": tables,
    }


def _raw_record(
    raw_path: Path, row: pd.Series, root: Path, local_id: str | None
) -> tuple[dict[str, Any] | None, str | None]:
    """The patient's all-text record of the restricted copy (local ID dropped), or why not."""
    if not raw_path.exists():
        return None, (
            f"the restricted lossless copy {rel_path(raw_path, root)} is absent: raw cell values "
            "need the restricted area (kept apart from results/)"
        )
    raw_sha = read_parquet_metadata(raw_path).get("source_sha256")
    lineage_sha = json_value(row.get("source_sha256"))
    if raw_sha and lineage_sha and raw_sha != lineage_sha:
        return None, (
            f"{rel_path(raw_path, root)} holds another submission (SHA-256 {raw_sha}), not the "
            "file this value came from: raw cell not shown"
        )
    raw_rec = _raw_row(raw_path, row)
    if raw_rec is None:
        return None, f"row {row['source_row']} not found in {rel_path(raw_path, root)}"
    raw_rec.pop(local_id, None)  # never carried further
    return raw_rec, None


def _source_facts(
    root: Path, ingest_path: Path, mapping: dict[str, Any], row: pd.Series
) -> dict[str, Any]:
    """The submitted file, how it was read and where the patient's row is in it."""
    meta = json.loads(ingest_path.read_text(encoding="utf-8")) if ingest_path.exists() else {}
    file_rel = meta.get("file") or mapping.get("file")
    on_disk = None
    if file_rel and (root / file_rel).exists():
        on_disk = sha256_file(root / file_rel)
    lineage_sha = json_value(row.get("source_sha256"))
    return {
        "file": file_rel,
        "submission_date": meta.get("submission_date", mapping.get("submission_date")),
        "sha256": meta.get("sha256"),
        "ingest_record": rel_path(ingest_path, root),
        "lineage_sha256": lineage_sha,
        "lineage_matches_ingest": lineage_sha == meta.get("sha256") if meta else None,
        "file_on_disk": (
            "missing"
            if on_disk is None
            else ("unchanged" if on_disk == meta.get("sha256") else f"changed ({on_disk})")
        ),
        "reader": meta.get("reader"),
        "encoding": meta.get("encoding"),
        "delimiter": meta.get("delimiter"),
        "sheet": json_value(row.get("source_sheet")) or None,
        "header_row": meta.get("header_row"),
        "row": json_value(row.get("source_row")),
    }


def _cell_checks(rule: dict[str, Any] | None, variable: str, kind: str) -> list[str]:
    """The checks applied to the cell while mapping it."""
    if rule is None:
        return []
    coded = rule.get("codes") or kind in ("bool", "category")
    checks = ["code_in_list" if coded else "type_conformance"]
    checks += ["unit_known"] if variable == "wbc" else []
    if kind in ("int", "float"):
        checks += ["number_unambiguous", "decimal_comma"]
    return checks


def trace_value(
    root: Path,
    study: str,
    study_id: str,
    variable: str,
    *,
    results: Path | None = None,
    restricted: Path | None = None,
) -> dict[str, Any]:
    """Where one harmonised value of one patient came from and what used it.

    ``root`` is the repository (config, data); results and the restricted copy default to
    ``root/results`` and ``root/restricted``. ``results`` may also be a study's result tree
    itself, e.g. a freeze ``results/<study>/releases/<freeze-id>/``; raw cells are shown only
    when the restricted copy holds the submission the value came from. The returned mapping is
    JSON-friendly and never holds a local patient ID.
    """
    root = Path(root)
    study_dir, restricted_dir = study_dirs(root, study, results, restricted)
    if variable in ("study_id", "site", "dates_imputed", *LINEAGE):
        raise CohortflowError(f"{variable!r} is bookkeeping, not a traceable clinical value")
    if variable not in columns("patients"):
        raise CohortflowError(
            f"{variable!r} is not a canonical patient variable (see docs/dictionary.md)"
        )
    row, where = _find_patient(study_dir, study_id)
    site = str(row["site"])
    study_def = load_study(study, root)
    mapping = study_def["site_mappings"].get(site)
    if mapping is None:
        raise CohortflowError(f"site {site} is not in study {study}'s definition")
    spec = spec_of(variable)
    raw_path = restricted_dir / "raw" / f"{site}.parquet"
    raw_rec, raw_note = _raw_record(raw_path, row, root, mapping.get("local_id"))
    held = "harmonised/patients.parquet" if where == "harmonised" else f"quarantine/{site}.parquet"
    d: dict[str, Any] = {
        "kind": "value",
        "study": study,
        "study_id": study_id,
        "variable": variable,
        "meaning": spec.get("meaning", ""),
        "type": spec["type"],
        "unit": spec.get("unit"),
        "site": site,
        "status": where,
        "quarantine_reasons": json_value(row.get("quarantine_reasons"))
        if where != "harmonised"
        else None,
        "harmonised": json_value(row.get(variable)),
        "harmonised_file": rel_path(study_dir / held, root),
        "source": _source_facts(root, study_dir / "ingest" / f"{site}.json", mapping, row),
        "raw_copy": rel_path(raw_path, root),
        "derived": None,
        "mapped": None,
    }
    inputs: list[str] = []
    if variable in DERIVED and variable not in ("wbc_raw", "wbc_unit"):
        inputs, formula = DERIVED[variable]
        value, arithmetic = _recompute(variable, row)
        d["derived"] = {
            "formula": formula,
            "arithmetic": arithmetic,
            "recomputed": value,
            "reproduced": _same(value, json_value(row.get(variable))),
            "inputs": [_source_trace(i, row, mapping, raw_rec, raw_note) for i in inputs],
        }
    else:
        d["mapped"] = _source_trace(variable, row, mapping, raw_rec, raw_note)
    vars_ = affected(variable)
    d["affected"] = vars_
    d["checks"] = _checks(
        study_dir,
        site,
        study_id,
        row,
        [*vars_, *inputs],
        study_def["cutoff_date"],
        root,
        _cell_checks(mapping["columns"].get(variable), variable, spec["type"]),
    )
    d["rules"] = _rules(study_def, study_dir, study_id, row, vars_)
    return d


def _format_source(s: dict[str, Any], indent: str) -> list[str]:
    lines = []
    if s["source_column"] is None:
        return [indent + x for x in s["steps"]]
    col = f"{indent}source column: {s['source_column']!r}"
    if s.get("unit_column"):
        col += f" (unit from column {s['unit_column']!r})"
    lines.append(col)
    if s["rule"]:
        shown = {k: v for k, v in s["rule"].items() if k != "codes"}
        if "codes" in s["rule"]:
            shown["codes"] = f"{len(s['rule']['codes'])} codes"
        lines.append(f"{indent}mapping rule: {json.dumps(shown, ensure_ascii=False)}")
    if not s["raw_available"]:
        lines.append(f"{indent}raw cell: not available ({s['raw_note']})")
        return lines
    raw = "empty" if s["raw"] is None else repr(s["raw"])
    if "raw_unit" in s:
        raw += f", unit cell {s['raw_unit']!r}"
    lines.append(f"{indent}raw cell: {raw}")
    for k, step in enumerate(s["steps"], 1):
        lines.append(f"{indent}  {k}. {step}")
    if s["reproduced"] is not None:
        ok = "matches" if s["reproduced"] else "DOES NOT match"
        lines.append(
            f"{indent}re-derived {text_of(s['rederived'])}: {ok} the harmonised value "
            f"{text_of(s['harmonised'])}"
        )
    return lines


def _format_origin(d: dict[str, Any]) -> list[str]:
    """The header, the harmonised value and the submitted file of a value trace."""
    unit = f" {d['unit']}" if d.get("unit") else ""
    src = d["source"]
    out = [
        f"Trace of {d['variable']} for study ID {d['study_id']} ({d['study']}, site {d['site']})",
        f"  {d['meaning']} [{d['type']}{', ' + d['unit'] if d.get('unit') else ''}]",
        "",
        f"Harmonised value: {text_of(d['harmonised'])}{unit if d['harmonised'] is not None else ''}"
        f"  ({d['harmonised_file']})",
    ]
    if d["status"] != "harmonised":
        out.append(f"  SET ASIDE (quarantine): {d.get('quarantine_reasons')}")
    out += [
        "",
        "Source",
        f"  site:       {d['site']}",
        f"  file:       {src['file']}"
        + (f" (submitted {src['submission_date']})" if src.get("submission_date") else ""),
        f"  SHA-256:    {src['sha256']}  ({src['ingest_record']})",
    ]
    if src["lineage_matches_ingest"] is False:
        out.append(f"  WARNING: the row's lineage hash is {src['lineage_sha256']}")
    out.append(f"  file now:   {src['file_on_disk']}")
    how = ", ".join(
        f"{k} {src[k]!r}" if k == "delimiter" else f"{k} {src[k]}"
        for k in ("reader", "encoding", "delimiter")
        if src.get(k)
    )
    if how:
        out.append(f"  read as:    {how}")
    out.append(f"  sheet:      {src['sheet'] or '-'}")
    hdr = f" (header on row {src['header_row']})" if src.get("header_row") else ""
    out.append(f"  row:        {src['row']}{hdr}")
    out.append(f"  raw copy:   {d['raw_copy']}")
    return out


def _format_checks(d: dict[str, Any]) -> list[str]:
    """The checks the value (and its inputs) failed, passed or could not be evaluated for."""
    ch = d["checks"]
    on = " and its inputs" if d["derived"] else ""
    out = ["", f"Checks on this value{on} (findings: {ch['findings_file']})"]
    if ch["failed"]:
        for f in ch["failed"]:
            tag = "FAILED" if f["severity"] == "fatal" else "WARNING"
            out.append(
                f"  {tag} {f['check']} ({f['severity']}): {f['message']}"
                + (f" [{f['value']}]" if f.get("value") else "")
            )
    else:
        out.append("  failed / warnings: none")
    out.append(
        "  passed: "
        + (", ".join(f"{c['check']} ({c['expr']})" for c in ch["passed"]) or "none applicable")
    )
    if ch["not_evaluated"]:
        out.append(
            "  not evaluated (an input is missing): "
            + ", ".join(c["check"] for c in ch["not_evaluated"])
        )
    return out


def _format_uses(d: dict[str, Any]) -> list[str]:
    """The risk schemes, eligibility criteria, endpoints, analyses and tables using the value."""
    r = d["rules"]
    via = d["affected"][1:]
    out = ["", "Used by" + (f" (directly or via derived {', '.join(via)})" if via else "")]
    for s in r["risk_schemes"]:
        out.append(
            f"  risk scheme {s['scheme']} v{s['version']}: group {s['group']}"
            + (f" (criteria fired: {s['criteria_fired']})" if s["criteria_fired"] else "")
            + (f" (missing: {s['missing_inputs']})" if s["missing_inputs"] else "")
        )
        for c in s["criteria"]:
            out.append(f"    {c['group']}: {c['criterion']} [{c['expr']}] = {c['result']}")
    for e in r["eligibility"]:
        if e["kind"] == "outcome":
            out.append(
                f"    -> eligible {e['eligible']}, analysed {e['analysed']}"
                + (f", excluded by {e['exclusion_reason']}" if e["exclusion_reason"] else "")
            )
        else:
            out.append(
                f"  eligibility ({e['kind']}) {e['criterion']}: {e['label']} [{e['expr']}] = "
                f"{e['result']}"
            )
    for e in r["endpoints"]:
        if e["AVAL"] is not None:
            tail = f": AVAL {text_of(e['AVAL'])} days, CNSR {text_of(e['CNSR'])}" + (
                f" ({e['description']})" if e["description"] else ""
            )
        elif e["description"]:
            tail = f": no time ({e['description']})"
        else:
            tail = ": not in the analysis dataset (not analysed or set aside)"
        out.append(f"  endpoint {e['endpoint']} ({e['label']}) as {', '.join(e['roles'])}{tail}")
    out += [f"  analysis {a['analysis']} via {', '.join(a['via'])}" for a in r["analyses"]]
    out += [f"  table {t['table']}: {t['item']}" for t in r["tables"]]
    if not any(r.values()):
        out.append("  no risk scheme, eligibility criterion, endpoint, analysis or table")
    return out


def format_value_trace(d: dict[str, Any]) -> str:
    """Plain-text report of a ``trace_value`` result."""
    out = [*_format_origin(d), ""]
    if d["derived"]:
        dv = d["derived"]
        out.append(f"Derived: {dv['formula']}")
        ok = "matches" if dv["reproduced"] else "DOES NOT match"
        out.append(
            f"  recomputed {text_of(dv['recomputed'])} ({dv['arithmetic']}): {ok} the stored value"
        )
        for s in dv["inputs"]:
            out.append(f"  input {s['variable']} = {text_of(s['harmonised'])}")
            out += _format_source(s, "    ")
    else:
        out.append("Mapping")
        out += _format_source(d["mapped"], "  ")
    return "\n".join([*out, *_format_checks(d), *_format_uses(d)]) + "\n"
