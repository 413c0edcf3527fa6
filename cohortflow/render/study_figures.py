"""A study's figures, by name: what each one is drawn from and with which words.

``build_figure`` reads a figure name with ``figure_names.parse_figure`` and hands it to the
builder of its kind; every builder takes its numbers from the analyse stage's outputs
(``analyse/*.parquet``, ``*.csv``; the curves from ``analyse/curves.parquet``) and its words
from the study's configuration, and draws with ``figures`` (Kaplan-Meier) or ``plots``
(cumulative incidence, forest, swimmer). Nothing here estimates anything.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from cohortflow.analyse.outputs import AT_RISK_MIN_YEARS
from cohortflow.classify.groupings import strata
from cohortflow.core.defaults import Analysis, CifAnalysis, Grouping, Study, Swimmer
from cohortflow.core.errors import CohortflowError
from cohortflow.core.formatting import format_p
from cohortflow.core.timescale import DAYS_PER_MONTH, DAYS_PER_YEAR
from cohortflow.render.figure_names import (
    FigureName,
    parse_figure,
    swimmer_subset_text,
)
from cohortflow.render.figures import (
    AT_RISK_AXES_LABEL,
    FONT_FAMILY,
    KM_AXES_LABEL,
    PALETTE,
    km_figure,
    save_figure,
)
from cohortflow.render.plots import cif_figure, forest_figure, swimmer_figure
from cohortflow.render.report import p_text, printed_test_name


@dataclass(frozen=True)
class StepCurve:
    """A Kaplan-Meier curve read from ``analyse/curves.parquet`` (a ``figures.SurvivalCurve``):
    its step ``table`` (``time``, ``survival``, ``lower``, ``upper``, ``n_risk``,
    ``n_event``, ``n_censor``), ``n`` patients and ``events``."""

    table: pd.DataFrame
    n: int
    events: int


@dataclass(frozen=True)
class FigureInputs:
    """The analyse stage's outputs a figure is drawn from: ``cohort`` and ``adtte``
    (parquet; the swimmer plot), ``tests`` and ``cox`` (CSV), for time-dependent groupings
    ``simon_makuch`` and ``simon_makuch_at_risk`` (``analyse.timedep_curves``), and the
    Kaplan-Meier and cumulative-incidence ``curves`` (``analyse.outputs.CURVE_COLUMNS``)."""

    #: the cohort and ADTTE, or functions that read them: only the swimmer plot draws
    #: patient rows, and at 1,000,000 patients reading both took seconds of every figure job
    cohort_source: pd.DataFrame | Callable[[], pd.DataFrame]
    adtte_source: pd.DataFrame | Callable[[], pd.DataFrame]
    tests: pd.DataFrame
    cox: pd.DataFrame
    timedep: dict[str, pd.DataFrame] = field(default_factory=dict)
    curves: pd.DataFrame = field(default_factory=pd.DataFrame)

    @cached_property
    def cohort(self) -> pd.DataFrame:
        """The analyse stage's cohort (read on first use)."""
        src = self.cohort_source
        return src() if callable(src) else src

    @cached_property
    def adtte(self) -> pd.DataFrame:
        """The analyse stage's ADTTE (read on first use)."""
        src = self.adtte_source
        return src() if callable(src) else src

    @property
    def analysed(self) -> pd.DataFrame:
        """The analysed patients of the cohort."""
        return self.cohort[self.cohort["analysed"]].reset_index(drop=True)

    def timedep_table(self, name: str, analysis: str) -> pd.DataFrame:
        """Rows of analysis ``analysis`` in the time-dependent table ``name``; a clear error
        when the analyse stage's table was not given or has none."""
        table = self.timedep.get(name)
        rows = table[table["analysis"] == analysis] if table is not None else pd.DataFrame()
        if rows.empty:
            raise CohortflowError(
                f"no rows of {analysis!r} in analyse/{name} (rerun the analyse stage)"
            )
        return rows

    def curve_rows(self, analysis: str, kind: str) -> pd.DataFrame:
        """The ``kind`` curves (``km``, ``cif``) of analysis ``analysis`` in
        ``analyse/curves.parquet``; a clear error when there are none."""
        c = self.curves
        rows = c[(c["analysis"] == analysis) & (c["kind"] == kind)] if len(c) else c
        if rows.empty:
            raise CohortflowError(
                f"no {kind} curves of {analysis!r} in analyse/curves.parquet (rerun the "
                "analyse stage)"
            )
        return rows


