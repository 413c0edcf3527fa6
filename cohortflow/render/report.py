"""Tables for people: descriptive, survival, response, flow, Cox, competing-risks and RMST
tables (Markdown, HTML, DOCX) and the study workbook; the figures are in ``study_figures``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from cohortflow.analyse.outputs import SMALL_RISK_SET_TEST
from cohortflow.core.cellsafe import csv_restore
from cohortflow.core.defaults import Study
from cohortflow.core.errors import CohortflowError
from cohortflow.core.formatting import format_p, format_scaled
from cohortflow.core.io import write_csv
from cohortflow.core.timescale import DAYS_PER_MONTH
from cohortflow.core.xlsx import write_xlsx
from cohortflow.render.docx_tables import write_docx
from cohortflow.render.tables import (
    blank_repeats,
    describe,
    difference_notes,
    display_rows,
    frame_to_html,
    md_table,
    published_header,
    to_markdown,
)

log = logging.getLogger("cohortflow")


def _population(cohort: pd.DataFrame, which: str) -> pd.DataFrame:
    if which == "screened":
        return cohort
    return cohort[cohort[which]].reset_index(drop=True)


def write_descriptive_table(
    cohort: pd.DataFrame,
    study: dict[str, Any],
    name: str,
    stem: str,
    extra_notes: list[str] | None = None,
) -> None:
    """Table ``name`` of ``study['tables']`` as <stem>.csv, .md and .html."""
    if name not in Study.of(study).tables:
        raise CohortflowError(f"study {study['id']} defines no table {name!r}")
    spec = study["tables"][name]
    label = Study.of(study).data_label
    pop = _population(cohort, spec["population"])
    t = describe(pop, spec["items"], spec.get("published_n"))
    t.insert(0, "data_label", label)
    write_csv(t, f"{stem}.csv")
    notes = [
        f"Population: {spec['population']} patients (N = {len(pop)}). Values are n (%) "
        "unless stated; (N=k) or [N=k] gives the number with data when it differs.",
        label,
        *[n for n in extra_notes or [] if n],
    ]
    Path(f"{stem}.md").write_text(
        to_markdown(t, spec["title"], f"N = {len(pop)}", notes), encoding="utf-8"
    )
    shown = pd.DataFrame(display_rows(t)).rename(
        columns={"item": "Characteristic", "level": "", "value": f"N = {len(pop)}"}
    )
    if t["published_n"].notna().any():
        shown = shown.rename(columns={"published": published_header(t)})
        notes = [*notes, *difference_notes(t)]
    else:
        shown = shown.drop(columns=["published"])
    shown = blank_repeats(shown, "Characteristic")
    write_people_table(stem, shown, spec["title"], notes)


def write_people_table(
    stem: Path | str,
    df: pd.DataFrame,
    title: str,
    footnotes: list[str],
    more: list[tuple[str, pd.DataFrame]] | None = None,
) -> None:
    """A table for people as ``<stem>.html`` and ``<stem>.docx`` (Word, same layout: title,
    headers, further tables, footnotes)."""

    Path(f"{stem}.html").write_text(frame_to_html(df, title, footnotes, more), encoding="utf-8")
    write_docx(df, f"{stem}.docx", title, footnotes, more or [])


def p_text(p: float) -> str:
    """'P = 0.046' or 'P < 0.0001'."""
    t = format_p(p)
    return f"P {t}" if t.startswith("<") else f"P = {t}"


#: Printed for an estimate at a time beyond the curve's last follow-up.
NOT_ESTIMABLE = "NE"

#: Footnote explaining NE and the missing SE where the estimate is 0.
SURVIVAL_FOOTNOTE = (
    "NE: not estimable (the time point is beyond the last follow-up of the curve; nothing is "
    "extrapolated). Where the estimate is 0 its standard error and CI are undefined and "
    "shown as NA (missing, as R reports them), not as 0."
)


#: Footnote of the competing-risks table when a time point is beyond a group's follow-up.
CIF_NOT_ESTIMABLE_NOTE = (
    "NE: not estimable (the time point is beyond the last follow-up of the group; nothing is "
    "extrapolated)."
)


def estimate_cells(estimate: float, se: float, lower: float, upper: float) -> tuple[str, str]:
    """An estimate as tables for people print it, in % : ('estimate ± SE', '95 % CI');
    NE for both when the estimate is missing (beyond the last follow-up), NA for an undefined
    SE or CI (e.g. where a Kaplan-Meier estimate is 0)."""
    if pd.isna(estimate):
        return NOT_ESTIMABLE, NOT_ESTIMABLE
    ci = "NA" if pd.isna(lower) else f"{format_scaled(lower)}-{format_scaled(upper)}"
    return f"{format_scaled(estimate)} ± {format_scaled(se)}", ci


def survival_table(
    surv: pd.DataFrame, strata_df: pd.DataFrame, tests: pd.DataFrame
) -> pd.DataFrame:
    """Readable survival table: estimate ± SE (%), 95 % CI, at risk, published value."""
    rows = []
    for r in surv.to_dict("records"):
        est, ci = estimate_cells(r["estimate"], r["se"], r["lower"], r["upper"])
        pub = (
            ""
            if pd.isna(r["published_estimate"])
            else format_scaled(r["published_estimate"])
            + ("" if pd.isna(r["published_se"]) else f" ± {format_scaled(r['published_se'])}")
        )
        rows.append(
            {
                "Analysis": r["analysis"],
                "Stratum": r["stratum"],
                "N": r["n"],
                "Events": r["total_events"],
                "Time (y)": f"{r['time_years']:g}",
                "At risk": r["n_risk"],
                "Estimate ± SE (%)": est,
                "95% CI (%)": ci,
                "Published (%)": pub,
            }
        )
    return pd.DataFrame(rows)


def median_table(strata_df: pd.DataFrame) -> pd.DataFrame:
    """Medians for people: per analysis and stratum, N, events, median with its 95 % CI in
    months (days in brackets), or 'not reached'."""
    rows = []
    for r in strata_df.to_dict("records"):
        if pd.notna(r["median_days"]):
            lo = format_scaled(r["median_lower"] / DAYS_PER_MONTH, 1, 1)
            hi = format_scaled(r["median_upper"] / DAYS_PER_MONTH, 1, 1)
            med = (
                f"{format_scaled(r['median_days'] / DAYS_PER_MONTH, 1, 1)} ({lo}-{hi}) "
                f"[{r['median_days']:.0f} days]"
            )
        else:
            med = "not reached"
        rows.append(
            {
                "Analysis": r["analysis"],
                "Stratum": r["stratum"],
                "N": r["n"],
                "Events": r["events"],
                "Median, months (95% CI)": med,
            }
        )
    return pd.DataFrame(
        rows, columns=["Analysis", "Stratum", "N", "Events", "Median, months (95% CI)"]
    )


def write_survival_tables(
    surv: pd.DataFrame,
    strata_df: pd.DataFrame,
    tests: pd.DataFrame,
    study: dict[str, Any],
    out_dir: str,
) -> None:
    """survival.md / survival.html beside the machine-readable survival CSV."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    foot = [
        f"Kaplan-Meier estimates with Greenwood standard errors; {_ci_text(surv)} (default "
        "log-log; set per analysis with `ci_method`). Time points in years of 365.25 days from "
        "the endpoint's origin.",
        SURVIVAL_FOOTNOTE,
        Study.of(study).data_label,
    ]
    parts = [f"# {study['title']}: survival", ""]
    for a in study["analyses"]:
        parts.append(f"## {a['title']} ({a['endpoint']})")
        if a.get("note"):
            parts.append(f"> {a['note']}")
        parts.append("")
        derived = sorted({x for x in surv["analysis"] if str(x).startswith(a["id"] + "_")})
        for aid in [a["id"], *derived]:
            parts += _survival_section(aid, aid != a["id"], surv, strata_df, tests)
    parts += [f"{f}  " for f in foot if f]
    (out / "survival.md").write_text("\n".join(parts) + "\n", encoding="utf-8")
    write_people_table(
        out / "survival",
        survival_table(surv, strata_df, tests),
        f"{study['title']}: survival",
        foot + _test_footnotes(tests),
        more=[("Median survival (months, 95% CI)", median_table(strata_df))],
    )


