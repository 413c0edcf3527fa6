"""Provenance of one harmonised value or one cell of an output table.

``trace_value`` follows a patient's canonical variable back to the site, the submitted file
(path and SHA-256), sheet, row and column, the raw cell text of the restricted lossless copy,
the mapping rule and unit conversion that turned it into the canonical value, the checks it
passed or failed, and the risk schemes, eligibility criteria, endpoints, analyses and tables
that read it. ``trace_cell`` explains one cell of a machine-readable output table (survival
estimates, strata, tests, the flow, risk explanations, descriptive tables) and lists the
patients it counts.

A trace shows study IDs only: the local patient ID column of the restricted copy is never read
into the output.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cohortflow.analyse.adapters import DAYS_PER_MONTH, exposure_days
from cohortflow.analyse.analysis import strata
from cohortflow.analyse.survmethods import entry_days
from cohortflow.classify.schemes import scheme_inputs
from cohortflow.core import values
from cohortflow.core.config import load_study
from cohortflow.core.dictionary import columns, spec_of
from cohortflow.core.errors import CohortflowError
from cohortflow.core.expr import evaluate, names
from cohortflow.core.io import read_parquet_metadata, sha256_file
from cohortflow.harmonise.derive import completed_months, years_between
from cohortflow.provenance.diff import study_tree
from cohortflow.provenance.rendered import locate
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

#: What each column of analyse/survival.csv holds.
SURVIVAL_COLUMNS = {
    "n": "patients in the analysis stratum (analysed, with a usable time)",
    "total_events": "events (CNSR 0) in the stratum over the whole follow-up",
    "n_risk": "patients still under observation at the time point (AVAL >= time_days)",
    "events": "events (CNSR 0) up to and including the time point (AVAL <= time_days)",
    "estimate": "Kaplan-Meier survival at the time point",
    "se": "Greenwood standard error of the estimate",
    "lower": "lower bound of the confidence interval",
    "upper": "upper bound of the confidence interval",
}


# --------------------------------------------------------------------------------------------
# small helpers


def _show(v: Any) -> str:
    """Readable text of a cell value ('missing' for NA)."""
    if v is None or (not isinstance(v, (str, list, dict)) and pd.isna(v)):
        return "missing"
    if isinstance(v, dt.datetime):
        ts = pd.Timestamp(v)
        return ts.date().isoformat() if ts == ts.normalize() else ts.isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        return format(v, ".10g")
    return str(v)


def _plain(v: Any) -> Any:
    """A JSON-friendly copy of a cell value (NA -> None, dates -> ISO text)."""
    if v is None or (not isinstance(v, (str, list, dict)) and pd.isna(v)):
        return None
    if isinstance(v, pd.Timestamp | dt.date):
        return _show(v)
    if hasattr(v, "item"):
        return v.item()
    return v


def _count(v: Any) -> int | None:
    """A count read from a CSV cell (None when empty or not a whole number)."""
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return int(x) if x.is_integer() else None


def _study_dirs(
    root: Path, study: str, results: Path | None, restricted: Path | None
) -> tuple[Path, Path]:
    tree = study_tree(Path(results), study) if results else Path(root) / "results" / study
    rst = Path(restricted) if restricted else Path(root) / "restricted"
    return tree, rst / study


def _rel(path: Path, root: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path(root).resolve()))
    except ValueError:
        return str(path)


def _tri(expr: str, frame: pd.DataFrame) -> str:
    """'true', 'false' or 'unknown' (inputs missing) of an expression on a one-row frame."""
    try:
        r = evaluate(expr, frame)
    except CohortflowError:
        return "not evaluable"
    if not bool(r.known.iloc[0]):
        return "unknown"
    return "true" if bool(r.value.iloc[0]) else "false"


def _names(expr: str) -> list[str]:
    return names(expr)


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


def _is_missing(v: Any) -> bool:
    return v is None or (not isinstance(v, (str, list, dict)) and pd.isna(v))


def _same(a: Any, b: Any) -> bool:
    """Whether a re-derived value equals the stored one (floats to 1e-9)."""
    if _is_missing(a) or _is_missing(b):
        return _is_missing(a) and _is_missing(b)
    if isinstance(a, float | int) and isinstance(b, float | int) and not isinstance(a, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return _show(a) == _show(b)


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
        sheet = "" if _is_missing(row.get("source_sheet")) else str(row["source_sheet"])
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
            f"date read from {t!r}: {_date_form(t)} -> {_show(value)}"
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
        steps.append(f"number read from {t!r} -> {_show(value)}{how}")
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
                f"unit {unit!r} ({where}) -> x10^9/L: {_show(value)} {canon} x {factor:g} = "
                f"{_show(new)} x10^9/L"
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
        "harmonised": _plain(row.get(variable)),
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
    text = None if _is_missing(text) else str(text)
    out["raw"] = text
    unit_text = None
    if "unit_source" in rule:
        u = raw_rec.get(rule["unit_source"])
        unit_text = None if _is_missing(u) else str(u)
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
        steps = [f"unit of the WBC cell, normalised -> {_show(value)}"]
    out["steps"] = steps
    out["rederived"] = _plain(value)
    out["reproduced"] = _same(_plain(value), _plain(row.get(variable)))
    return out


def _recompute(variable: str, row: pd.Series) -> tuple[Any, str]:
    """A derived variable recomputed from the patient's harmonised inputs, with the arithmetic."""

    def s(col: str) -> pd.Series:
        return pd.Series([row.get(col)])

    if variable == "age_at_diagnosis_months":
        v = completed_months(s("birth_date"), s("diagnosis_date")).iloc[0]
        return _plain(v), f"{_show(row.get('birth_date'))} -> {_show(row.get('diagnosis_date'))}"
    if variable in ("age_at_diagnosis_years", "age_at_rr_years"):
        end = "diagnosis_date" if variable == "age_at_diagnosis_years" else "rr_diagnosis_date"
        v = years_between(s("birth_date"), s(end)).iloc[0]
        b, e = row.get("birth_date"), row.get(end)
        if _is_missing(b) or _is_missing(e):
            return None, "an input is missing"
        days = (pd.Timestamp(e) - pd.Timestamp(b)).days
        return _plain(v), f"{days} days / 365.25"
    if variable in ("kmt2a_status", "kmt2a_partner"):
        k, fish, pcr = (row.get(c) for c in ("karyotype", "kmt2a_fish", "kmt2a_pcr"))
        st, partner = values.kmt2a_status(
            *(None if _is_missing(v) else str(v) for v in (k, fish, pcr))
        )
        how = f"karyotype {_show(k)}, FISH {_show(fish)}, PCR {_show(pcr)}"
        return (st if variable == "kmt2a_status" else partner), how
    if variable == "prednisone_response":
        b = row.get("pb_blasts_day8")
        if _is_missing(b):
            return None, "pb_blasts_day8 missing"
        return ("good" if float(b) < 1000 else "poor"), f"pb_blasts_day8 = {_show(b)}"
    return _plain(row.get(variable)), "as stored"


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
        if "expr" not in c or not set(_names(c["expr"])) & set(vars_):
            continue
        if c["name"] in failed_names:
            continue
        r = _tri(c["expr"], frame)
        entry = {"check": c["name"], "severity": c["severity"], "expr": c["expr"]}
        (passed if r in ("true", "not evaluable") else unknown).append(entry)
    for name in cell_checks or []:
        if name in failed_names:
            continue
        entry = {"check": name, "severity": cat[name]["severity"], "expr": "while mapping the cell"}
        (passed if not _is_missing(row.get(vars_[0])) else unknown).append(entry)
    return {
        "findings_file": _rel(fpath, root),
        "failed": failed,
        "passed": passed,
        "not_evaluated": unknown,
    }


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
    cohort_row = None
    cpath = study_dir / "analyse" / "cohort.parquet"
    if cpath.exists():
        c = pd.read_parquet(cpath)
        c = c[c["study_id"] == study_id]
        if len(c):
            cohort_row = c.iloc[0]
    frame = pd.DataFrame([(cohort_row if cohort_row is not None else row).to_dict()])
    out: dict[str, list[dict[str, Any]]] = {
        "risk_schemes": [],
        "eligibility": [],
        "endpoints": [],
        "analyses": [],
        "tables": [],
    }
    expl = pd.DataFrame()
    epath = study_dir / "classify" / "explanations.csv"
    if epath.exists():
        expl = pd.read_csv(epath, dtype=str, keep_default_na=False)
        expl = expl[expl["study_id"] == study_id]
    for sid, scheme in study_def.get("schemes", {}).items():
        flags = [f for f in scheme.get("flags", []) if set(_names(f["expr"])) & vs]
        if not (set(scheme_inputs(scheme)) & vs) and not flags:
            continue
        crit = [
            {
                "group": g["group"],
                "criterion": c["name"],
                "expr": c["expr"],
                "result": _tri(c["expr"], frame),
            }
            for g in scheme["groups"]
            for c in g.get("any_of", []) + g.get("all_of", [])
            if set(_names(c["expr"])) & vs
        ]
        crit += [
            {
                "group": "(flag)",
                "criterion": f["name"],
                "expr": f["expr"],
                "result": _tri(f["expr"], frame),
            }
            for f in flags
        ]
        e = expl[expl["scheme"] == sid] if len(expl) else expl
        rec = e.iloc[0].to_dict() if len(e) else {}
        out["risk_schemes"].append(
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
    elig = study_def.get("eligibility", {})
    for kind in ("inclusion", "exclusion", "analysed"):
        for c in elig.get(kind, []):
            if set(_names(c["expr"])) & vs:
                out["eligibility"].append(
                    {
                        "kind": kind,
                        "criterion": c["name"],
                        "label": c.get("label", ""),
                        "expr": c["expr"],
                        "result": _tri(c["expr"], frame),
                    }
                )
    if out["eligibility"] and cohort_row is not None:
        out["eligibility"].append(
            {
                "kind": "outcome",
                "eligible": _plain(cohort_row.get("eligible")),
                "analysed": _plain(cohort_row.get("analysed")),
                "exclusion_reason": _plain(cohort_row.get("exclusion_reason")) or "",
            }
        )
    adtte = pd.DataFrame()
    apath = study_dir / "analyse" / "adtte.parquet"
    if apath.exists():
        adtte = pd.read_parquet(apath)
        adtte = adtte[adtte["study_id"] == study_id]
    used_endpoints = set()
    for code, ep in study_def.get("endpoints", {}).items():
        roles = []
        if ep["origin"] in vs:
            roles.append("time origin")
        roles += [f"event ({e['description']})" for e in ep.get("events", []) if e["source"] in vs]
        roles += [
            f"competing event ({e['description']})"
            for e in ep.get("competing", [])
            if e["source"] in vs
        ]
        if ep.get("censor") in vs:
            roles.append("censoring date")
        ind = ep.get("induction_failure")
        if ind and set(_names(ind["expr"])) & vs:
            roles.append("induction failure rule")
        if not roles:
            continue
        used_endpoints.add(code)
        a = adtte[adtte["PARAMCD"] == code] if len(adtte) else adtte
        rec = a.iloc[0] if len(a) else None
        out["endpoints"].append(
            {
                "endpoint": code,
                "label": ep["label"],
                "roles": roles,
                "AVAL": None if rec is None else _plain(rec["AVAL"]),
                "CNSR": None if rec is None else _plain(rec["CNSR"]),
                "ADT": None if rec is None else _plain(rec["ADT"]),
                "description": None
                if rec is None
                else (_plain(rec["EVNTDESC"]) or _plain(rec["CNSDTDSC"]) or ""),
            }
        )
    groupings = study_def.get("groupings", {})
    for a in study_def.get("analyses", []):
        why = []
        if a["endpoint"] in used_endpoints:
            why.append(f"endpoint {a['endpoint']}")
        g = groupings.get(a.get("by", ""), {})
        g_vars = {n for lvl in g.get("levels", []) for n in _names(lvl["expr"])}
        if g.get("time_dependent"):
            g_vars.add(g["time_dependent"])
        if "scheme" in g and g["scheme"] in {r["scheme"] for r in out["risk_schemes"]}:
            g_vars |= vs
        if g_vars & vs:
            why.append(f"grouping {a['by']}")
        if "subset" in a and set(_names(a["subset"]["expr"])) & vs:
            why.append("subset")
        if why:
            out["analyses"].append({"analysis": a["id"], "via": why})
    for m in study_def.get("cox_models", []):
        why = [f"endpoint {m['endpoint']}"] if m["endpoint"] in used_endpoints else []
        for cv in m.get("covariates", []):
            names = {cv["variable"]} if "variable" in cv else set(_names(cv.get("expr", "0")))
            if names & vs:
                why.append(f"covariate {cv['label']}")
        for td in m.get("time_dependent", []):
            if td.get("date") in vs:
                why.append(f"time-dependent {td['label']}")
        if why:
            out["analyses"].append({"analysis": m["id"], "via": why})
    for tname, spec in study_def.get("tables", {}).items():
        for it in spec.get("items", []):
            names = {it["variable"]} if it.get("variable") else set(_names(it.get("expr", "0")))
            if names & vs:
                out["tables"].append({"table": tname, "item": it["label"]})
    return out


# --------------------------------------------------------------------------------------------
# trace_value


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
    study_dir, restricted_dir = _study_dirs(root, study, results, restricted)
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
    ingest_path = study_dir / "ingest" / f"{site}.json"
    meta = json.loads(ingest_path.read_text(encoding="utf-8")) if ingest_path.exists() else {}
    file_rel = meta.get("file") or mapping.get("file")
    on_disk = None
    if file_rel and (root / file_rel).exists():
        on_disk = sha256_file(root / file_rel)
    raw_path = restricted_dir / "raw" / f"{site}.parquet"
    raw_rec, raw_note = None, None
    lineage_sha = _plain(row.get("source_sha256"))
    if raw_path.exists():
        raw_sha = read_parquet_metadata(raw_path).get("source_sha256")
        if raw_sha and lineage_sha and raw_sha != lineage_sha:
            raw_note = (
                f"{_rel(raw_path, root)} holds another submission (SHA-256 {raw_sha}), not the "
                "file this value came from: raw cell not shown"
            )
        else:
            raw_rec = _raw_row(raw_path, row)
            if raw_rec is None:
                raw_note = f"row {row['source_row']} not found in {_rel(raw_path, root)}"
    else:
        raw_note = (
            f"the restricted lossless copy {_rel(raw_path, root)} is absent: raw cell values "
            "need the restricted area (kept apart from results/)"
        )
    if raw_rec is not None:
        raw_rec.pop(mapping.get("local_id"), None)  # never carried further
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
        "quarantine_reasons": _plain(row.get("quarantine_reasons"))
        if where != "harmonised"
        else None,
        "harmonised": _plain(row.get(variable)),
        "harmonised_file": _rel(
            study_dir
            / (
                "harmonised/patients.parquet"
                if where == "harmonised"
                else f"quarantine/{site}.parquet"
            ),
            root,
        ),
        "source": {
            "file": file_rel,
            "submission_date": meta.get("submission_date", mapping.get("submission_date")),
            "sha256": meta.get("sha256"),
            "ingest_record": _rel(ingest_path, root),
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
            "sheet": _plain(row.get("source_sheet")) or None,
            "header_row": meta.get("header_row"),
            "row": _plain(row.get("source_row")),
        },
        "raw_copy": _rel(raw_path, root),
        "derived": None,
        "mapped": None,
    }
    if variable in DERIVED and variable not in ("wbc_raw", "wbc_unit"):
        inputs, formula = DERIVED[variable]
        value, arithmetic = _recompute(variable, row)
        d["derived"] = {
            "formula": formula,
            "arithmetic": arithmetic,
            "recomputed": value,
            "reproduced": _same(value, _plain(row.get(variable))),
            "inputs": [_source_trace(i, row, mapping, raw_rec, raw_note) for i in inputs],
        }
    else:
        d["mapped"] = _source_trace(variable, row, mapping, raw_rec, raw_note)
    vars_ = affected(variable)
    d["affected"] = vars_
    inputs = DERIVED[variable][0] if d["derived"] else []
    cell_checks = []
    rule = mapping["columns"].get(variable)
    if rule is not None:
        coded = rule.get("codes") or spec["type"] in ("bool", "category")
        cell_checks = ["code_in_list" if coded else "type_conformance"]
        cell_checks += ["unit_known"] if variable == "wbc" else []
        if spec["type"] in ("int", "float"):
            cell_checks += ["number_unambiguous", "decimal_comma"]
    d["checks"] = _checks(
        study_dir,
        site,
        study_id,
        row,
        [*vars_, *inputs],
        study_def["cutoff_date"],
        root,
        cell_checks,
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
            f"{indent}re-derived {_show(s['rederived'])}: {ok} the harmonised value "
            f"{_show(s['harmonised'])}"
        )
    return lines


