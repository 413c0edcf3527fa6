"""Human-readable outputs: descriptive tables, survival tables and Kaplan-Meier figures."""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from cohortflow.analyse.adapters import exposure_days
from cohortflow.analyse.analysis import DAYS_PER_YEAR, endpoint_data, primary_test, strata  # noqa: I001
from cohortflow.analyse.survmethods import SMALL_RISK_SET_TEST, entry_days
from cohortflow.core.cellsafe import csv_restore
from cohortflow.core.errors import CohortflowError
from cohortflow.core.expr import evaluate
from cohortflow.core.formatting import format_p, format_scaled
from cohortflow.core.io import write_csv
from cohortflow.core.xlsx import write_xlsx
from cohortflow.render.docx_tables import write_docx
from cohortflow.render.figure_names import SWIMMER_MAX_PATIENTS, parse_figure, swimmer_subset_text
from cohortflow.render.figures import (
    AT_RISK_AXES_LABEL,
    FONT_FAMILY,
    KM_AXES_LABEL,
    PALETTE,
    km_figure,
    save_figure,
)
from cohortflow.render.plots import cif_figure, forest_figure, swimmer_figure
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
from cohortflow.stats.competing import cumulative_incidence
from cohortflow.stats.survival import kaplan_meier
from cohortflow.stats.timedep import curve_at, landmark, simon_makuch

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
    if name not in study.get("tables", {}):
        raise CohortflowError(f"study {study['id']} defines no table {name!r}")
    spec = study["tables"][name]
    label = study.get("data_label", "")
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


def survival_table(
    surv: pd.DataFrame, strata_df: pd.DataFrame, tests: pd.DataFrame
) -> pd.DataFrame:
    """Readable survival table: estimate ± SE (%), 95 % CI, at risk, published value."""
    rows = []
    for r in surv.to_dict("records"):
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
                "Estimate ± SE (%)": NOT_ESTIMABLE
                if pd.isna(r["estimate"])
                else f"{format_scaled(r['estimate'])} ± {format_scaled(r['se'])}",
                "95% CI (%)": NOT_ESTIMABLE
                if pd.isna(r["estimate"])
                else "NA"
                if pd.isna(r["lower"])
                else f"{format_scaled(r['lower'])}-{format_scaled(r['upper'])}",
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
    label = study.get("data_label", "")
    by_analysis = (
        surv.drop_duplicates("analysis").set_index("analysis")["ci_method"] if len(surv) else {}
    )
    methods = set(by_analysis.values) if len(by_analysis) else {"log-log"}
    if len(methods) == 1:
        ci_text = f"95 % CI by the {methods.pop()} transform"
    else:
        ci_text = "95 % CI by transform per analysis: " + "; ".join(
            f"{a} {m}" for a, m in by_analysis.items()
        )
    foot = [
        f"Kaplan-Meier estimates with Greenwood standard errors; {ci_text} (default log-log; "
        "set per analysis with `ci_method`). Time points in years of 365.25 days from the "
        "endpoint's origin.",
        SURVIVAL_FOOTNOTE,
        label,
    ]
    parts = [f"# {study['title']}: survival", ""]
    for a in study["analyses"]:
        parts.append(f"## {a['title']} ({a['endpoint']})")
        if a.get("note"):
            parts.append(f"> {a['note']}")
        parts.append("")
        derived = sorted({x for x in surv["analysis"] if str(x).startswith(a["id"] + "_")})
        for aid in [a["id"], *derived]:
            sub = surv[surv["analysis"] == aid]
            if aid != a["id"]:
                kind = (
                    "Landmark analysis"
                    if "_landmark_" in aid
                    else "Simon-Makuch estimates (time-dependent risk sets)"
                )
                origin = sub["origin"].iloc[0] if len(sub) else ""
                parts.append(f"### {kind}: {aid} (from {origin})")
                parts.append("")
            if len(sub):
                parts.append(
                    md_table(survival_table(sub, strata_df, tests).drop(columns=["Analysis"]))
                )
            st = strata_df[strata_df["analysis"] == aid]
            med = [
                f"{r['stratum']}: median {format_scaled(r['median_days'] / 30.4375, 1, 1)} months "
                f"(95% CI {format_scaled(r['median_lower'] / 30.4375, 1, 1)}-"
                f"{format_scaled(r['median_upper'] / 30.4375, 1, 1)})"
                if pd.notna(r["median_days"])
                else f"{r['stratum']}: median not reached"
                for r in st.to_dict("records")
            ]
            if med:
                parts.append("Median: " + "; ".join(med) + ".")
            tt = tests[tests["analysis"] == aid] if len(tests) else tests
            for r in tt.to_dict("records") if len(tt) else []:
                if pd.isna(r["chi2"]):
                    parts.append(f"\n**{r['test']}**: {r['note']}")
                    continue
                pp = "" if pd.isna(r["published_p"]) else f" (published P = {r['published_p']:g})"
                note = (
                    f" ({r['note']})"
                    if isinstance(r.get("note"), str)
                    and r["note"]
                    and ("landmark" in r["test"] or "Mantel" in r["test"])
                    else ""
                )
                primary = " (primary test)" if r.get("primary") in (True, "True") else ""
                parts.append(
                    f"\n{printed_test_name(r['test'])}{primary}: chi2 = {r['chi2']:.3f} on "
                    f"{r['df']:g} df, {p_text(r['p'])}{pp}{note}."
                )
            parts.append("")
    parts += [f"{f}  " for f in foot if f]
    (out / "survival.md").write_text("\n".join(parts) + "\n", encoding="utf-8")
    write_people_table(
        out / "survival",
        survival_table(surv, strata_df, tests),
        f"{study['title']}: survival",
        foot
        + [
            f"{r['analysis']}: {printed_test_name(r['test'])}"
            f"{' (primary test)' if r.get('primary') in (True, 'True') else ''}: chi2 "
            f"{r['chi2']:.3f} on {r['df']:g} df, {p_text(r['p'])}"
            for r in tests.to_dict("records")
            if pd.notna(r["chi2"])
        ]
        + [
            f"{r['analysis']}: {r['note']}"
            for r in tests.to_dict("records")
            if r["test"] == SMALL_RISK_SET_TEST
        ],
        more=[("Median survival (months, 95% CI)", median_table(strata_df))],
    )