def _ci_text(surv: pd.DataFrame) -> str:
    """How the 95 % CIs were made: one transform for all, or the transform per analysis."""
    by_analysis = (
        surv.drop_duplicates("analysis").set_index("analysis")["ci_method"] if len(surv) else {}
    )
    methods = set(by_analysis.values) if len(by_analysis) else {"log-log"}
    if len(methods) == 1:
        return f"95 % CI by the {methods.pop()} transform"
    return "95 % CI by transform per analysis: " + "; ".join(
        f"{a} {m}" for a, m in by_analysis.items()
    )


def _survival_section(
    aid: str, derived: bool, surv: pd.DataFrame, strata_df: pd.DataFrame, tests: pd.DataFrame
) -> list[str]:
    """Markdown lines of one analysis (or a landmark / Simon-Makuch analysis derived from
    it): its survival table, medians and tests."""
    parts = []
    sub = surv[surv["analysis"] == aid]
    if derived:
        kind = (
            "Landmark analysis"
            if "_landmark_" in aid
            else "Simon-Makuch estimates (time-dependent risk sets)"
        )
        origin = sub["origin"].iloc[0] if len(sub) else ""
        parts.append(f"### {kind}: {aid} (from {origin})")
        parts.append("")
    if len(sub):
        parts.append(md_table(survival_table(sub, strata_df, tests).drop(columns=["Analysis"])))
    st = strata_df[strata_df["analysis"] == aid]
    med = [
        f"{r['stratum']}: median {format_scaled(r['median_days'] / DAYS_PER_MONTH, 1, 1)} months "
        f"(95% CI {format_scaled(r['median_lower'] / DAYS_PER_MONTH, 1, 1)}-"
        f"{format_scaled(r['median_upper'] / DAYS_PER_MONTH, 1, 1)})"
        if pd.notna(r["median_days"])
        else f"{r['stratum']}: median not reached"
        for r in st.to_dict("records")
    ]
    if med:
        parts.append("Median: " + "; ".join(med) + ".")
    tt = tests[tests["analysis"] == aid] if len(tests) else tests
    parts += [_test_line(r) for r in (tt.to_dict("records") if len(tt) else [])]
    parts.append("")
    return parts