def any_figure(name: str, inputs: FigureInputs, study: dict[str, Any], stem: str) -> list[Path]:
    """Figure ``name`` of a study: km_<analysis>[_landmark_<L>m|_simon_makuch], cif_<id>,
    forest_<model> or swimmer; PNG, PDF and SVG."""

    return save_figure(build_figure(name, inputs, study), Path(stem))


def build_figure(name: str, inputs: FigureInputs, study: dict[str, Any]) -> Any:
    """The matplotlib ``Figure`` of figure ``name`` of a study (see ``any_figure``), drawn
    from the analyse stage's outputs ``inputs``; raises ``CohortflowError`` for a refused Cox
    model, which gets no figure."""

    try:
        figure = parse_figure(study, name)
    except ValueError:
        raise CohortflowError(f"unknown figure {name!r}") from None
    builder = FIGURE_BUILDERS.get(figure.kind)
    if builder is None:
        raise CohortflowError(f"unknown figure {name!r}")
    return builder(figure, inputs, study)


# --------------------------------------------------------------------------- Kaplan-Meier


def km_curves(
    rows: pd.DataFrame,
) -> tuple[dict[str, StepCurve], dict[str, tuple[np.ndarray, list[int]]]]:
    """The Kaplan-Meier curves of ``rows`` of ``analyse/curves.parquet`` per group (in the
    order written) and each group's numbers at risk (``at_risk`` rows: days, counts)."""
    steps = rows[rows["row"] == "step"]
    risk = rows[rows["row"] == "at_risk"]
    curves, at_risk = {}, {}
    for g in pd.unique(steps["group"]):
        s = steps[steps["group"] == g]
        table = pd.DataFrame(
            {
                "time": s["time"].to_numpy(float),
                "survival": s["estimate"].to_numpy(float),
                "lower": s["lower"].to_numpy(float),
                "upper": s["upper"].to_numpy(float),
                "n_risk": s["n_risk"].to_numpy(np.int64),
                "n_event": s["n_event"].to_numpy(np.int64),
                "n_censor": s["n_censor"].to_numpy(np.int64),
            }
        )
        curves[g] = StepCurve(table, int(s["n"].iloc[0]), int(s["events"].iloc[0]))
        r = risk[risk["group"] == g]
        at_risk[g] = (r["time"].to_numpy(float), [int(v) for v in r["n_risk"]])
    return curves, at_risk


def yearly(at_risk: tuple[np.ndarray, list[int]], n: int) -> tuple[np.ndarray, list[int]]:
    """The numbers at risk at the first ``n`` whole years (days, counts) from a group's
    ``at_risk`` rows, which run to the first year after its last follow-up: 0 after them."""
    counts = list(at_risk[1][:n]) + [0] * (n - len(at_risk[1]))
    return np.arange(n) * DAYS_PER_YEAR, counts


def through_year(at_risk: dict[str, tuple[np.ndarray, list[int]]], years: float | None) -> dict:
    """``at_risk`` per label with its years extended (0 at risk) through ``years`` (the axis
    end, when set)."""
    return {
        k: yearly(v, max(len(v[1]), math.floor(years * (1 + 1e-9)) + 1 if years else 0))
        for k, v in at_risk.items()
    }


def primary_test_name(tests: pd.DataFrame, analysis_id: str) -> str | None:
    """The name of an analysis's primary test (tests.csv ``primary``), None if it has none."""
    if not len(tests) or "primary" not in tests:
        return None
    rows = tests[(tests["analysis"] == analysis_id) & tests["primary"].astype(bool)]
    return str(rows["test"].iloc[0]) if len(rows) else None


