"""Render stages: tables, figures, the CONSORT diagram, the workbook and the run report (rules in
`rules/report.smk` except `manifest`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from cohortflow.core.catalogue import check_messages
from cohortflow.core.defaults import Study
from cohortflow.core.expr import names
from cohortflow.core.io import read_columns, read_csv_or_empty
from cohortflow.render.consort import consort_figure, save_consort
from cohortflow.render.report import (
    write_descriptive_table,
    write_flow,
    write_model_tables,
    write_response_tables,
    write_rmst_table,
    write_survival_tables,
    write_workbook,
)
from cohortflow.render.runreport import build_run_report
from cohortflow.render.study_figures import FigureInputs, any_figure


def set_aside_note(path: str | None) -> str:
    """Footnote stating how many records were set aside before the analysis."""
    if not path or not Path(path).exists():
        return ""
    t = pd.read_csv(path)
    tot = t[t["site"] == "All"].iloc[0]
    sites = tot.get("site_set_aside")
    whole = f" Whole site(s) set aside: {sites}." if isinstance(sites, str) and sites else ""
    return (
        f"{int(tot['set_aside'])} of {int(tot['records_received'])} submitted records were "
        f"set aside for fatal data-quality findings ({tot['policy']} policy) and are not "
        f"counted here; see dq/study.html.{whole}"
    )


def report_descriptive_table(
    cohort: str, study: dict[str, Any], table: str, stem: str, set_aside: str | None = None
) -> None:
    """One descriptive table as CSV (machines), Markdown and HTML (people); reads only the
    cohort columns its items use."""
    spec = Study.of(study).tables.get(table, {})
    wanted = {"study_id", "site", "eligible", "analysed", spec.get("population", "")}
    for it in spec.get("items", []):
        wanted |= {it.get("variable", "")} | set(names(it["expr"]) if "expr" in it else [])
    write_descriptive_table(
        read_columns(cohort, wanted), study, table, stem, extra_notes=[set_aside_note(set_aside)]
    )


def report_survival_tables(
    survival: str,
    strata_csv: str,
    tests: str,
    flow: str,
    study: dict[str, Any],
    out_dir: str,
    response_rates: str | None = None,
    response_counts: str | None = None,
    set_aside: str | None = None,
) -> None:
    """Readable survival, response-rate and flow tables beside the machine-readable CSVs."""
    study = _with_set_aside(study, set_aside)
    write_response_tables(
        read_csv_or_empty(response_rates) if response_rates else pd.DataFrame(),
        read_csv_or_empty(response_counts) if response_counts else pd.DataFrame(),
        study,
        out_dir,
    )

    write_survival_tables(
        pd.read_csv(survival), pd.read_csv(strata_csv), read_csv_or_empty(tests), study, out_dir
    )
    write_flow(pd.read_csv(flow), study, out_dir)


def report_figure(
    study: dict[str, Any], analysis: str, stem: str, inputs: Mapping[str, str]
) -> None:
    """Figure ``analysis`` (km_..., cif_..., forest_..., swimmer) as PNG, PDF and SVG, drawn
    from the analyse stage's files named in ``inputs`` (the figure rule's inputs: ``cohort``,
    ``adtte``, ``tests``, ``cox``, ``curves`` and the time-dependent ``simon_makuch``,
    ``simon_makuch_at_risk``)."""
    timedep = ("simon_makuch", "simon_makuch_at_risk")
    figure_inputs = FigureInputs(
        partial(pd.read_parquet, inputs["cohort"]),  # read only by a figure that draws them
        partial(pd.read_parquet, inputs["adtte"]),
        read_csv_or_empty(inputs["tests"]),
        read_csv_or_empty(inputs["cox"]) if inputs.get("cox") else pd.DataFrame(),
        {k: _read_table(inputs[k]) for k in timedep if inputs.get(k)},
        pd.read_parquet(inputs["curves"]) if inputs.get("curves") else pd.DataFrame(),
    )
    any_figure(analysis, figure_inputs, study, stem)


def _read_table(path: str) -> pd.DataFrame:
    """A parquet or CSV table of the analyse stage."""
    return pd.read_parquet(path) if path.endswith(".parquet") else read_csv_or_empty(path)


def _with_set_aside(study: dict[str, Any], set_aside: str | None) -> dict[str, Any]:
    """The study with the set-aside count appended to the label every table prints (as its
    own sentence), and the two as separate footnotes (``flow_notes``)."""
    notes = [x.strip() for x in [Study.of(study).data_label, set_aside_note(set_aside)] if x]
    label = " ".join(n if n.endswith((".", "!", "?")) else f"{n}." for n in notes[:-1])
    label = " ".join(x for x in [label, notes[-1] if notes else ""] if x)
    return {**study, "data_label": label, "flow_notes": notes}


def report_model_tables(inputs: Mapping[str, str], study: dict[str, Any], out_dir: str) -> None:
    """Cox, Fine-Gray, competing-risks and RMST tables for people (Markdown, HTML), from the
    analyse stage's files named in ``inputs`` (the rule's inputs: ``cox``, ``cif``, ``tests``
    and optionally ``set_aside`` and ``rmst``)."""
    study = _with_set_aside(study, inputs.get("set_aside"))

    write_model_tables(
        read_csv_or_empty(inputs["cox"]),
        read_csv_or_empty(inputs["cif"]),
        read_csv_or_empty(inputs["tests"]),
        study,
        out_dir,
    )
    if inputs.get("rmst"):
        write_rmst_table(read_csv_or_empty(inputs["rmst"]), study, out_dir)


def report_workbook(csvs: dict[str, str], study: dict[str, Any], out: str) -> None:
    """The study's tables in one XLSX workbook (the set-aside counts as a sheet and a note)."""
    study = _with_set_aside(study, csvs.get("set_aside"))

    write_workbook(csvs, study, out)


def report_consort(
    flow: str,
    study: dict[str, Any],
    stem: str,
    set_aside: str | None = None,
    checks: str | None = None,
) -> None:
    """CONSORT-style patient-flow figure as PNG, PDF and SVG (with the records set aside
    by data-quality checks before screening when ``set_aside`` is given, each reason in the
    words of the check catalogue ``checks``)."""
    fig = consort_figure(
        pd.read_csv(flow),
        title=f"{study['title']}: patient flow",
        footnote=study.get("data_label") or None,
        set_aside=pd.read_csv(set_aside) if set_aside else None,
        reason_labels=check_messages(checks) if checks else None,
    )
    save_consort(fig, Path(stem))


def report_run(study: dict[str, Any], manifest: str, out: str) -> None:
    """The study's self-contained HTML run report (tables, figures, data quality, manifest)."""
    build_run_report(
        study,
        Path(manifest).parent,
        Path(out),
        manifest=json.loads(Path(manifest).read_text(encoding="utf-8")),
    )