def _primary_text(r: dict[str, Any]) -> str:
    """' (primary test)' for its analysis's primary test, else ''."""
    return " (primary test)" if r.get("primary") in (True, "True") else ""


def _test_line(r: dict[str, Any]) -> str:
    """A test of survival.md: name, chi2, df, P and the published P; or why it was not done."""
    if pd.isna(r["chi2"]):
        return f"\n**{r['test']}**: {r['note']}"
    pp = "" if pd.isna(r["published_p"]) else f" (published P = {r['published_p']:g})"
    note = (
        f" ({r['note']})"
        if isinstance(r.get("note"), str)
        and r["note"]
        and ("landmark" in r["test"] or "Mantel" in r["test"])
        else ""
    )
    return (
        f"\n{printed_test_name(r['test'])}{_primary_text(r)}: chi2 = {r['chi2']:.3f} on "
        f"{r['df']:g} df, {p_text(r['p'])}{pp}{note}."
    )


def _test_footnotes(tests: pd.DataFrame) -> list[str]:
    """Footnotes of survival.html: every computed test, then the small-risk-set warnings."""
    records = tests.to_dict("records")
    return [
        f"{r['analysis']}: {printed_test_name(r['test'])}{_primary_text(r)}: chi2 "
        f"{r['chi2']:.3f} on {r['df']:g} df, {p_text(r['p'])}"
        for r in records
        if pd.notna(r["chi2"])
    ] + [f"{r['analysis']}: {r['note']}" for r in records if r["test"] == SMALL_RISK_SET_TEST]


