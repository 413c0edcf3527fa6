"""Table-cell lineage: what one cell of a machine-readable output table means.

``trace_cell`` explains one cell of survival estimates, strata, tests, the flow, risk
explanations or a descriptive table (or the Markdown/HTML it was rendered as) and lists the
patients it counts, recounting them against the table. ``format_cell_trace`` prints it.
A trace shows study IDs only.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cohortflow.analyse.adapters import DAYS_PER_MONTH, exposure_days
from cohortflow.analyse.survmethods import entry_days
from cohortflow.classify.groupings import strata
from cohortflow.classify.schemes import scheme_inputs
from cohortflow.core.config import load_study
from cohortflow.core.defaults import Analysis, Eligibility, Grouping, Study
from cohortflow.core.errors import CohortflowError
from cohortflow.core.expr import evaluate
from cohortflow.provenance.lineage import count_of, json_value, rel_path, text_of, truth_of
from cohortflow.provenance.rendered import locate

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
    by = Analysis.of(spec).by
    grouping = Study.of(study_def).groupings.get(by) if by else None
    lab, _ = strata(data, grouping, study_def.get("schemes", {}))
    info = {"spec": spec, "mode": mode, "grouping": grouping, "months": months}
    data["time"] = data["AVAL"].astype(float)
    if mode != "plain" and grouping:
        ep = study_def["endpoints"][spec["endpoint"]]
        x = exposure_days(data, grouping["time_dependent"], ep["origin"])
        names = Grouping.of(grouping).exposure_labels
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
            "AVAL": json_value(r["AVAL"]),
            "CNSR": json_value(r["CNSR"]),
            "what": json_value(r.get("EVNTDESC")) or json_value(r.get("CNSDTDSC")) or "",
        }
        if "exposure_day" in r:
            rec["exposure_day"] = json_value(r["exposure_day"])
        if r["time"] != r["AVAL"]:
            rec["time"] = json_value(r["time"])
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
        + (f" (grouping {spec['by']})" if Analysis.of(spec).by else " (all patients)"),
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
        check["n"] = (len(patients), count_of(rec.get("n")))
        if strata_only:
            check["events"] = (sum(p["CNSR"] == 0 for p in patients), count_of(rec.get("events")))
        else:
            check["n_risk"] = (sum(p["at_risk"] for p in patients), count_of(rec.get("n_risk")))
            check["events"] = (sum(p["event_by_t"] for p in patients), count_of(rec.get("events")))
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
    rules = Eligibility.of(Study.of(study_def).eligibility)
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
            (x for x in rules.inclusion + rules.exclusion if x.get("label", x["name"]) == lab),
            None,
        )
        name = crit["name"] if crit else lab
        sel = c.index[reason[c.index] == name]
        why = f"first failed criterion {name} [{crit['expr'] if crit else '?'}]"
    elif step.startswith("not analysed: "):
        lab = step[len("not analysed: ") :]
        crit = next((x for x in rules.analysed if x.get("label", x["name"]) == lab), None)
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
        "reconciliation": {"n": {"recounted": len(patients), "table": count_of(rec.get("n"))}},
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
        {"study_id": r["study_id"], "site": r["site"], "value": text_of(v)}
        for r, v in zip(
            pop[sel].to_dict("records"),
            (shown[sel] if shown is not None else [None] * int(sel.sum())),
            strict=True,
        )
    ]
    patients.sort(key=lambda x: (x["site"], x["study_id"]))
    recon = {}
    if kind != "continuous" or column in ("n", "N"):
        recon["n"] = {"recounted": len(patients), "table": count_of(rec.get("n"))}
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
            explanation.append(f"input {v} = {text_of(frame.at[0, v]) if v in frame else '?'}")
        for g in scheme["groups"]:
            for c in g.get("any_of", []) + g.get("all_of", []):
                explanation.append(
                    f"  {g['group']}: {c['name']} [{c['expr']}] = {truth_of(c['expr'], frame)}"
                )
    return {
        "explanation": explanation,
        "patients": [{"study_id": rec["study_id"], "site": json_value(row["site"].iloc[0])}]
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
    elif table_csv.parent.name == "tables" and table_csv.stem in Study.of(study_def).tables:
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
        "table": rel_path(table_csv, root),
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
    return "" if v is None or v == "" else text_of(v)


def format_cell_trace(d: dict[str, Any]) -> str:
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