def write_response_tables(
    rates: pd.DataFrame, counts: pd.DataFrame, study: dict[str, Any], out_dir: str
) -> None:
    """response_rates.md/.html: best-response counts and rates with definitions and exact CIs."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    label = study.get("data_label", "")
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
    notes = [n.strip() for n in study.get("flow_notes", [study.get("data_label", "")]) if n]
    (out / "flow.md").write_text(
        f"## Patient flow\n\n{md_table(wide)}\n" + "".join(f"{n}  \n" for n in notes),
        encoding="utf-8",
    )

    write_docx(wide, out / "flow.docx", f"{study['title']}: patient flow", notes)


def km_figures(
    cohort: pd.DataFrame,
    adtte: pd.DataFrame,
    tests: pd.DataFrame,
    study: dict[str, Any],
    analysis_id: str,
    stem: str,
) -> list[Path]:
    """Kaplan-Meier figure (PNG, PDF, SVG) of one configured analysis."""

    return save_figure(km_analysis_figure(cohort, adtte, tests, study, analysis_id), Path(stem))


def km_analysis_figure(
    cohort: pd.DataFrame,
    adtte: pd.DataFrame,
    tests: pd.DataFrame,
    study: dict[str, Any],
    analysis_id: str,
) -> Any:
    """The Kaplan-Meier ``Figure`` of one configured analysis."""

    a = next(x for x in study["analyses"] if x["id"] == analysis_id)
    data = cohort[cohort["analysed"]].merge(
        adtte[adtte["PARAMCD"] == a["endpoint"]][["study_id", "AVAL", "CNSR"]], on="study_id"
    )
    if "subset" in a:
        r = evaluate(a["subset"]["expr"], data)
        data = data[r.value & r.known]
    data = data[data["AVAL"].notna() & (data["AVAL"] >= 0)].reset_index(drop=True)
    ep = study["endpoints"][a["endpoint"]]
    data = entry_days(data, ep, analysis_id)  # delayed entry: ENTRY column, as the analysis
    grouping = study.get("groupings", {}).get(a["by"]) if a.get("by") else None
    lab, order = strata(data, grouping, study.get("schemes", {}))
    curves = {}
    entries = {}
    for s in order:
        d = data[lab == s]
        name = s if grouping else (a["subset"]["label"] if "subset" in a else "All patients")
        curves[name] = (d["AVAL"].to_numpy(float), (d["CNSR"] == 0).to_numpy(int))
        if "ENTRY" in d:
            entries[name] = d["ENTRY"].to_numpy(float)
    p_label, others = p_value_labels(tests, analysis_id, primary_test(a))
    unit = a.get("time_unit", "months")
    xmax_y = a.get("xmax_years")
    scale = {"months": DAYS_PER_YEAR / 12, "years": DAYS_PER_YEAR}[unit]
    xmax = xmax_y * DAYS_PER_YEAR / scale if xmax_y else None
    extra = []
    if a.get("ci_bands"):
        extra.append(f"Shaded: pointwise 95% CI ({a.get('ci_method', 'log-log')} transform).")
    shade = bool((a.get("rmst") or {}).get("shade"))
    if shade:
        extra.append(
            f"Shaded: area under each curve up to {a['rmst']['tau_years']:g} years = its "
            "restricted mean survival time (tables/rmst.md)."
        )
    extra += others
    foot = "\n".join(
        x for x in [a.get("note", "").strip(), " ".join(extra), study.get("data_label", "")] if x
    )
    fig = km_figure(
        curves,
        title=a["title"],
        time_unit=unit,
        xmax=xmax,
        tick_step=12 if unit == "months" else 1,
        p_value_text=p_label,
        ylabel=f"{ep['label']} (probability)",
        footnote=foot or None,
        ci_bands=bool(a.get("ci_bands")),
        ci_method=a.get("ci_method", "log-log"),
        entries=entries or None,
    )
    if shade:
        shade_rmst(fig, curves, a["rmst"]["tau_years"] * DAYS_PER_YEAR, scale)
    return fig


def origin_words(origin: str) -> str:
    """A time origin column in words: rr_diagnosis_date -> 'R/R diagnosis'."""
    words = str(origin).removesuffix("_date").split("_")
    known = {"rr": "R/R", "hsct": "HSCT", "cr": "CR"}
    return " ".join(known.get(w, w) for w in words)


def printed_test_name(test: str) -> str:
    """A test's name as printed beside its P ("Log-rank", "Log-rank stratified by site")."""
    t = str(test)
    if t == "log-rank (unweighted)":
        return "Log-rank"
    if t.startswith("log-rank test for trend"):
        return "Log-rank test for trend"
    return t[:1].upper() + t[1:]