def km_analysis_figure(
    curve_rows: pd.DataFrame, tests: pd.DataFrame, study: dict[str, Any], analysis_id: str
) -> Any:
    """The Kaplan-Meier ``Figure`` of one configured analysis, from its rows of
    ``analyse/curves.parquet``."""

    a = next(x for x in study["analyses"] if x["id"] == analysis_id)
    ep = study["endpoints"][a["endpoint"]]
    grouped = bool(a.get("by") and Study.of(study).groupings.get(a["by"]))
    alone = a["subset"]["label"] if "subset" in a else "All patients"
    by_group, by_group_risk = km_curves(curve_rows)
    curves = {(g if grouped else alone): c for g, c in by_group.items()}
    at_risk = {(g if grouped else alone): r for g, r in by_group_risk.items()}
    at_risk = through_year(at_risk, a.get("xmax_years"))
    p_label, others = p_value_labels(tests, analysis_id, primary_test_name(tests, analysis_id))
    unit = Analysis.of(a).time_unit
    xmax_y = a.get("xmax_years")
    scale = {"months": DAYS_PER_YEAR / 12, "years": DAYS_PER_YEAR}[unit]
    xmax = xmax_y * DAYS_PER_YEAR / scale if xmax_y else None
    extra = []
    if a.get("ci_bands"):
        extra.append(f"Shaded: pointwise 95% CI ({Analysis.of(a).ci_method} transform).")
    shade = bool((a.get("rmst") or {}).get("shade"))
    if shade:
        extra.append(
            f"Shaded: area under each curve up to {a['rmst']['tau_years']:g} years = its "
            "restricted mean survival time (tables/rmst.md)."
        )
    extra += others
    foot = "\n".join(
        x for x in [Analysis.of(a).note.strip(), " ".join(extra), Study.of(study).data_label] if x
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
        at_risk=at_risk,
    )
    if shade:
        shade_rmst(fig, curves, a["rmst"]["tau_years"] * DAYS_PER_YEAR, scale)
    return fig


def _km_of(figure: FigureName, inputs: FigureInputs, study: dict[str, Any]) -> Any:
    """Figure km_<analysis>."""
    rows = inputs.curve_rows(figure.id, "km")
    return km_analysis_figure(rows, inputs.tests, study, figure.id)


def origin_words(origin: str) -> str:
    """A time origin column in words: rr_diagnosis_date -> 'R/R diagnosis'."""
    words = str(origin).removesuffix("_date").split("_")
    known = {"rr": "R/R", "hsct": "HSCT", "cr": "CR"}
    return " ".join(known.get(w, w) for w in words)


def p_value_labels(
    tests: pd.DataFrame, analysis_id: str, primary: str | None
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


def shade_rmst(fig: Any, curves: dict[str, StepCurve], tau_days: float, scale: float) -> None:
    """Shade the area under each Kaplan-Meier curve up to ``tau_days`` (its RMST) on the
    survival axes of a :func:`cohortflow.render.figures.km_figure`, in the curve's colour."""
    ax = next(x for x in fig.axes if x.get_label() == KM_AXES_LABEL)
    lines = [ln for ln in ax.get_lines() if not str(ln.get_label()).startswith("_")]
    for line, curve in zip(lines, curves.values(), strict=False):
        tab = curve.table
        keep = tab["time"].to_numpy() <= tau_days
        x = np.append(tab["time"].to_numpy()[keep], tau_days) / scale
        y = np.append(tab["survival"].to_numpy()[keep], tab["survival"].to_numpy()[keep][-1])
        ax.fill_between(x, 0, y, step="post", color=line.get_color(), alpha=0.1, linewidth=0)
    ax.axvline(tau_days / scale, color="0.4", linestyle=":", linewidth=1)


# --------------------------------------------------------------------------- time-dependent


def _timedep_setting(
    figure: FigureName, study: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], list[str]]:
    """(analysis, its grouping, its endpoint, the exposure labels) of a landmark or
    Simon-Makuch figure."""
    a = next(x for x in study["analyses"] if x["id"] == figure.id)
    grouping = study["groupings"][a["by"]]
    names = Grouping.of(grouping).exposure_labels
    return a, grouping, study["endpoints"][a["endpoint"]], names