def write_response_tables(
    rates: pd.DataFrame, counts: pd.DataFrame, study: dict[str, Any], out_dir: str
) -> None:
    """response_rates.md/.html: best-response counts and rates with definitions and exact CIs."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    label = Study.of(study).data_label
    title = f"{study['title']}: responses"
    if rates.empty:
        text = f"# {title}\n\nNo response rates are defined for this study.\n"
        (out / "response_rates.md").write_text(text, encoding="utf-8")
        write_people_table(
            out / "response_rates", pd.DataFrame(), title, ["No response rates defined.", label]
        )
        return
    shown = pd.DataFrame(
        {
            "Rate": rates["label"],
            "n / N": [f"{r.n} / {r.N}" for r in rates.itertuples()],
            "% (95% CI)": [
                f"{100 * r.rate:.1f} ({100 * r.ci_lower:.1f}-{100 * r.ci_upper:.1f})"
                for r in rates.itertuples()
            ],
            "Published %": ["" if pd.isna(p) else f"{p:.1f}" for p in rates["published_percent"]],
        }
    )
    defs = [f"{r.label}: {r.definition}" for r in rates.itertuples()]
    foot = [
        "Definitions:",
        *defs,
        "95% CI: exact (Clopper-Pearson). Best response over all assessments; patients "
        "without an assessment count in the denominator.",
        label,
    ]
    cnt = counts[["response", "n", "N"]] if not counts.empty else pd.DataFrame()
    parts = [
        f"# {title}",
        "",
        "## Best response",
        "",
        md_table(cnt),
        "## Rates",
        "",
        md_table(shown),
        *[f"{f}  " for f in foot if f],
    ]
    (out / "response_rates.md").write_text("\n".join(parts) + "\n", encoding="utf-8")
    write_people_table(out / "response_rates", shown, title, foot)


def write_flow(flow: pd.DataFrame, study: dict[str, Any], out_dir: str) -> None:
    """Eligibility flow table (Markdown) from the flow CSV."""
    out = Path(out_dir)
    wide = (
        flow.pivot(index="step", columns="site", values="n")
        .reindex(flow["step"].unique())
        .reset_index()
    )
    notes = [n.strip() for n in study.get("flow_notes", [Study.of(study).data_label]) if n]
    (out / "flow.md").write_text(
        f"## Patient flow\n\n{md_table(wide)}\n" + "".join(f"{n}  \n" for n in notes),
        encoding="utf-8",
    )

    write_docx(wide, out / "flow.docx", f"{study['title']}: patient flow", notes)


def printed_test_name(test: str) -> str:
    """A test's name as printed beside its P ("Log-rank", "Log-rank stratified by site")."""
    t = str(test)
    if t == "log-rank (unweighted)":
        return "Log-rank"
    if t.startswith("log-rank test for trend"):
        return "Log-rank test for trend"
    return t[:1].upper() + t[1:]