def p_value_labels(
    tests: pd.DataFrame, analysis_id: str, primary: str
) -> tuple[str | None, list[str]]:
    """The legend text of an analysis's primary test ("Log-rank stratified by site
    P = 0.885") and one footnote sentence per other test, each P beside its test's name."""
    if not len(tests):
        return None, []
    rows = tests[(tests["analysis"] == analysis_id) & tests["p"].notna()]
    legend, others = None, []
    for r in rows.to_dict("records"):
        text = f"{printed_test_name(r['test'])} {p_text(r['p'])}"
        if r["test"] == primary:
            legend = text
        else:
            others.append(f"{text} ({r['chi2']:.2f} on {r['df']:g} df).")
    return legend, others


def shade_rmst(
    fig: Any, curves: dict[str, tuple[np.ndarray, np.ndarray]], tau_days: float, scale: float
) -> None:
    """Shade the area under each Kaplan-Meier curve up to ``tau_days`` (its RMST) on the
    survival axes of a :func:`cohortflow.figures.km_figure`, in the curve's colour."""
    ax = next(x for x in fig.axes if x.get_label() == KM_AXES_LABEL)
    lines = [ln for ln in ax.get_lines() if not str(ln.get_label()).startswith("_")]
    for line, (t, e) in zip(lines, curves.values(), strict=False):
        tab = kaplan_meier(t, e).table
        keep = tab["time"].to_numpy() <= tau_days
        x = np.append(tab["time"].to_numpy()[keep], tau_days) / scale
        y = np.append(tab["survival"].to_numpy()[keep], tab["survival"].to_numpy()[keep][-1])
        ax.fill_between(x, 0, y, step="post", color=line.get_color(), alpha=0.1, linewidth=0)
    ax.axvline(tau_days / scale, color="0.4", linestyle=":", linewidth=1)


def _nan_to_none(x: Any) -> Any:
    return None if isinstance(x, float) and np.isnan(x) else x