def format_trace(d: dict[str, Any]) -> str:
    """Plain-text report of a trace (``trace_value`` or ``trace_cell`` result)."""
    if d.get("kind") == "cell":
        return _format_cell(d)
    unit = f" {d['unit']}" if d.get("unit") else ""
    src = d["source"]
    out = [
        f"Trace of {d['variable']} for study ID {d['study_id']} ({d['study']}, site {d['site']})",
        f"  {d['meaning']} [{d['type']}{', ' + d['unit'] if d.get('unit') else ''}]",
        "",
        f"Harmonised value: {_show(d['harmonised'])}{unit if d['harmonised'] is not None else ''}"
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
    out.append("")
    if d["derived"]:
        dv = d["derived"]
        out.append(f"Derived: {dv['formula']}")
        ok = "matches" if dv["reproduced"] else "DOES NOT match"
        out.append(
            f"  recomputed {_show(dv['recomputed'])} ({dv['arithmetic']}): {ok} the stored value"
        )
        for s in dv["inputs"]:
            out.append(f"  input {s['variable']} = {_show(s['harmonised'])}")
            out += _format_source(s, "    ")
    else:
        out.append("Mapping")
        out += _format_source(d["mapped"], "  ")
    ch = d["checks"]
    on = " and its inputs" if d["derived"] else ""
    out += ["", f"Checks on this value{on} (findings: {ch['findings_file']})"]
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
    r = d["rules"]
    via = d["affected"][1:]
    out += ["", "Used by" + (f" (directly or via derived {', '.join(via)})" if via else "")]
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
            tail = f": AVAL {_show(e['AVAL'])} days, CNSR {_show(e['CNSR'])}" + (
                f" ({e['description']})" if e["description"] else ""
            )
        elif e["description"]:
            tail = f": no time ({e['description']})"
        else:
            tail = ": not in the analysis dataset (not analysed or set aside)"
        out.append(f"  endpoint {e['endpoint']} ({e['label']}) as {', '.join(e['roles'])}{tail}")
    for a in r["analyses"]:
        out.append(f"  analysis {a['analysis']} via {', '.join(a['via'])}")
    for t in r["tables"]:
        out.append(f"  table {t['table']}: {t['item']}")
    if not any(r.values()):
        out.append("  no risk scheme, eligibility criterion, endpoint, analysis or table")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------------
# trace_cell


def _analysis_patients(
    study_def: dict[str, Any], study_dir: Path, analysis_id: str
) -> tuple[pd.DataFrame, pd.Series, dict[str, Any]]:
    """Patients of an analysis (as ``cohortflow.analyse.analysis.analyse`` selects them), their
    stratum label and what the analysis is (for landmark analyses, times are re-based)."""
    base_id, mode, months = analysis_id, "plain", None
    m = re.fullmatch(r"(.+)_landmark_([0-9.]+)m", analysis_id)
    if m:
        base_id, mode, months = m.group(1), "landmark", float(m.group(2))
    elif analysis_id.endswith("_simon_makuch"):
        base_id, mode = analysis_id[: -len("_simon_makuch")], "simon_makuch"
    spec = next((a for a in study_def["analyses"] if a["id"] == base_id), None)
    if spec is None:
        raise CohortflowError(f"analysis {analysis_id!r} is not in the study definition")
    cohort = pd.read_parquet(study_dir / "analyse" / "cohort.parquet")
    adtte = pd.read_parquet(study_dir / "analyse" / "adtte.parquet")
    analysed = cohort[cohort["analysed"]].reset_index(drop=True)
    cols = ["study_id", "AVAL", "CNSR"]
    extra = [c for c in ("EVNTDESC", "CNSDTDSC") if c in adtte.columns]
    data = analysed.merge(
        adtte[adtte["PARAMCD"] == spec["endpoint"]][cols + extra], on="study_id", how="left"
    )
    if "subset" in spec:
        r = evaluate(spec["subset"]["expr"], data)
        data = data[r.value & r.known].reset_index(drop=True)
    data = data[data["AVAL"].notna() & (data["AVAL"] >= 0)].reset_index(drop=True)
    grouping = study_def.get("groupings", {}).get(spec["by"]) if spec.get("by") else None
    lab, _ = strata(data, grouping, study_def.get("schemes", {}))
    info = {"spec": spec, "mode": mode, "grouping": grouping, "months": months}
    data["time"] = data["AVAL"].astype(float)
    if mode != "plain" and grouping:
        ep = study_def["endpoints"][spec["endpoint"]]
        x = exposure_days(data, grouping["time_dependent"], ep["origin"])
        names = grouping.get("exposure_labels", ["exposed", "unexposed"])
        data["exposure_day"] = x
        if mode == "landmark":
            lm = months * DAYS_PER_MONTH
            keep = data["AVAL"].to_numpy(float) > lm
            exposed = ~pd.isna(x) & (x <= lm)
            lab = pd.Series(
                [f"{names[0] if e else names[1]} by {months:g} months" for e in exposed],
                index=data.index,
            )
            data["time"] = data["AVAL"].astype(float) - lm
            data, lab = data[keep].reset_index(drop=True), lab[keep].reset_index(drop=True)
    return data, lab, info


def _patient_rows(d: pd.DataFrame, t_days: float | None) -> list[dict[str, Any]]:
    rows = []
    for r in d.to_dict("records"):
        rec = {
            "study_id": r["study_id"],
            "site": r["site"],
            "AVAL": _plain(r["AVAL"]),
            "CNSR": _plain(r["CNSR"]),
            "what": _plain(r.get("EVNTDESC")) or _plain(r.get("CNSDTDSC")) or "",
        }
        if "exposure_day" in r:
            rec["exposure_day"] = _plain(r["exposure_day"])
        if r["time"] != r["AVAL"]:
            rec["time"] = _plain(r["time"])
        if t_days is not None:
            # delayed entry: at risk on (entry, exit], at t = 0 those entered at 0 (as the KM)
            entry = r.get("ENTRY")
            entered = entry is None or pd.isna(entry) or entry < t_days or entry == t_days == 0
            rec["at_risk"] = bool(r["time"] >= t_days and entered)
            rec["event_by_t"] = bool(r["CNSR"] == 0 and r["time"] <= t_days)
        rows.append(rec)
    return sorted(rows, key=lambda x: (x["site"], x["study_id"]))


def _cell_survival(
    study_def: dict[str, Any], study_dir: Path, rec: dict[str, Any], column: str, strata_only: bool
) -> dict[str, Any]:
    data, lab, info = _analysis_patients(study_def, study_dir, rec["analysis"])
    spec, ep = info["spec"], study_def["endpoints"][info["spec"]["endpoint"]]
    d = entry_days(data[lab.astype(str) == str(rec["stratum"])], ep, rec["analysis"])
    t_days = None if strata_only else float(rec["time_days"])
    patients = _patient_rows(d, t_days)
    explanation = [
        f"analysis {rec['analysis']}: {spec.get('title', '')}",
        f"endpoint {spec['endpoint']} ({ep['label']}): origin {ep['origin']}; events "
        + ", ".join(e["source"] for e in ep.get("events", []))
        + f"; censored at {ep.get('censor')}; data cut-off {study_def['cutoff_date']}",
        "population: analysed patients"
        + (
            f", subset {spec['subset']['label']} [{spec['subset']['expr']}]"
            if "subset" in spec
            else ""
        )
        + ", with a usable time (AVAL >= 0)",
        f"stratum: {rec['stratum']}"
        + (f" (grouping {spec['by']})" if spec.get("by") else " (all patients)"),
    ]
    if info["mode"] == "landmark":
        explanation.append(
            f"landmark at {info['months']:g} months: patients with AVAL > landmark; time re-based "
            "to the landmark; exposed = exposure on or before the landmark"
        )
    if info["mode"] == "simon_makuch":
        explanation.append(
            "Simon-Makuch: time-dependent risk sets (a patient moves to the exposed curve at "
            "the exposure day); patients listed with their exposure day; counts not re-derived"
        )
    if not strata_only:
        explanation.append(
            f"time point: {rec['time_years']} years = {rec['time_days']} days; "
            f"CI {rec.get('ci_method', '')}"
        )
    if column in SURVIVAL_COLUMNS:
        explanation.append(f"column {column}: {SURVIVAL_COLUMNS[column]}")
    check: dict[str, Any] = {}
    if info["mode"] != "simon_makuch":
        check["n"] = (len(patients), _count(rec.get("n")))
        if strata_only:
            check["events"] = (sum(p["CNSR"] == 0 for p in patients), _count(rec.get("events")))
        else:
            check["n_risk"] = (sum(p["at_risk"] for p in patients), _count(rec.get("n_risk")))
            check["events"] = (sum(p["event_by_t"] for p in patients), _count(rec.get("events")))
    counted = [p["study_id"] for p in patients]
    if column == "n_risk" and not strata_only:
        counted = [p["study_id"] for p in patients if p["at_risk"]]
    elif column == "events" and not strata_only:
        counted = [p["study_id"] for p in patients if p["event_by_t"]]
    elif column in ("events", "total_events"):
        counted = [p["study_id"] for p in patients if p["CNSR"] == 0]
    return {
        "explanation": explanation,
        "patients": patients,
        "counted": counted,
        "reconciliation": {
            k: {"recounted": a, "table": b} for k, a, b in ((k, *v) for k, v in check.items())
        },
    }


def _cell_tests(
    study_def: dict[str, Any], study_dir: Path, rec: dict[str, Any], column: str
) -> dict[str, Any]:
    data, lab, info = _analysis_patients(study_def, study_dir, rec["analysis"])
    groups = [g for g in str(rec.get("groups", "")).split(";") if g]
    in_groups = lab.astype(str).isin(groups)
    d = data[in_groups] if groups and in_groups.any() else data
    patients = _patient_rows(d, None)
    by = dict(zip(d["study_id"], lab[d.index].astype(str), strict=True))
    for p in patients:
        p["group"] = by.get(p["study_id"])
    return {
        "explanation": [
            f"analysis {rec['analysis']}: {info['spec'].get('title', '')}",
            f"test: {rec['test']} comparing {', '.join(groups)}",
            f"column {column}: {rec.get(column)}",
            *([str(rec["note"])] if rec.get("note") and str(rec["note"]) != "nan" else []),
        ],
        "patients": patients,
        "counted": [p["study_id"] for p in patients],
        "reconciliation": {},
    }


def _cell_flow(study_def: dict[str, Any], study_dir: Path, rec: dict[str, Any]) -> dict[str, Any]:
    cohort = pd.read_parquet(study_dir / "analyse" / "cohort.parquet")
    c = cohort if rec["site"] == "All" else cohort[cohort["site"] == rec["site"]]
    step = str(rec["step"])
    rules = study_def.get("eligibility", {})
    reason = cohort["exclusion_reason"].fillna("").str.replace(" (missing)", "", regex=False)
    if step == "screened":
        sel, why = c.index, "every harmonised patient (records set aside are not screened)"
    elif step == "eligible":
        sel, why = c.index[c["eligible"]], "no inclusion criterion failed, no exclusion held"
    elif step == "analysed":
        sel, why = c.index[c["analysed"]], "eligible and every `analysed` condition holds"
    elif step.startswith("excluded: "):
        lab = step[len("excluded: ") :]
        crit = next(
            (
                x
                for x in rules.get("inclusion", []) + rules.get("exclusion", [])
                if x.get("label", x["name"]) == lab
            ),
            None,
        )
        name = crit["name"] if crit else lab
        sel = c.index[reason[c.index] == name]
        why = f"first failed criterion {name} [{crit['expr'] if crit else '?'}]"
    elif step.startswith("not analysed: "):
        lab = step[len("not analysed: ") :]
        crit = next(
            (x for x in rules.get("analysed", []) if x.get("label", x["name"]) == lab), None
        )
        name = crit["name"] if crit else lab
        sel = c.index[c["not_analysed_reason"].fillna("").str.split(";").apply(lambda x: name in x)]
        why = f"eligible but {name} [{crit['expr'] if crit else '?'}] does not hold"
    else:
        raise CohortflowError(f"unknown flow step {step!r}")
    sub = c.loc[sel]
    patients = sorted(
        ({"study_id": r["study_id"], "site": r["site"]} for r in sub.to_dict("records")),
        key=lambda x: (x["site"], x["study_id"]),
    )
    return {
        "explanation": [f"flow step {step!r} at {rec['site']}: {why}"],
        "patients": patients,
        "counted": [p["study_id"] for p in patients],
        "reconciliation": {"n": {"recounted": len(patients), "table": _count(rec.get("n"))}},
    }


def _cell_descriptive(
    study_def: dict[str, Any], study_dir: Path, table: str, rec: dict[str, Any], column: str
) -> dict[str, Any]:
    spec = study_def["tables"][table]
    item = next((i for i in spec["items"] if i["label"] == rec["item"]), None)
    if item is None:
        raise CohortflowError(f"table {table} has no item {rec['item']!r}")
    cohort = pd.read_parquet(study_dir / "analyse" / "cohort.parquet")
    pop = cohort if spec["population"] == "screened" else cohort[cohort[spec["population"]]]
    pop = pop.reset_index(drop=True)
    var, kind, level = item.get("variable"), item["kind"], str(rec["level"])
    explanation = [
        f"table {table}: {spec.get('title', '')}",
        f"population: {spec['population']} patients (N = {len(pop)})",
        f"item {item['label']!r} ({kind})"
        + (f" of variable {var}" if var else f" [{item.get('expr')}]"),
    ]
    shown = pop[var] if var else None
    if kind == "continuous":
        sel = pd.to_numeric(pop[var], errors="coerce").notna()
        explanation.append("patients with a value (mean, SD, median and range are over them)")
    elif kind in ("categorical", "cut"):
        if kind == "cut":
            x = pd.to_numeric(pop[var], errors="coerce")
            lo, hi = item["cut_labels"]
            s = pd.Series(np.where(x.isna(), "NA", np.where(x < item["cut"], lo, hi)))
            codes = [level]
            explanation.append(f"cut at {item['cut']}: {lo} below, {hi} at or above")
        else:
            s = pop[var].astype(object).where(pop[var].notna(), "NA").astype(str)
            levels = item.get("levels") or {}
            codes = [k for k, v in levels.items() if str(v) == level] or [level]
            explanation.append(f"level {level!r} = {var} in {codes}")
        sel = s.isin(codes)
    elif kind == "flag":
        if "expr" in item:
            r = evaluate(item["expr"], pop)
            sel = r.value & r.known
            shown = pd.Series(["true" if v else "false" for v in sel])
        else:
            sel = pop[var] == True  # noqa: E712
        explanation.append("patients for whom the flag holds (N = those where it is known)")
    elif kind == "multi":
        sel = pop[var].fillna("").astype(str).str.split(";").apply(lambda x: level in x)
        explanation.append(f"patients whose {var} lists {level!r}")
    else:
        raise CohortflowError(f"item kind {kind!r} not supported")
    sel = pd.Series(sel).fillna(False).astype(bool).to_numpy()
    patients = [
        {"study_id": r["study_id"], "site": r["site"], "value": _show(v)}
        for r, v in zip(
            pop[sel].to_dict("records"),
            (shown[sel] if shown is not None else [None] * int(sel.sum())),
            strict=True,
        )
    ]
    patients.sort(key=lambda x: (x["site"], x["study_id"]))
    recon = {}
    if kind != "continuous" or column in ("n", "N"):
        recon["n"] = {"recounted": len(patients), "table": _count(rec.get("n"))}
    return {
        "explanation": explanation,
        "patients": patients,
        "counted": [p["study_id"] for p in patients],
        "reconciliation": recon,
    }


def _cell_explanation(
    study_def: dict[str, Any], study_dir: Path, rec: dict[str, Any]
) -> dict[str, Any]:
    scheme = study_def.get("schemes", {}).get(rec["scheme"])
    patients_path = study_dir / "harmonised" / "patients.parquet"
    p = pd.read_parquet(patients_path)
    row = p[p["study_id"] == rec["study_id"]]
    explanation = [f"risk group of study ID {rec['study_id']} by {rec['scheme']}"]
    if scheme is not None and len(row):
        frame = row.reset_index(drop=True)
        for v in scheme_inputs(scheme):
            explanation.append(f"input {v} = {_show(frame.at[0, v]) if v in frame else '?'}")
        for g in scheme["groups"]:
            for c in g.get("any_of", []) + g.get("all_of", []):
                explanation.append(
                    f"  {g['group']}: {c['name']} [{c['expr']}] = {_tri(c['expr'], frame)}"
                )
    return {
        "explanation": explanation,
        "patients": [{"study_id": rec["study_id"], "site": _plain(row["site"].iloc[0])}]
        if len(row)
        else [],
        "counted": [rec["study_id"]],
        "reconciliation": {},
    }


def trace_cell(
    root: Path,
    study: str,
    table_csv: Path,
    row: int,
    column: str,
) -> dict[str, Any]:
    """What one cell of a machine-readable output table means and which patients it counts.

    ``row`` is the 1-based data row (the first row under the header is 1, i.e. line row + 1 of
    the file). Supported: ``analyse/survival.csv``, ``strata.csv``, ``tests.csv``,
    ``flow.csv``, ``classify/explanations.csv`` and the descriptive tables
    ``tables/<name>.csv``; the analysis data are read from the same result tree as the table.
    """
    root = Path(root)
    table_csv = Path(table_csv)
    if not table_csv.is_absolute() and not table_csv.exists():
        table_csv = root / table_csv
    if not table_csv.is_file():
        raise CohortflowError(f"no such output table: {table_csv}")
    if table_csv.suffix.lower() in (".md", ".html", ".htm"):  # the CSV it was rendered from
        table_csv, row, column = locate(table_csv, row, column, load_study(study, root))
    t = pd.read_csv(table_csv, keep_default_na=False, dtype=str)
    if not 1 <= row <= len(t):
        raise CohortflowError(f"{table_csv} has data rows 1-{len(t)}, not {row}")
    if column not in t.columns:
        raise CohortflowError(f"{table_csv} has no column {column!r}: {list(t.columns)}")
    rec = t.iloc[row - 1].to_dict()
    study_dir = table_csv.resolve().parent.parent
    study_def = load_study(study, root)
    kind = f"{table_csv.parent.name}/{table_csv.name}"
    if kind in ("analyse/survival.csv", "analyse/strata.csv"):
        body = _cell_survival(study_def, study_dir, rec, column, kind.endswith("strata.csv"))
    elif kind == "analyse/tests.csv":
        body = _cell_tests(study_def, study_dir, rec, column)
    elif kind == "analyse/flow.csv":
        body = _cell_flow(study_def, study_dir, rec)
    elif kind == "classify/explanations.csv":
        body = _cell_explanation(study_def, study_dir, rec)
    elif table_csv.parent.name == "tables" and table_csv.stem in study_def.get("tables", {}):
        body = _cell_descriptive(study_def, study_dir, table_csv.stem, rec, column)
    else:
        body = {
            "explanation": [f"no specific explanation for {kind}"],
            "patients": [],
            "counted": [],
            "reconciliation": {},
        }
    context = {k: v for k, v in rec.items() if k != "data_label" and v != ""}
    return {
        "kind": "cell",
        "study": study,
        "table": _rel(table_csv, root),
        "row": row,
        "line": row + 1,
        "column": column,
        "value": rec[column],
        "row_values": context,
        **body,
    }


def _cellval(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "-"
    return "" if v is None or v == "" else _show(v)


def _format_cell(d: dict[str, Any]) -> str:
    out = [
        f"Cell {d['column']!r} of {d['table']}, data row {d['row']} (line {d['line']}): "
        f"{d['value'] or 'empty'}",
        "",
        "Row: " + "; ".join(f"{k}={v}" for k, v in d["row_values"].items()),
        "",
    ]
    out += [f"  {x}" for x in d["explanation"]]
    for k, v in d["reconciliation"].items():
        ok = "matches" if str(v["recounted"]) == str(v["table"]) else "DIFFERS from"
        out.append(f"  recounted {k} = {v['recounted']}: {ok} the table ({v['table']})")
    if d["patients"]:
        out += ["", f"Patients ({len(d['patients'])}; * = counted in this cell):"]
        counted = set(d["counted"])
        keys = list(dict.fromkeys(k for p in d["patients"] for k in p))
        head = ["", *keys]
        body = [
            ["*" if p["study_id"] in counted else "", *[_cellval(p.get(k)) for k in keys]]
            for p in d["patients"]
        ]
        widths = [max(len(str(r[i])) for r in [head, *body]) for i in range(len(head))]
        for r in [head, *body]:
            line = "  ".join(str(x).ljust(w) for x, w in zip(r, widths, strict=True))
            out.append("  " + line.rstrip())
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------------
# command line


def main(argv: list[str] | None = None) -> int:
    """`trace`: print where a harmonised value came from, or what an output cell counts."""
    parser = argparse.ArgumentParser(
        prog="cohortflow trace",
        description="Trace a harmonised value to its source cell, or explain an output cell.",
    )
    parser.add_argument("--study", required=True)
    parser.add_argument("--root", default=".", help="repository root (default: .)")
    parser.add_argument(
        "--results", help="results folder or a study's result tree (default: <root>/results)"
    )
    parser.add_argument("--restricted", help="restricted folder (default: <root>/restricted)")
    parser.add_argument("--study-id", "--patient", dest="study_id", help="the patient's study ID")
    parser.add_argument("--variable", help="canonical variable, e.g. wbc")
    parser.add_argument(
        "--table",
        help="an output table: CSV (e.g. results/rr_all/analyse/survival.csv) or the Markdown/"
        "HTML it was rendered as (results/rr_all/tables/table1.md, survival.html)",
    )
    parser.add_argument("--row", type=int, help="1-based data row of --table")
    parser.add_argument("--column", help="column of --table")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    args = parser.parse_args(argv)
    try:
        if args.table:
            if args.row is None or not args.column:
                parser.error("--table needs --row and --column")
            d = trace_cell(Path(args.root), args.study, Path(args.table), args.row, args.column)
        elif args.study_id and args.variable:
            d = trace_value(
                Path(args.root),
                args.study,
                args.study_id,
                args.variable,
                results=Path(args.results) if args.results else None,
                restricted=Path(args.restricted) if args.restricted else None,
            )
        else:
            parser.error("give --study-id and --variable, or --table, --row and --column")
    except CohortflowError as exc:
        print(f"cohortflow trace: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(d, indent=2, ensure_ascii=False, default=str))
    else:
        sys.stdout.write(format_trace(d))
    return 0


if __name__ == "__main__":
    sys.exit(main())
