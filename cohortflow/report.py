"""Human-readable outputs: descriptive tables, survival tables and Kaplan-Meier figures."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .analysis import DAYS_PER_YEAR, strata
from .errors import CohortflowError
from .io import write_csv
from .tables import (
    describe,
    difference_notes,
    frame_to_html,
    md_table,
    published_text,
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
    if name not in study.get("tables", {}):
        raise CohortflowError(f"study {study['id']} defines no table {name!r}")
    spec = study["tables"][name]
    label = study.get("data_label", "")
    pop = _population(cohort, spec["population"])
    t = describe(pop, spec["items"])
    t.insert(0, "data_label", label)
    write_csv(t, f"{stem}.csv")
    notes = [
        f"Population: {spec['population']} patients (N = {len(pop)}). Values are n (%) "
        "unless stated; [N=k] gives the number with data when it differs.",
        label,
        *[n for n in extra_notes or [] if n],
    ]
    Path(f"{stem}.md").write_text(
        to_markdown(t, spec["title"], f"N = {len(pop)}", notes), encoding="utf-8"
    )
    shown = t[["item", "level", "display"]].rename(columns={"display": f"N = {len(pop)}"})
    if t["published_n"].notna().any():
        shown["Published"] = [published_text(r) for r in t.to_dict("records")]
        notes = [*notes, *difference_notes(t)]
    Path(f"{stem}.html").write_text(frame_to_html(shown, spec["title"], notes), encoding="utf-8")


def fmt_p(p: float) -> str:
    """P for tables: 3 decimals from 0.01, 4 from 0.001, then 2 significant digits; < 0.0001."""
    if p is None or pd.isna(p):
        return "NA"
    return (
        "< 0.0001"
        if p < 0.0001
        else f"{p:.2g}"
        if p < 0.001
        else f"{p:.3f}"
        if p >= 0.01
        else f"{p:.4f}"
    )


def _fmt(x: float, scale: float = 100.0, d: int = 1) -> str:
    return "NA" if x is None or pd.isna(x) else f"{x * scale:.{d}f}"


def survival_table(
    surv: pd.DataFrame, strata_df: pd.DataFrame, tests: pd.DataFrame
) -> pd.DataFrame:
    """Readable survival table: estimate ± SE (%), 95 % CI, at risk, published value."""
    rows = []
    for r in surv.to_dict("records"):
        pub = (
            ""
            if pd.isna(r["published_estimate"])
            else _fmt(r["published_estimate"])
            + ("" if pd.isna(r["published_se"]) else f" ± {_fmt(r['published_se'])}")
        )
        rows.append(
            {
                "Analysis": r["analysis"],
                "Stratum": r["stratum"],
                "N": r["n"],
                "Events": r["total_events"],
                "Time (y)": f"{r['time_years']:g}",
                "At risk": r["n_risk"],
                "Estimate ± SE (%)": f"{_fmt(r['estimate'])} ± {_fmt(r['se'])}",
                "95% CI (%)": "NA"
                if pd.isna(r["lower"])
                else f"{_fmt(r['lower'])}-{_fmt(r['upper'])}",
                "Published (%)": pub,
            }
        )
    return pd.DataFrame(rows)


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
    ci_methods = sorted(set(surv["ci_method"])) if len(surv) else ["log-log"]
    foot = [
        f"Kaplan-Meier estimates with Greenwood standard errors; 95 % CI by the "
        f"{', '.join(ci_methods)} transform. Time points in years of 365.25 days from the "
        "endpoint's origin; estimates are not extrapolated past the last follow-up (NA).",
        label,
    ]
    parts = [f"# {study['title']}: survival", ""]
    for a in study["analyses"]:
        parts.append(f"## {a['title']} ({a['endpoint']})")
        if a.get("note"):
            parts.append(f"> {a['note']}")
        parts.append("")
        sub = surv[surv["analysis"] == a["id"]]
        parts.append(md_table(survival_table(sub, strata_df, tests).drop(columns=["Analysis"])))
        st = strata_df[strata_df["analysis"] == a["id"]]
        med = [
            f"{r['stratum']}: median {_fmt(r['median_days'] / 30.4375, 1, 1)} months (95% CI "
            f"{_fmt(r['median_lower'] / 30.4375, 1, 1)}-{_fmt(r['median_upper'] / 30.4375, 1, 1)})"
            if pd.notna(r["median_days"])
            else f"{r['stratum']}: median not reached"
            for r in st.to_dict("records")
        ]
        parts.append("Median: " + "; ".join(med) + ".")
        tt = tests[tests["analysis"] == a["id"]] if len(tests) else tests
        for r in tt.to_dict("records") if len(tt) else []:
            pp = "" if pd.isna(r["published_p"]) else f" (published P = {r['published_p']:g})"
            parts.append(
                f"\n{r['test']}: chi2 = {r['chi2']:.3f} on {r['df']} df, P = {fmt_p(r['p'])}{pp}."
            )
        parts.append("")
    parts += [f"{f}  " for f in foot if f]
    (out / "survival.md").write_text("\n".join(parts) + "\n", encoding="utf-8")
    (out / "survival.html").write_text(
        frame_to_html(
            survival_table(surv, strata_df, tests),
            f"{study['title']}: survival",
            foot
            + [
                f"{r['analysis']}: {r['test']} chi2 {r['chi2']:.3f}, df {r['df']}, "
                f"P = {fmt_p(r['p'])}"
                for r in tests.to_dict("records")
            ],
        ),
        encoding="utf-8",
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
        (out / "response_rates.html").write_text(
            frame_to_html(pd.DataFrame(), title, ["No response rates defined."]), encoding="utf-8"
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
    (out / "response_rates.html").write_text(frame_to_html(shown, title, foot), encoding="utf-8")


def write_flow(flow: pd.DataFrame, study: dict[str, Any], out_dir: str) -> None:
    """Eligibility flow table (Markdown) from the flow CSV."""
    out = Path(out_dir)
    wide = (
        flow.pivot(index="step", columns="site", values="n")
        .reindex(flow["step"].unique())
        .reset_index()
    )
    (out / "flow.md").write_text(
        f"## Patient flow\n\n{md_table(wide)}\n{study.get('data_label', '')}\n", encoding="utf-8"
    )


def km_figures(
    cohort: pd.DataFrame,
    adtte: pd.DataFrame,
    tests: pd.DataFrame,
    study: dict[str, Any],
    analysis_id: str,
    stem: str,
) -> list[Path]:
    """Kaplan-Meier figure (PNG, PDF, SVG) of one configured analysis."""
    from .expr import evaluate
    from .figures import km_figure, save_figure

    a = next(x for x in study["analyses"] if x["id"] == analysis_id)
    data = cohort[cohort["analysed"]].merge(
        adtte[adtte["PARAMCD"] == a["endpoint"]][["study_id", "AVAL", "CNSR"]], on="study_id"
    )
    if "subset" in a:
        r = evaluate(a["subset"]["expr"], data)
        data = data[r.value & r.known]
    data = data[data["AVAL"].notna() & (data["AVAL"] >= 0)].reset_index(drop=True)
    grouping = study.get("groupings", {}).get(a["by"]) if a.get("by") else None
    lab, order = strata(data, grouping, study.get("schemes", {}))
    curves = {}
    for s in order:
        d = data[lab == s]
        name = s if grouping else (a["subset"]["label"] if "subset" in a else "All patients")
        curves[name] = (d["AVAL"].to_numpy(float), (d["CNSR"] == 0).to_numpy(int))
    p_text = None
    if len(tests) and (tests["analysis"] == analysis_id).any():
        p = float(tests.loc[tests["analysis"] == analysis_id, "p"].iloc[0])
        p_text = f"Log-rank P {'= ' if p >= 0.0001 else ''}{fmt_p(p)}"
    unit = a.get("time_unit", "months")
    xmax_y = a.get("xmax_years")
    scale = {"months": DAYS_PER_YEAR / 12, "years": DAYS_PER_YEAR}[unit]
    xmax = xmax_y * DAYS_PER_YEAR / scale if xmax_y else None
    ep = study["endpoints"][a["endpoint"]]
    foot = "\n".join(x for x in [a.get("note", "").strip(), study.get("data_label", "")] if x)
    fig = km_figure(
        curves,
        title=a["title"],
        time_unit=unit,
        xmax=xmax,
        tick_step=12 if unit == "months" else 1,
        p_value_text=p_text,
        ylabel=f"{ep['label']} (probability)",
        footnote=foot or None,
    )
    return save_figure(fig, Path(stem))


def _nan_to_none(x: Any) -> Any:
    return None if isinstance(x, float) and np.isnan(x) else x