def write_model_tables(
    cox: pd.DataFrame, cif: pd.DataFrame, tests: pd.DataFrame, study: dict[str, Any], out_dir: str
) -> None:
    """cox.md/.html (hazard ratios or the refusal) and competing_risks.md/.html."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    label = study.get("data_label", "")
    rows = []
    for r in cox.to_dict("records"):
        if r["status"] != "fitted":
            rows.append(
                {
                    "Model": r["title"],
                    "Covariate": "",
                    "HR (95% CI)": "not estimable",
                    "P": "",
                    "PH test P": "",
                    "N / events": "",
                    "Status": r["status"],
                }
            )
            continue
        rows.append(
            {
                "Model": r["title"],
                "Covariate": r["covariate"],
                "HR (95% CI)": f"{r['hr']:.2f} ({r['lower']:.2f}-{r['upper']:.2f})",
                "P": format_p(r["p"]),
                "PH test P": format_p(r["ph_p"]),
                "N / events": f"{int(r['n'])} / {int(r['events'])}",
                "Status": "fitted",
            }
        )
    shown = pd.DataFrame(
        rows,
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
    text = [
        f"# {study['title']}: Cox models",
        "",
        md_table(shown) if len(shown) else "No Cox models configured.\n",
        *[f"{f}  " for f in foot if f],
    ]
    (out / "cox.md").write_text("\n".join(text) + "\n", encoding="utf-8")
    write_people_table(out / "cox", shown, f"{study['title']}: Cox models", foot)
    crows = [
        {
            "Analysis": r["analysis"],
            "Stratum": r["stratum"],
            "Event": r["cause_label"],
            "N": r["n"],
            "Time (y)": f"{r['time_years']:g}",
            "Cumulative incidence ± SE (%)": (
                f"{format_scaled(r['cif'])} ± {format_scaled(r['se'])}"
            ),
            "95% CI (%)": "NA"
            if pd.isna(r["lower"])
            else f"{format_scaled(r['lower'])}-{format_scaled(r['upper'])}",
        }
        for r in cif.to_dict("records")
    ]
    cshown = pd.DataFrame(crows)
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
        + [label]
    )
    ctext = [
        f"# {study['title']}: competing risks",
        "",
        md_table(cshown) if len(cshown) else "No competing-risks analyses configured.\n",
        *[f"{f}  " for f in cfoot if f],
    ]
    (out / "competing_risks.md").write_text("\n".join(ctext) + "\n", encoding="utf-8")
    write_people_table(out / "competing_risks", cshown, f"{study['title']}: competing risks", cfoot)


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
    label = study.get("data_label", "")
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
    text = [
        f"# {study['title']}: restricted mean survival time",
        "",
        md_table(shown) if len(shown) else "No RMST analyses configured.\n",
        *[f"{f}  " for f in foot if f],
    ]
    (out / "rmst.md").write_text("\n".join(text) + "\n", encoding="utf-8")
    (out / "rmst.html").write_text(
        frame_to_html(shown, f"{study['title']}: restricted mean survival time", foot),
        encoding="utf-8",
    )


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
        footnotes=[study.get("data_label", "")] if study.get("data_label") else (),
    )


def _step_survival_figure(
    curves: dict[str, tuple[np.ndarray, np.ndarray]],
    at_risk: dict[str, tuple[list[float], list[int]]],
    *,
    title: str,
    ylabel: str,
    footnote: str,
    xmax_months: float | None,
) -> Any:
    """Survival step curves given as (times in days, survival) with a number-at-risk table
    (used for Simon-Makuch curves, whose risk sets change at the exposure)."""
    with mpl.rc_context({"font.family": FONT_FAMILY}):
        return _draw_step_survival(
            curves, at_risk, title=title, ylabel=ylabel, footnote=footnote,
            xmax_months=xmax_months,
        )  # fmt: skip


def _draw_step_survival(
    curves: dict[str, tuple[np.ndarray, np.ndarray]],
    at_risk: dict[str, tuple[list[float], list[int]]],
    *,
    title: str,
    ylabel: str,
    footnote: str,
    xmax_months: float | None,
) -> Figure:
    """The Simon-Makuch figure's drawing (see ``_step_survival_figure``)."""
    fig = Figure(figsize=(7, 5.8))
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.14, 0.42, 0.8, 0.5), label=KM_AXES_LABEL)
    risk = fig.add_axes((0.14, 0.12, 0.8, 0.14), label=AT_RISK_AXES_LABEL)
    ticks = list(at_risk.values())[0][0] if at_risk else []
    for k, (lab, (t, s)) in enumerate(curves.items()):
        ax.step(
            np.asarray(t) / DAYS_PER_MONTH, s, where="post", color=PALETTE[k], lw=1.8, label=lab
        )
    xmax = xmax_months or max((max(t) for t, _ in curves.values()), default=1) / DAYS_PER_MONTH
    ax.set_xlim(0, xmax)
    ax.set_ylim(0, 1.05)
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_xticks([x / DAYS_PER_MONTH for x in ticks])
    ax.set_xlabel("Time (months)")
    ax.set_ylabel(ylabel)
    ax.set_title(textwrap.fill(title, 70), loc="left", fontsize=11)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(frameon=False, loc="upper right", fontsize=9)
    risk.set_xlim(ax.get_xlim())
    risk.set_ylim(-0.5, len(at_risk) - 0.5)
    risk.axis("off")
    risk.text(0, len(at_risk) - 0.3, "Number at risk", fontsize=9, va="bottom")
    for k, (lab, (tt, counts)) in enumerate(at_risk.items()):
        y = len(at_risk) - 1 - k
        risk.text(-0.04 * xmax, y, lab, ha="right", va="center", fontsize=8.5, color=PALETTE[k])
        for x, c in zip(tt, counts, strict=True):
            if x / DAYS_PER_MONTH <= xmax + 1e-9:
                risk.text(
                    x / DAYS_PER_MONTH,
                    y,
                    str(c),
                    ha="center",
                    va="center",
                    fontsize=8.5,
                    color=PALETTE[k],
                )
    fig.text(0.02, 0.01, textwrap.fill(footnote, 115), fontsize=7.5, color="0.3", va="bottom")
    return fig