def write_model_tables(
    cox: pd.DataFrame, cif: pd.DataFrame, tests: pd.DataFrame, study: dict[str, Any], out_dir: str
) -> None:
    """cox.md/.html (hazard ratios or the refusal) and competing_risks.md/.html."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    label = Study.of(study).data_label
    shown = pd.DataFrame(
        [_cox_row(r) for r in cox.to_dict("records")],
        columns=["Model", "Covariate", "HR (95% CI)", "P", "PH test P", "N / events", "Status"],
    )
    foot = [
        "Cox proportional hazards, Efron ties; Wald 95 % CI and P; proportional-hazards "
        "check: score test on Schoenfeld residuals against Kaplan-Meier-transformed time "
        "(as R cox.zph). A model is refused when events are too few for its parameters "
        "(default 5 per parameter). Time-dependent covariates (e.g. HSCT) are coded by "
        "splitting follow-up at the exposure.",
        *FINE_GRAY_NOTE[: int("method" in cox and (cox["method"] == "fine-gray").any())],
        label,
    ]
    title = f"{study['title']}: Cox models"
    write_md_table(out / "cox.md", title, shown, "No Cox models configured.", foot)
    write_people_table(out / "cox", shown, title, foot)
    write_competing_risks_table(cif, tests, study, out)


def _cox_row(r: dict[str, Any]) -> dict[str, Any]:
    """A row of cox.md: a covariate's HR, CI and Ps, or a refused model with its reason."""
    if r["status"] != "fitted":
        return {
            "Model": r["title"],
            "Covariate": "",
            "HR (95% CI)": "not estimable",
            "P": "",
            "PH test P": "",
            "N / events": "",
            "Status": r["status"],
        }
    return {
        "Model": r["title"],
        "Covariate": r["covariate"],
        "HR (95% CI)": f"{r['hr']:.2f} ({r['lower']:.2f}-{r['upper']:.2f})",
        "P": format_p(r["p"]),
        "PH test P": format_p(r["ph_p"]),
        "N / events": f"{int(r['n'])} / {int(r['events'])}",
        "Status": "fitted",
    }


def write_competing_risks_table(
    cif: pd.DataFrame, tests: pd.DataFrame, study: dict[str, Any], out: Path
) -> None:
    """competing_risks.md/.html/.docx: cumulative incidence per analysis, group, event and
    time point, with Gray's tests in the footnotes."""
    cshown = pd.DataFrame(
        [
            {
                "Analysis": r["analysis"],
                "Stratum": r["stratum"],
                "Event": r["cause_label"],
                "N": r["n"],
                "Time (y)": f"{r['time_years']:g}",
                **dict(
                    zip(
                        ["Cumulative incidence ± SE (%)", "95% CI (%)"],
                        estimate_cells(r["cif"], r["se"], r["lower"], r["upper"]),
                        strict=True,
                    )
                ),
            }
            for r in cif.to_dict("records")
        ]
    )
    beyond = bool(len(cif)) and bool(cif["cif"].isna().any())
    gray = tests[tests["test"].astype(str).str.startswith("Gray")] if len(tests) else tests
    cfoot = (
        [
            "Cumulative incidence (Aalen-Johansen), deterministic on tied times; variance as "
            "cmprsk::cuminc; 95 % CI by the log(-log) transform. Gray's test compares the "
            "cumulative incidence of the event across groups."
        ]
        + [
            f"{r['analysis']}: {r['test']} chi2 = {r['chi2']:.3f} on {r['df']:g} df, "
            f"{p_text(r['p'])}"
            for r in gray.to_dict("records")
        ]
        + [CIF_NOT_ESTIMABLE_NOTE] * beyond
        + [Study.of(study).data_label]
    )
    title = f"{study['title']}: competing risks"
    empty = "No competing-risks analyses configured."
    write_md_table(out / "competing_risks.md", title, cshown, empty, cfoot)
    write_people_table(out / "competing_risks", cshown, title, cfoot)


def write_md_table(
    path: Path, title: str, shown: pd.DataFrame, empty: str, footnotes: list[str]
) -> None:
    """A Markdown page of one table: the title as heading, the table (``empty`` when it has
    no rows) and the non-empty footnotes."""
    text = [
        f"# {title}",
        "",
        md_table(shown) if len(shown) else f"{empty}\n",
        *[f"{f}  " for f in footnotes if f],
    ]
    path.write_text("\n".join(text) + "\n", encoding="utf-8")