def _landmark_of(figure: FigureName, inputs: FigureInputs, study: dict[str, Any]) -> Any:
    """Figure km_<analysis>_landmark_<L>m: Kaplan-Meier curves of the landmark data set
    (``analyse/curves.parquet``), time from the landmark."""
    a, grouping, ep, names = _timedep_setting(figure, study)
    months = float(figure.months)
    by_group, by_group_risk = km_curves(inputs.curve_rows(figure.analysis, "km"))
    labels = {"exposed": names[0], "unexposed": names[1]}
    curves = {f"{labels[g]} by {months:g} months": c for g, c in by_group.items()}
    at_risk = {f"{labels[g]} by {months:g} months": r for g, r in by_group_risk.items()}
    xmax_y = a.get("xmax_years")
    at_risk = through_year(at_risk, (xmax_y - months / 12) if xmax_y else None)
    tests = inputs.tests
    tt = tests[tests["analysis"] == figure.analysis] if len(tests) else tests
    p = f"Log-rank {p_text(float(tt['p'].iloc[0]))}" if len(tt) else None
    return km_figure(
        curves,
        title=f"{ep['label']} by {grouping.get('label', a['by'])}: landmark at {months:g} months",
        time_unit="months",
        tick_step=12,
        p_value_text=p,
        xmax=(xmax_y * 12 - months) if xmax_y else None,
        ylabel=f"{ep['label']} from the landmark",
        footnote=f"Patients alive and event-free at {months:g} months, "
        f"grouped by exposure before it; time from the landmark.\n"
        f"{study.get('data_label', '')}",
        at_risk=at_risk,
    )