DAYS_PER_MONTH = DAYS_PER_YEAR / 12


def any_figure(
    name: str,
    cohort: pd.DataFrame,
    adtte: pd.DataFrame,
    tests: pd.DataFrame,
    cox: pd.DataFrame,
    study: dict[str, Any],
    stem: str,
) -> list[Path]:
    """Figure ``name`` of a study: km_<analysis>[_landmark_<L>m|_simon_makuch], cif_<id>,
    forest_<model> or swimmer; PNG, PDF and SVG."""

    return save_figure(build_figure(name, cohort, adtte, tests, cox, study), Path(stem))


def build_figure(
    name: str,
    cohort: pd.DataFrame,
    adtte: pd.DataFrame,
    tests: pd.DataFrame,
    cox: pd.DataFrame,
    study: dict[str, Any],
) -> Any:
    """The matplotlib ``Figure`` of figure ``name`` of a study (see ``any_figure``); raises
    ``CohortflowError`` for a refused Cox model, which gets no figure."""

    label = study.get("data_label", "")
    analysed = cohort[cohort["analysed"]].reset_index(drop=True)
    try:
        figure = parse_figure(study, name)
    except ValueError:
        raise CohortflowError(f"unknown figure {name!r}") from None
    if figure.kind in ("landmark", "simon_makuch"):
        aid = figure.id
        a = next(x for x in study["analyses"] if x["id"] == aid)
        grouping = study["groupings"][a["by"]]
        ep = study["endpoints"][a["endpoint"]]
        data = endpoint_data(analysed, adtte, a["endpoint"])

        t = data["AVAL"].to_numpy(float)
        e = (data["CNSR"] == 0).to_numpy(int)
        x = exposure_days(data, grouping["time_dependent"], ep["origin"])
        names = grouping.get("exposure_labels", ["exposed", "unexposed"])
        xmax_y = a.get("xmax_years")
        if figure.kind == "landmark":
            months = float(figure.months)
            ld = landmark(t, e, x, months * DAYS_PER_MONTH).table
            curves = {
                f"{lab} by {months:g} months": (
                    ld.loc[ld["group"] == key, "time"].to_numpy(float),
                    ld.loc[ld["group"] == key, "event"].to_numpy(int),
                )
                for key, lab in (("exposed", names[0]), ("unexposed", names[1]))
                if (ld["group"] == key).any()
            }
            tt = tests[tests["analysis"] == name[3:]] if len(tests) else tests
            p = f"Log-rank {p_text(float(tt['p'].iloc[0]))}" if len(tt) else None
            fig = km_figure(
                curves,
                title=f"{ep['label']} by {grouping.get('label', a['by'])}: landmark at "
                f"{months:g} months",
                time_unit="months",
                tick_step=12,
                p_value_text=p,
                xmax=(xmax_y * 12 - months) if xmax_y else None,
                ylabel=f"{ep['label']} from the landmark",
                footnote=f"Patients alive and event-free at {months:g} months, "
                f"grouped by exposure before it; time from the landmark.\n{label}",
            )
            return fig
        sm = simon_makuch(t, e, x)
        ticks = [m * DAYS_PER_MONTH for m in range(0, int((xmax_y or 8) * 12) + 1, 12)]
        curves = {
            names[0] if k == "exposed" else names[1]: (
                sm[k].table["time"].to_numpy(float),
                sm[k].table["survival"].to_numpy(float),
            )
            for k in ("exposed", "unexposed")
        }
        at_risk = {
            names[0] if k == "exposed" else names[1]: (
                ticks,
                [int(v) for v in curve_at(sm[k], ticks)["n_risk"]],
            )
            for k in ("exposed", "unexposed")
        }
        mb = (
            tests[(tests["analysis"] == aid) & tests["test"].astype(str).str.startswith("Mantel")]
            if len(tests)
            else tests
        )
        p = f" Mantel-Byar {p_text(float(mb['p'].iloc[0]))}." if len(mb) else ""
        fig = _step_survival_figure(
            curves,
            at_risk,
            title=f"{ep['label']} by {grouping.get('label', a['by'])}: Simon-Makuch curves",
            ylabel=ep["label"],
            footnote=f"Simon-Makuch curves: patients count as unexposed until the exposure "
            f"and as exposed after it (time-dependent risk sets).{p} {label}",
            xmax_months=(xmax_y or 8) * 12,
        )
        return fig
    if figure.kind == "km":
        return km_analysis_figure(cohort, adtte, tests, study, figure.id)
    if figure.kind == "cif":
        a = next(x for x in study.get("cif_analyses", []) if x["id"] == figure.id)
        ep = study["endpoints"][a["endpoint"]]
        data = endpoint_data(analysed, adtte, a["endpoint"])
        grouping = study.get("groupings", {}).get(a["by"]) if a.get("by") else None
        lab, order = strata(data, grouping, study.get("schemes", {}))
        curves, styles, at_risk = {}, {}, {}
        names = {1: ep["events"][0]["description"], 2: ep["competing"][0]["description"]}
        unit = a.get("time_unit", "months")
        xmax_m = a["xmax_years"] * 12 if a.get("xmax_years") else None
        t_all = data["AVAL"].to_numpy(float)
        last_m = float(np.nanmax(t_all)) / DAYS_PER_MONTH if len(t_all) else 1.0
        ticks = np.arange(0, (xmax_m or last_m) + 1e-9, 12.0) * DAYS_PER_MONTH
        for k, s in enumerate(order):
            m = (lab == s).to_numpy()
            types = data["EVENTTYPE"].fillna(0).astype(int).to_numpy()[m]
            for cause in (1, 2):
                r = cumulative_incidence(t_all[m], types, cause=cause)
                key = f"{names[cause]}" if s == "All" else f"{s}: {names[cause]}"
                key += f" (n = {int(m.sum())}, events = {int((types == cause).sum())})"
                curves[key] = (r.table["time"].to_numpy(float), r.table["cif"].to_numpy(float))
                # colour per group, line style per cause (solid: the event; dashed: competing)
                styles[key] = (k, cause - 1) if len(order) > 1 else (cause - 1, cause - 1)
            at_risk["All patients" if s == "All" else s] = (
                ticks,
                [int((t_all[m] >= x).sum()) for x in ticks],
            )
        gt = (
            tests[(tests["analysis"] == a["id"]) & tests["test"].astype(str).str.startswith("Gray")]
            if len(tests)
            else tests
        )
        p = (
            "\n".join(
                f"Gray's test, {str(r['test']).split(', ', 1)[1][:-1]}: {p_text(r['p'])}"
                for r in gt.to_dict("records")
            )
            or None
        )
        fig = cif_figure(
            curves,
            title=a["title"],
            time_unit=unit,
            xmax=xmax_m,
            tick_step=12,
            p_value_text=p,
            at_risk=at_risk,
            styles=styles,
            footnote=" ".join(
                x
                for x in [
                    a.get("note", ""),
                    "Solid: "
                    + names[1]
                    + "; dashed: "
                    + names[2]
                    + " (competing event). Number at risk: patients still under observation.",
                    label,
                ]
                if x
            ),
        )
        return fig
    if figure.kind == "forest":
        rows = cox[(cox["model"] == figure.id)] if len(cox) else cox
        fitted = rows[rows["status"] == "fitted"]
        title = rows["title"].iloc[0] if len(rows) else name
        if fitted.empty:  # a refused model gets no figure: the tables and report say why
            msg = rows["status"].iloc[0] if len(rows) else "no model"
            raise CohortflowError(
                f"no forest plot for Cox model {name[7:]!r}: it was not estimable ({msg})"
            )
        fr = pd.DataFrame(
            {
                "label": fitted["covariate"],
                "hr": fitted["hr"],
                "lower": fitted["lower"],
                "upper": fitted["upper"],
                "p": fitted["p"],
            }
        )
        fine_gray = "method" in fitted and (fitted["method"] == "fine-gray").any()
        fig = forest_figure(
            fr,
            title=title,
            xlabel="Subdistribution hazard ratio (log scale)"
            if fine_gray
            else "Hazard ratio (log scale)",
            footnote=(
                f"Fine-Gray model (R cmprsk::crr): subdistribution hazard ratios with the "
                f"competing event in the risk set; N = {int(fitted['n'].iloc[0])}, events of "
                f"the cause = {int(fitted['events'].iloc[0])}. {label}"
                if fine_gray
                else f"Cox model, Efron ties; N = {int(fitted['n'].iloc[0])}, events = "
                f"{int(fitted['events'].iloc[0])}; global PH test P = "
                f"{format_p(float(fitted['ph_global_p'].iloc[0]))}. {label}"
            ),
        )
        return fig
    if figure.kind == "swimmer":
        spec = study["swimmer"]
        ep = study["endpoints"][spec["endpoint"]]
        a = adtte[adtte["PARAMCD"] == spec["endpoint"]][["study_id", "AVAL", "CNSR"]]
        d = analysed.merge(a, on="study_id").dropna(subset=["AVAL"])
        origin = pd.to_datetime(d[ep["origin"]])

        def days(col: str) -> pd.Series:
            if col not in d:
                return pd.Series(np.nan, index=d.index)
            return (pd.to_datetime(d[col]) - origin).dt.days.astype(float)

        resp = days("cr_date")
        p = pd.DataFrame(
            {
                "study_id": d["study_id"],
                "end": d["AVAL"],
                "status": np.where(d["death_date"].notna() & (d["CNSR"] == 0), "dead", "alive"),
                "response": resp.where(resp <= d["AVAL"]),
                "hsct": days("hsct_date"),
                "relapse": days("relapse_date").where(days("relapse_date") >= 0),
                "death": days("death_date").where(d["CNSR"] == 0),
            }
        )
        p["hsct"] = p["hsct"].where((p["hsct"] >= 0) & (p["hsct"] <= p["end"]))
        p["relapse"] = p["relapse"].where(p["relapse"] <= p["end"])
        if spec.get("by"):
            lab, _ = strata(
                d.reset_index(drop=True), study["groupings"][spec["by"]], study.get("schemes", {})
            )
            p["group"] = [f"{v} (bar colour)" for v in lab]
        n_all = len(p)
        limit = int(spec.get("max_patients", SWIMMER_MAX_PATIENTS))
        if n_all > limit:  # a stated, reproducible subset: the smallest pseudonymous IDs
            p = p.sort_values("study_id").head(limit)
        fig = swimmer_figure(
            p.reset_index(drop=True),
            title=spec.get("title", f"Patient timelines ({ep['label']})"),
            time_unit="months",
            xlabel=f"Time from {origin_words(ep['origin'])} (months)",
            footnote=f"{swimmer_subset_text(n_all, limit)} {label}",
        )
        return fig
    raise CohortflowError(f"unknown figure {name!r}")