FINE_GRAY_NOTE = [
    "Fine-Gray models: the HR column is the subdistribution hazard ratio (sHR) of the event "
    "with the competing event kept in the risk set (weighted by the censoring distribution), "
    "as R cmprsk::crr; 95 % CI and P from crr's sandwich variance; Breslow ties. An sHR "
    "describes the cumulative incidence, not the biological event rate: a covariate can raise "
    "the sHR by lowering the competing event's rate. Refused as the Cox models are (default "
    "5 events of the cause per parameter)."
]


def write_rmst_table(rmst: pd.DataFrame, study: dict[str, Any], out_dir: str) -> None:
    """rmst.md / rmst.html: restricted mean survival time per group, differences and ratios."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    label = Study.of(study).data_label
    titles = {a["id"]: a["title"] for a in study["analyses"]}
    rows = []
    for r in rmst.to_dict("records") if len(rmst) else []:
        est = r.get("estimate")
        if r["status"] != "estimated":
            shown = f"{r['status']}: {r['note']}"
            ci = p = ""
        elif r["kind"] == "ratio":
            shown = f"{est:.2f}"
            ci = f"{r['lower']:.2f} to {r['upper']:.2f}"
            p = format_p(r["p"])
        else:
            shown = f"{est:.1f}"
            ci = f"{r['lower']:.1f} to {r['upper']:.1f}"
            p = format_p(r["p"]) if r["kind"] == "difference" else ""
        rows.append(
            {
                "Analysis": titles.get(r["analysis"], r["analysis"]),
                "Horizon (y)": f"{r['tau_years']:g}",
                "Row": {"group": "RMST", "difference": "Difference", "ratio": "Ratio"}.get(
                    r["kind"], "RMST"
                ),
                "Group": r["stratum"],
                "N / events by tau": ""
                if pd.isna(r.get("n"))
                else f"{int(r['n'])} / {int(r['events'])}",
                "Estimate": shown + ("" if r["kind"] == "ratio" else f" {r['unit']}")
                if r["status"] == "estimated"
                else shown,
                "95% CI": ci,
                "P": p,
            }
        )
    cols = [
        "Analysis",
        "Horizon (y)",
        "Row",
        "Group",
        "N / events by tau",
        "Estimate",
        "95% CI",
        "P",
    ]
    shown = pd.DataFrame(rows, columns=cols)
    foot = [
        "Restricted mean survival time (RMST): the mean event-free time up to the horizon, the "
        "area under the Kaplan-Meier curve (R print(survfit(...), rmean = tau)), with R's "
        "standard error and Wald 95 % CI. Differences and ratios are each group against the "
        "first listed (normal approximation; ratio on the log scale). RMST stays interpretable "
        "when hazards are not proportional; it says nothing about survival beyond the horizon. "
        "A horizon beyond a group's last follow-up is refused (the curve is unknown there).",
        "Not computed by HSCT: transplantation happens after the time origin, so a plain RMST "
        "comparison by HSCT is biased by immortal time, like the naive Kaplan-Meier comparison.",
        label,
    ]
    title = f"{study['title']}: restricted mean survival time"
    write_md_table(out / "rmst.md", title, shown, "No RMST analyses configured.", foot)
    (out / "rmst.html").write_text(frame_to_html(shown, title, foot), encoding="utf-8")


def write_workbook(csvs: dict[str, str], study: dict[str, Any], path: str) -> None:
    """One XLSX workbook of the study's tables (a sheet per table) for people."""
    tables = {}
    for name, p in csvs.items():
        df = csv_restore(pd.read_csv(p)) if Path(p).stat().st_size > 1 else pd.DataFrame()
        tables[name] = df.drop(columns=["data_label", "study"], errors="ignore")
    write_xlsx(
        tables,
        path,
        title=study["title"],
        footnotes=[Study.of(study).data_label] if Study.of(study).data_label else (),
    )