def _simon_makuch_of(figure: FigureName, inputs: FigureInputs, study: dict[str, Any]) -> Any:
    """Figure km_<analysis>_simon_makuch: the Simon-Makuch curves and their numbers at risk
    each year (``analyse/simon_makuch.parquet``, ``simon_makuch_at_risk.csv``)."""
    a, grouping, ep, names = _timedep_setting(figure, study)
    xmax_y = a.get("xmax_years") or AT_RISK_MIN_YEARS
    years = list(range(0, int(xmax_y * 12) // 12 + 1))
    ticks = [12 * y * DAYS_PER_MONTH for y in years]
    sm = inputs.timedep_table("simon_makuch", figure.analysis)
    risk = inputs.timedep_table("simon_makuch_at_risk", figure.analysis)
    labels = {"exposed": names[0], "unexposed": names[1]}
    curves, at_risk = {}, {}
    for key in ("exposed", "unexposed"):
        rows = sm[sm["group"] == key]
        curves[labels[key]] = (rows["time"].to_numpy(float), rows["survival"].to_numpy(float))
    for key in ("exposed", "unexposed"):
        counts = risk[risk["group"] == key].set_index("time_years")["n_risk"]
        at_risk[labels[key]] = (ticks, [int(v) for v in counts.reindex(years, fill_value=0)])
    tests = inputs.tests
    mb = (
        tests[(tests["analysis"] == a["id"]) & tests["test"].astype(str).str.startswith("Mantel")]
        if len(tests)
        else tests
    )
    p = f" Mantel-Byar {p_text(float(mb['p'].iloc[0]))}." if len(mb) else ""
    return step_survival_figure(
        curves,
        at_risk,
        title=f"{ep['label']} by {grouping.get('label', a['by'])}: Simon-Makuch curves",
        ylabel=ep["label"],
        footnote=f"Simon-Makuch curves: patients count as unexposed until the exposure "
        f"and as exposed after it (time-dependent risk sets).{p} {study.get('data_label', '')}",
        xmax_months=xmax_y * 12,
    )


def step_survival_figure(
    curves: dict[str, tuple[np.ndarray, np.ndarray]],
    at_risk: dict[str, tuple[list[float], list[int]]],
    *,
    title: str,
    ylabel: str,
    footnote: str,
    xmax_months: float | None,
) -> Figure:
    """Survival step curves given as (times in days, survival) with a number-at-risk table
    (used for Simon-Makuch curves, whose risk sets change at the exposure)."""
    with mpl.rc_context({"font.family": FONT_FAMILY}):
        fig = Figure(figsize=(7, 5.8))
        FigureCanvasAgg(fig)
        ax = fig.add_axes((0.14, 0.42, 0.8, 0.5), label=KM_AXES_LABEL)
        risk = fig.add_axes((0.14, 0.12, 0.8, 0.14), label=AT_RISK_AXES_LABEL)
        xmax = _draw_steps(ax, curves, at_risk, xmax_months)
        ax.set_ylabel(ylabel)
        ax.set_title(textwrap.fill(title, 70), loc="left", fontsize=11)
        ax.spines[["top", "right"]].set_visible(False)
        ax.legend(frameon=False, loc="upper right", fontsize=9)
        _draw_step_at_risk(risk, ax, at_risk, xmax)
        fig.text(0.02, 0.01, textwrap.fill(footnote, 115), fontsize=7.5, color="0.3", va="bottom")
        return fig


def _draw_steps(
    ax: Any,
    curves: dict[str, tuple[np.ndarray, np.ndarray]],
    at_risk: dict[str, tuple[list[float], list[int]]],
    xmax_months: float | None,
) -> float:
    """The step curves and the time axis (months) of ``step_survival_figure``; returns the
    axis end in months."""
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
    return xmax


def _draw_step_at_risk(
    risk: Any, ax: Any, at_risk: dict[str, tuple[list[float], list[int]]], xmax: float
) -> None:
    """The number-at-risk rows of ``step_survival_figure``, coloured as the curves."""
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


# --------------------------------------------------------------------------- competing risks


def _cif_curves(
    rows: pd.DataFrame, names: dict[int, str], xmax_m: float | None
) -> tuple[dict[str, Any], dict[str, tuple[int, int]], dict[str, Any]]:
    """Cumulative incidence of the event and the competing event per group (from ``rows`` of
    ``analyse/curves.parquet``), their line styles, and each group's number still under
    observation every 12 months up to ``xmax_m`` months or the last follow-up."""
    steps = rows[rows["row"] == "step"]
    risk = rows[rows["row"] == "at_risk"]
    order = list(pd.unique(rows["group"]))
    last_m = float(steps["time"].max()) / DAYS_PER_MONTH if len(steps) else 1.0
    n_years = len(np.arange(0, (xmax_m or last_m) + 1e-9, 12.0))
    curves, styles, at_risk = {}, {}, {}
    for k, s in enumerate(order):
        for cause in (1, 2):
            c = steps[(steps["group"] == s) & (steps["cause"] == cause)]
            key = f"{names[cause]}" if s == "All" else f"{s}: {names[cause]}"
            key += f" (n = {int(c['n'].iloc[0])}, events = {int(c['events'].iloc[0])})"
            curves[key] = (c["time"].to_numpy(float), c["estimate"].to_numpy(float))
            # colour per group, line style per cause (solid: the event; dashed: competing)
            styles[key] = (k, cause - 1) if len(order) > 1 else (cause - 1, cause - 1)
        r = risk[risk["group"] == s]
        at_risk["All patients" if s == "All" else s] = yearly(
            (r["time"].to_numpy(float), [int(v) for v in r["n_risk"]]), n_years
        )
    return curves, styles, at_risk


def _cif_of(figure: FigureName, inputs: FigureInputs, study: dict[str, Any]) -> Any:
    """Figure cif_<id>: cumulative incidence of the event and the competing event."""
    a = next(x for x in Study.of(study).cif_analyses if x["id"] == figure.id)
    ep = study["endpoints"][a["endpoint"]]
    names = {1: ep["events"][0]["description"], 2: ep["competing"][0]["description"]}
    xmax_m = a["xmax_years"] * 12 if a.get("xmax_years") else None
    curves, styles, at_risk = _cif_curves(inputs.curve_rows(a["id"], "cif"), names, xmax_m)
    tests = inputs.tests
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
    styles_note = (
        f"Solid: {names[1]}; dashed: {names[2]} (competing event). "
        "Number at risk: patients still under observation."
    )
    return cif_figure(
        curves,
        title=a["title"],
        time_unit=CifAnalysis.of(a).time_unit,
        xmax=xmax_m,
        tick_step=12,
        p_value_text=p,
        at_risk=at_risk,
        styles=styles,
        footnote=" ".join(
            x for x in [CifAnalysis.of(a).note, styles_note, Study.of(study).data_label] if x
        ),
    )


# --------------------------------------------------------------------------- Cox models


def _forest_of(figure: FigureName, inputs: FigureInputs, study: dict[str, Any]) -> Any:
    """Figure forest_<model>: hazard ratios of a fitted Cox (or Fine-Gray) model."""
    cox, label = inputs.cox, Study.of(study).data_label
    rows = cox[(cox["model"] == figure.id)] if len(cox) else cox
    fitted = rows[rows["status"] == "fitted"]
    title = rows["title"].iloc[0] if len(rows) else figure.stem
    if fitted.empty:  # a refused model gets no figure: the tables and report say why
        msg = rows["status"].iloc[0] if len(rows) else "no model"
        raise CohortflowError(
            f"no forest plot for Cox model {figure.id!r}: it was not estimable ({msg})"
        )
    fr = fitted[["covariate", "hr", "lower", "upper", "p"]].rename(columns={"covariate": "label"})
    n, events = int(fitted["n"].iloc[0]), int(fitted["events"].iloc[0])
    if "method" in fitted and (fitted["method"] == "fine-gray").any():
        return forest_figure(
            fr,
            title=title,
            xlabel="Subdistribution hazard ratio (log scale)",
            footnote=f"Fine-Gray model (R cmprsk::crr): subdistribution hazard ratios with the "
            f"competing event in the risk set; N = {n}, events of the cause = {events}. {label}",
        )
    return forest_figure(
        fr,
        title=title,
        xlabel="Hazard ratio (log scale)",
        footnote=f"Cox model, Efron ties; N = {n}, events = {events}; global PH test P = "
        f"{format_p(float(fitted['ph_global_p'].iloc[0]))}. {label}",
    )


# --------------------------------------------------------------------------- swimmer


def _swimmer_rows(d: pd.DataFrame, origin: pd.Series) -> pd.DataFrame:
    """One row per patient of the swimmer plot: end of follow-up, status, and the days of
    response, HSCT, relapse and death from the origin (where within follow-up)."""

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
    return p


def _swimmer_of(figure: FigureName, inputs: FigureInputs, study: dict[str, Any]) -> Any:
    """Figure swimmer: patient timelines (a stated, reproducible subset beyond the limit)."""
    spec = study["swimmer"]
    ep = study["endpoints"][spec["endpoint"]]
    a = inputs.adtte[inputs.adtte["PARAMCD"] == spec["endpoint"]][["study_id", "AVAL", "CNSR"]]
    d = inputs.analysed.merge(a, on="study_id").dropna(subset=["AVAL"])
    p = _swimmer_rows(d, pd.to_datetime(d[ep["origin"]]))
    if spec.get("by"):
        lab, _ = strata(
            d.reset_index(drop=True), study["groupings"][spec["by"]], study.get("schemes", {})
        )
        p["group"] = [f"{v} (bar colour)" for v in lab]
    n_all = len(p)
    limit = int(Swimmer.of(spec).max_patients)
    if n_all > limit:  # a stated, reproducible subset: the smallest pseudonymous IDs
        p = p.sort_values("study_id").head(limit)
    return swimmer_figure(
        p.reset_index(drop=True),
        title=Swimmer.of(spec).title or f"Patient timelines ({ep['label']})",
        time_unit="months",
        xlabel=f"Time from {origin_words(ep['origin'])} (months)",
        footnote=f"{swimmer_subset_text(n_all, limit)} {study.get('data_label', '')}",
    )


#: The builder of each figure kind (``figure_names.FigureName.kind``).
FIGURE_BUILDERS: dict[str, Callable[[FigureName, FigureInputs, dict[str, Any]], Any]] = {
    "km": _km_of,
    "landmark": _landmark_of,
    "simon_makuch": _simon_makuch_of,
    "cif": _cif_of,
    "forest": _forest_of,
    "swimmer": _swimmer_of,
}
