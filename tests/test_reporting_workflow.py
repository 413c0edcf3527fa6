"""Issue 11 on the bundled studies' real outputs (the shared workflow run) and on rr_all with a
tenth site: printed numbers say what they are, figures read cleanly, the Snakemake report and
the DOCX tables exist."""

from __future__ import annotations

import re
import shutil
import zipfile
from collections import Counter
from pathlib import Path, PurePosixPath

import pandas as pd
import pytest

from cohortflow.core.catalogue import check_messages
from cohortflow.core.config import load_study
from cohortflow.render.consort import consort_figure
from cohortflow.render.study_figures import FigureInputs, build_figure

from .conftest import copy_repo, snakemake
from .figure_checks import layout_problems

STUDIES = ("infant_all", "rr_all")


def _figures(work: Path, study_id: str) -> dict[str, object]:
    """Every figure of a study, rebuilt from its analysis outputs (matplotlib Figures)."""
    study = load_study(study_id, root=work)
    base = work / "results" / study_id
    cohort = pd.read_parquet(base / "analyse/cohort.parquet")
    adtte = pd.read_parquet(base / "analyse/adtte.parquet")
    tests = pd.read_csv(base / "analyse/tests.csv")
    cox = pd.read_csv(base / "analyse/cox.csv")
    names = sorted(p.stem for p in (base / "figures").glob("*.png") if p.stem != "consort")
    timedep = {
        "simon_makuch": pd.read_parquet(base / "analyse/simon_makuch.parquet"),
        "simon_makuch_at_risk": pd.read_csv(base / "analyse/simon_makuch_at_risk.csv"),
    }
    curves = pd.read_parquet(base / "analyse/curves.parquet")
    inputs = FigureInputs(cohort, adtte, tests, cox, timedep, curves)
    figs = {n: build_figure(n, inputs, study) for n in names}
    figs["consort"] = consort_figure(
        pd.read_csv(base / "analyse/flow.csv"),
        title=study["title"],
        footnote=study["data_label"],
        set_aside=pd.read_csv(base / "analyse/set_aside.csv"),
        reason_labels=check_messages(work / "config/checks.yaml"),
    )
    return figs


@pytest.mark.parametrize("study_id", STUDIES)
def test_every_figure_reads_cleanly(workflow_run, study_id):
    figs = _figures(workflow_run, study_id)
    assert len(figs) >= 4
    problems = [p for name, fig in figs.items() for p in layout_problems(fig, name)]
    assert problems == [], "\n".join(problems)


def test_printed_numbers_say_what_they_are(workflow_run):
    base = workflow_run / "results" / "rr_all"
    tests = pd.read_csv(base / "analyse/tests.csv")
    primary = tests[tests["primary"]].set_index("analysis")["test"]
    assert primary["os_by_status"] == "log-rank stratified by site"
    assert primary["os_by_age"].startswith("log-rank test for trend")
    md = (base / "tables/survival.md").read_text(encoding="utf-8")
    assert re.search(r"Log-rank stratified by site \(primary test\): chi2 = [\d.]+ on 1 df", md)
    assert "Median survival (months, 95% CI)" in (base / "tables/survival.html").read_text(
        encoding="utf-8"
    )
    strata = pd.read_csv(base / "analyse/strata.csv")
    assert {"median_months", "median_lower_months", "median_upper_months"} <= set(strata)
    # CONSORT and flow name the reason for exclusion, not the inclusion criterion
    flow = pd.read_csv(base / "analyse/flow.csv")
    assert "excluded: Age outside 1-21 years at initial diagnosis" in set(flow["step"])
    aside = pd.read_csv(base / "analyse/set_aside.csv").set_index("site")
    assert aside.loc["All", "reasons"] == "code_in_list: 1; rr_before_death: 1"
    page = (base / "dq/S07.html").read_text(encoding="utf-8")
    assert "16.7 %" in page and "0.1666" not in page and "2017-03-21" in page
    # the per-site page agrees with the site's query listing on cross-site duplicates (S07
    # and S04 sent the same patient; S02 none), and never names the other site
    listing = pd.read_csv(workflow_run / "restricted/rr_all/queries/S07.csv")
    for site, n in {"S07": 1, "S04": 1, "S02": 0}.items():
        dq = pd.read_csv(base / f"dq/{site}.csv").set_index("check")
        assert dq.loc["cross_site_duplicate", "failed"] == n, site
    assert (listing["check"] == "cross_site_duplicate").sum() == 1
    assert page.count("cross_site_duplicate") >= 2 and "S04" not in page  # status + finding
    assert "wbc_plausible: 1" in (base / "dq/study.csv").read_text(encoding="utf-8")
    flow_md = (base / "tables/flow.md").read_text(encoding="utf-8")
    assert "not for real data  \n1 of 71 submitted records" in flow_md
    html = (base / "tables/table1.html").read_text(encoding="utf-8")
    assert html.count("<td>Sex</td>") == 1  # the row label once, not on every line
    infant = workflow_run / "results" / "infant_all"
    s = pd.read_csv(infant / "analyse/survival.csv")
    zero = s[s["estimate"] == 0]
    assert len(zero) and zero["se"].isna().all()  # S = 0: SE missing (R: NA), never 0
    assert "0.0 ± NA" in (infant / "tables/survival.md").read_text(encoding="utf-8")
    # a refused model has no figure file; its table and the report say why
    assert not list((infant / "figures").glob("forest_efs_cox_age.*"))
    assert "not estimable" in (infant / "tables/cox.md").read_text(encoding="utf-8")
    report = (infant / "report.html").read_text(encoding="utf-8")
    assert "no figure, the model was not estimable (refused: 3 events" in report
    tests_i = pd.read_csv(infant / "analyse/tests.csv")
    assert tests_i["test"].str.startswith("Gray").sum() == 2  # one per cause


@pytest.mark.parametrize("study_id", STUDIES)
def test_tables_for_people_also_in_word(workflow_run, study_id):
    from docx import Document

    base = workflow_run / "results" / study_id
    study = load_study(study_id, root=workflow_run)
    for name in [*study.get("tables", {}), "survival", "response_rates", "cox", "flow"]:
        doc = Document(str(base / "tables" / f"{name}.docx"))
        text = "\n".join(p.text for p in doc.paragraphs)
        assert doc.tables and study["data_label"] in text, name
        if name in study.get("tables", {}):
            assert study["tables"][name]["title"] == doc.paragraphs[0].text
            assert doc.tables[0].rows[0].cells[0].text == "Characteristic"


def test_snakemake_report_zip(workflow_run, tmp_path):
    work = tmp_path / "repo"
    shutil.copytree(workflow_run, work, copy_function=shutil.copy2, symlinks=True)
    snakemake(work, "--report", "report.zip")
    with zipfile.ZipFile(work / "report.zip") as z:
        names = z.namelist()
    # Snakemake stores each file under report/data/raw/<hash>/<file name>
    stored = Counter(PurePosixPath(n).name for n in names if "/data/raw/" in n)
    assert stored["consort.png"] == len(STUDIES), stored
    assert stored["report.html"] == len(STUDIES), stored
    assert stored["table1.html"] == len(STUDIES), stored
    assert stored["km_os_by_status.png"] == 1, stored
    # captions say what the reader sees (rendered from report/*.rst), grouped by study
    texts = "\n".join(_zip_texts(work / "report.zip"))
    assert "Kaplan-Meier curves" in texts and "number at risk" in texts
    assert "CONSORT diagram of study rr_all" in texts
    assert all(study in texts for study in STUDIES)  # grouped by study


def _zip_texts(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as z:
        return [
            z.read(n).decode("utf-8", "replace")
            for n in z.namelist()
            if n.endswith((".html", ".js", ".json"))
        ]


def test_a_tenth_site(tmp_path):
    """rr_all with a tenth site (a copy of S02's file under S10): the published comparison
    keeps the paper's own N, titles do not claim 9 sites, and every figure still reads."""
    work = copy_repo(tmp_path / "repo")
    mapping = (work / "config/sites/rr_all/S02.yaml").read_text(encoding="utf-8")
    src = re.search(r"file: ([^,}\s]+)", mapping).group(1)
    dest = f"data/rr_all/S10/{Path(src).name.replace('S02', 'S10')}"
    (work / dest).parent.mkdir(parents=True)
    shutil.copy(work / src, work / dest)
    (work / "config/sites/rr_all/S10.yaml").write_text(
        mapping.replace(src, dest).replace("site: S02", "site: S10"), encoding="utf-8"
    )
    study_yaml = work / "config/studies/rr_all.yaml"
    text = study_yaml.read_text(encoding="utf-8")
    study_yaml.write_text(
        text.replace(
            "  S09: config/sites/rr_all/S09.yaml\n",
            "  S09: config/sites/rr_all/S09.yaml\n  S10: config/sites/rr_all/S10.yaml\n",
        ),
        encoding="utf-8",
    )
    snakemake(work, "--config", "studies=[rr_all]")
    base = work / "results/rr_all"
    t1 = pd.read_csv(base / "tables/table1.csv")
    assert (t1["N"] > 64).all() and (t1["published_N"].dropna() == 64).all()
    notes = (base / "tables/table1.md").read_text(encoding="utf-8")
    assert "inconsistent" not in notes
    assert notes.count("differs from the published N (64)") == 1
    for name in ("table2", "responses"):
        text = pd.read_csv(base / f"tables/{name}.csv").to_csv()
        # the paper's own inconsistencies (e.g. 44.6 % for 28/63) are checked over ITS N (63),
        # never over ours (74): no other "inconsistent" note
        pattern = (
            r"printed [\d.]+ % is not \d+/(\d+) = [\d.]+ %: the paper's percentage is inconsistent"
        )
        assert set(re.findall(pattern, text)) <= {"63"}, name
        assert "inconsistent" not in re.sub(pattern, "", text), name
    report = (base / "report.html").read_text(encoding="utf-8")
    assert "9 sites" not in report and "10 sites" in report
    figs = _figures(work, "rr_all")
    problems = [p for name, fig in figs.items() for p in layout_problems(fig, name)]
    assert problems == [], "\n".join(problems)
