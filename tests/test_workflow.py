"""End-to-end: both bundled studies run; published infant figures; DAG reruns; manifest."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from cohortflow.core.io import sha256_file

from .conftest import snakemake

FIXTURES = Path(__file__).parent / "fixtures"


def planned_jobs(workdir: Path) -> list[tuple[str, dict[str, str]]]:
    """(rule, wildcards) of every job a dry run would execute."""
    out = snakemake(workdir, "--dry-run").stdout
    jobs = []
    # jobs of a group (rules/*.smk `group:`) are listed indented under "Group job ..."
    for block in re.split(r"\n(?=[ \t]*(?:local)?(?:rule|checkpoint) \w+:)", out):
        m = re.match(r"(?:local)?(?:rule|checkpoint) (\w+):", block.strip())
        if not m:
            continue
        wc = re.search(r"wildcards: (.*)", block)
        wildcards = dict(kv.split("=", 1) for kv in wc.group(1).split(", ")) if wc else {}
        jobs.append((m.group(1), wildcards))
    return jobs


def survival(run: Path, study: str) -> pd.DataFrame:
    return pd.read_csv(run / "results" / study / "analyse" / "survival.csv")


def row(df: pd.DataFrame, analysis: str, stratum: str, years: float) -> pd.Series:
    sel = df[
        (df["analysis"] == analysis) & (df["stratum"] == stratum) & (df["time_years"] == years)
    ]
    assert len(sel) == 1, (analysis, stratum, years)
    return sel.iloc[0]


@pytest.mark.parametrize(
    ("analysis", "stratum", "estimate", "se"),
    [
        ("efs_all", "All", 0.667, 0.157),  # 66.7 +- 15.7 %, all 9
        ("efs_by_risk", "High risk", 0.571, 0.187),  # 57.1 +- 18.7 %, high risk 7
        ("efs_by_age", ">= 6 months", 0.857, 0.132),  # 85.7 +- 13.2 %
        # both infants < 6 months had events: S = 0, its SE undefined (R: NA; paper: 0)
        ("efs_by_age", "< 6 months", 0.0, float("nan")),
    ],
)
def test_infant_published_efs(workflow_run, analysis, stratum, estimate, se):
    r = row(survival(workflow_run, "infant_all"), analysis, stratum, 3)
    assert r["estimate"] == pytest.approx(estimate, abs=5e-4)
    assert r["se"] == pytest.approx(se, abs=5e-4, nan_ok=True)
    assert r["ci_method"] == "log-log"
    for col in ("n_risk", "events", "lower", "upper"):
        assert col in r.index


def test_infant_counts_and_hsct_difference(workflow_run):
    s = survival(workflow_run, "infant_all")
    assert row(s, "efs_by_risk", "High risk", 3)["n"] == 7  # group_labels: words, not codes
    hsct = row(s, "efs_hsct", "All", 3)
    # the data imply 4/6 (SE 19.2 %), not the paper's 60 +- 21.9 %
    assert hsct["n"] == 6 and hsct["estimate"] == pytest.approx(4 / 6)
    assert hsct["se"] == pytest.approx((4 / 6 * 2 / 6 / 6) ** 0.5)
    assert hsct["published_estimate"] == 0.60
    tests = pd.read_csv(workflow_run / "results/infant_all/analyse/tests.csv")
    by_age = tests[tests["analysis"] == "efs_by_age"].iloc[0]
    # event order relapse (219 d) < death (364 d) < death (675 d), no censoring before:
    # O-E = 2 - (2/9 + 2/8 + 1/7), V = 14/81 + 12/64 + 6/49
    oe = 2 - (2 / 9 + 2 / 8 + 1 / 7)
    v = 14 / 81 + 12 / 64 + 6 / 49
    assert by_age["chi2"] == pytest.approx(oe**2 / v)
    assert by_age["published_p"] == 0.021


def test_infant_table1_counts(workflow_run):
    t = pd.read_csv(workflow_run / "results/infant_all/tables/table1.csv")
    got = {(r.item, r.level): r.n for r in t.itertuples()}
    assert got[("Sex", "Male")] == 4 and got[("Sex", "Female")] == 5
    assert got[("Age at diagnosis", "< 6 months")] == 2
    assert got[("WBC at diagnosis", ">= 50,000/uL")] == 4
    assert got[("Hepatosplenomegaly", "yes")] == 5
    assert got[("CNS involvement", "yes")] == 0
    assert got[("CD10 negative", "yes")] == 3
    assert got[("Myeloid antigen co-expression", "yes")] == 2
    assert got[("MLL (KMT2A)", "Rearranged (translocation)")] == 3
    assert got[("High risk (study rule)", "yes")] == 7
    assert got[("HSCT", "yes")] == 6
    age = t[t["item"] == "Age at diagnosis (months)"].iloc[0]
    assert (age["median"], age["min"], age["max"]) == (8, 5, 11)


def test_outputs_exist_and_manifest_hashes(workflow_run):
    for study in ("infant_all", "rr_all"):
        base = workflow_run / "results" / study
        man = json.loads((base / "manifest.json").read_text())
        assert man["study"] == study and man["data_label"]
        for entry in man["inputs"] + man["outputs"] + man["config"]["files"]:
            assert sha256_file(workflow_run / entry["path"]) == entry["sha256"], entry["path"]
        paths = {e["path"] for e in man["outputs"]}
        assert f"results/{study}/tables/table1.md" in paths
        assert any(p.endswith(".png") for p in paths) and any(p.endswith(".pdf") for p in paths)
        assert man["packages"]["snakemake"] == "9.27.1"
        assert len(man["code"]["code_sha256"]) == 64
        for r in man["reconciliation"]:
            assert r["rows_read"] == r["rows_harmonised"] + r["rows_quarantined"]
        assert (
            sum(r["rows_read"] for r in man["reconciliation"])
            == {"infant_all": 9, "rr_all": 71}[study]
        )


def test_rerun_nothing_then_one_site_change(workflow_run, tmp_path):
    work = tmp_path / "repo"
    # a copy with results and Snakemake's metadata, modification times preserved
    shutil.copytree(workflow_run, work, copy_function=shutil.copy2, symlinks=True)
    assert planned_jobs(work) == []
    # change the content of one value in one site's file
    mapping = (work / "config/sites/rr_all/S02.yaml").read_text(encoding="utf-8")
    sub = work / re.search(r"file: ([^,}\s]+)", mapping).group(1).strip()
    text = sub.read_bytes()
    lines = text.split(b"\n")
    swap = {b"F": b"M", b"M": b"F"}
    lines[1] = re.sub(rb"([,;])([FM])([,;])", lambda m: m[1] + swap[m[2]] + m[3], lines[1], count=1)
    assert b"\n".join(lines) != text
    sub.write_bytes(b"\n".join(lines))
    jobs = planned_jobs(work)
    after_cross_site = {"query_listing", "dq_site"}
    per_site = sorted((r, w["site"]) for r, w in jobs if "site" in w and r not in after_cross_site)
    assert per_site == [
        ("check_mapping", "S02"),
        ("harmonise", "S02"),
        ("ingest", "S02"),
        ("validate", "S02"),
    ]
    # every site's query listing and DQ page follow the study-wide cross-site check (a dry run
    # lists them all; a real run reruns only those whose own duplicates file changed, see
    # test_registry), and nothing else of the other sites runs
    for rule in after_cross_site:
        listed = sorted(w["site"] for r, w in jobs if r == rule)
        assert listed == [f"S0{i}" for i in range(1, 10)], rule
    studies = {w["study"] for r, w in jobs if "study" in w}
    assert studies == {"rr_all"}
    rules = {r for r, _ in jobs}
    assert {"merge", "classify", "analyse", "manifest"} <= rules


def _texts_under(root: Path):
    """(path, text) of every file under root; Parquet files decoded with their metadata."""
    import pyarrow.parquet as pq

    for p in sorted(root.rglob("*")):
        if not p.is_file():
            continue
        if p.suffix == ".parquet":
            t = pq.read_table(p)
            meta = t.schema.metadata or {}
            yield (
                p,
                t.to_pandas().to_csv()
                + "".join(v.decode("utf-8", "replace") for v in meta.values()),
            )
        else:
            yield p, p.read_bytes().decode("utf-8", "replace")


def test_no_identifier_or_local_id_in_results_or_logs(workflow_run):
    from cohortflow.core.config import load_study
    from cohortflow.ingest.submission import read_submission

    study = load_study("rr_all", workflow_run)
    secrets: set[str] = set()
    for site, m in study["site_mappings"].items():
        raw = read_submission(workflow_run / m["file"], m["reader"], site=site).data
        secrets |= {v for v in raw[m["local_id"]].dropna() if len(v) >= 5}
        for col in m["drop"]:
            secrets |= {v for v in raw[col].dropna() if len(v) >= 2}
    planted = [
        s
        for s in secrets
        if any(ch in s for ch in "가나다라마바사아자차카타파하김이박최")
        or s.count("-") == 1
        and len(s) == 14
    ]
    assert len(secrets) >= 70 and planted, "the demo must plant names/RRNs and local IDs"
    roots = [workflow_run / "results", workflow_run / ".snakemake" / "log"]
    for root in roots:
        for path, text in _texts_under(root):
            for s in secrets:
                assert s not in text, f"{s[:2]}... found in {path.relative_to(workflow_run)}"


def test_rr_all_reproduces_the_seed_counts(workflow_run):
    base = workflow_run / "results" / "rr_all"
    flow = pd.read_csv(base / "analyse/flow.csv")
    allf = flow[flow["site"] == "All"].set_index("step")["n"]
    assert (allf["screened"], allf["eligible"], allf["analysed"]) == (70, 64, 63)
    excluded = allf[[s for s in allf.index if s.startswith("excluded")]]
    assert excluded.sum() == 6 and (excluded > 0).sum() == 4
    assert allf["not analysed: No treatment/follow-up data after R/R diagnosis"] == 1
    elig = pd.read_csv(base / "analyse/eligibility.csv")
    assert (elig["failed_criteria"].fillna("") != "").sum() == 6
    t1 = pd.read_csv(base / "tables/table1.csv", keep_default_na=False, na_values=[""])
    got = {(r.item, r.level): r.n for r in t1.itertuples()}
    assert got[("Sex", "Male")] == 39 and got[("Immunophenotype", "B")] == 48
    assert got[("Disease status", "Refractory")] == 13 and got[("Initial cytogenetics", "NA")] == 20
    height = t1[t1["item"] == "Height (cm)"].iloc[0]
    assert height["N"] == 63 and "±" in height["display"] and "(" in height["display"]
    assert t1["published_note"].fillna("").eq("").all()  # Table 1 agrees with the paper
    # the paper's layout and values: its own N in the label, mean ± SD and median (range)
    md1 = (base / "tables/table1.md").read_text(encoding="utf-8")
    for line in [
        "| Age at R/R diagnosis (years) | Mean ± SD | 14.3 ± 4.5 |",
        "|  | Median (range) | 15.0 (6.0-25.0) |",
        "| Height (cm) (N=63) | Mean ± SD | 143.8 ± 23.2 |",
        "|  | Median (range) | 145.0 (90.4-178.5) |",
        "| Body weight (kg) (N=63) | Mean ± SD | 41.1 ± 18.5 |",
        "|  | Median (range) | 39.0 (13.1-105.0) |",
    ]:
        assert line in md1, line
    html1 = (base / "tables/table1.html").read_text(encoding="utf-8")
    assert "Height (cm) (N=63)" in html1 and "Median (range)" in html1
    t2 = pd.read_csv(base / "tables/table2.csv").set_index("level")
    assert t2.loc["cytarabine", "n"] == 28
    assert t2.loc["cytarabine", "published_note"].startswith("printed 44.6 % is not 28/63")
    rates = pd.read_csv(base / "analyse/response_rates.csv").set_index("name")
    assert round(100 * rates.loc["cr_rate_as_published", "rate"], 1) == 38.1
    assert round(100 * rates.loc["overall_response", "rate"], 1) == 42.9
    assert "CRp" in rates.loc["cr_rate_as_published", "definition"]
    md = (base / "tables/response_rates.md").read_text(encoding="utf-8")
    assert "Clopper-Pearson" in md and "Definitions:" in md


def test_rr_all_data_quality_outputs(workflow_run):
    base = workflow_run / "results" / "rr_all"
    aside = pd.read_csv(base / "analyse/set_aside.csv").set_index("site")
    assert (aside.loc["All", "records_received"], aside.loc["All", "set_aside"]) == (71, 1)
    assert aside.loc["S07", "set_aside"] == 1
    dups = pd.read_csv(base / "validate/cross_site_duplicates.csv")
    assert sorted(dups["site"]) == ["S04", "S07"] and dups["duplicate_group"].nunique() == 1
    assert dups.set_index("site").loc["S07", "quarantined"]
    s07 = pd.read_csv(base / "validate/S07.findings.csv")
    assert sorted(s07["check"]) == ["code_in_list", "rr_before_death"]
    s02 = pd.read_csv(base / "validate/S02.findings.csv")
    assert list(s02["check"]) == ["wbc_plausible"] and list(s02["severity"]) == ["warning"]
    html = (base / "dq/study.html").read_text(encoding="utf-8")
    assert "Same patient sent by two sites" in html and "71" in html
    assert (base / "dq/S07.html").exists() and (base / "dq/S07.csv").exists()
    listing = workflow_run / "restricted/rr_all/queries/S07.csv"
    q = pd.read_csv(listing)
    assert set(q["local_patient_id"]) == {"HG-0371"}  # the site's own IDs, restricted area
    assert sorted(q["check"]) == ["code_in_list", "cross_site_duplicate", "rr_before_death"]
    assert (workflow_run / "restricted/rr_all/queries/S07.xlsx").exists()
    # the other record of the pair is queried at its own site, with only its own ID
    q04 = pd.read_csv(workflow_run / "restricted/rr_all/queries/S04.csv")
    assert list(q04["check"]) == ["cross_site_duplicate"]
    assert list(q04["local_patient_id"]) == ["HD-0061"]
    assert "S07" not in q04.to_csv() and "HG-0371" not in q04.to_csv()
    # one site's data cannot decide a cross-site check: its report does not say "pass"
    dq04 = pd.read_csv(base / "dq/S04.csv")
    assert "study level" in dq04.to_csv() and "cross_site_duplicate" in dq04.to_csv()
    note = "1 of 71 submitted records were set aside"
    tables = sorted((base / "tables").glob("*.md")) + sorted((base / "tables").glob("*.html"))
    assert len(tables) >= 14
    for t in tables:  # every table for people states it
        assert note in t.read_text(encoding="utf-8"), t.name
    import openpyxl

    wb = openpyxl.load_workbook(base / "tables/tables.xlsx", read_only=True)
    assert "set_aside" in wb.sheetnames
    for ws in wb.worksheets:
        assert any(note in str(c) for row in ws.iter_rows(values_only=True) for c in row if c)


def test_strict_policy_stops_before_the_merge(tmp_path):
    from .conftest import copy_repo

    work = copy_repo(tmp_path / "repo")
    (work / "config/config.yaml").write_text("studies:\n  - rr_all\n", encoding="utf-8")
    study = work / "config/studies/rr_all.yaml"
    study.write_text(
        study.read_text(encoding="utf-8").replace(
            "validation: {policy: quarantine}", "validation: {policy: strict}"
        ),
        encoding="utf-8",
    )
    proc = snakemake(work, check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "strict policy: fatal data-quality checks failed, nothing was merged" in out
    assert "S07" in out and "code_in_list" in out and "rr_before_death" in out
    assert not (work / "results/rr_all/harmonised/patients.parquet").exists()
    # what the stop message points to exists: the data-quality reports and the listings
    assert (work / "results/rr_all/dq/study.html").exists()
    assert (work / "results/rr_all/dq/S07.html").exists()
    q = pd.read_csv(work / "restricted/rr_all/queries/S07.csv")
    assert sorted(q["check"]) == ["code_in_list", "cross_site_duplicate", "rr_before_death"]


def test_rr_all_survival_outputs(workflow_run):
    base = workflow_run / "results" / "rr_all"
    s = survival(workflow_run, "rr_all")
    os_all = s[s["analysis"] == "os_all"].set_index("time_years")
    assert list(os_all.index) == [1, 2, 3, 5] and os_all["n"].iloc[0] == 63
    tests = pd.read_csv(base / "analyse/tests.csv")
    by = tests.set_index("test")
    assert "log-rank (unweighted)" in by.index  # the naive comparison, shown because allowed
    mb = tests[tests["test"].str.startswith("Mantel-Byar")]
    lm = tests[tests["test"].str.startswith("log-rank at the 6-month landmark")]
    assert len(mb) == 1 and len(lm) == 1 and mb["p"].iloc[0] < 0.05
    md = (base / "tables/survival.md").read_text(encoding="utf-8")
    assert "BIASED BY IMMORTAL TIME" in md and "Mantel-Byar" in md and "Landmark" in md
    # rr_all mixes CI transforms: the footnote says which analysis used which
    assert "os_all log-log; os_by_status log;" in md and "(default log-log;" in md
    assert "Simon-Makuch" in md
    cox = pd.read_csv(base / "analyse/cox.csv")
    hsct = cox[cox["covariate"] == "HSCT (time-dependent)"].iloc[0]
    assert hsct["status"] == "fitted" and hsct["hr"] < 1 and hsct["events"] == 54
    for f in [
        "km_os_all",
        "km_os_by_hsct_naive",
        "km_os_by_hsct_naive_landmark_6m",
        "km_os_by_hsct_naive_simon_makuch",
        "forest_os_cox",
        "swimmer",
        "consort",
    ]:
        for ext in ("png", "pdf", "svg"):
            assert (base / "figures" / f"{f}.{ext}").stat().st_size > 1000, f
    from openpyxl import load_workbook

    wb = load_workbook(base / "tables/tables.xlsx", read_only=True)
    assert {"table1", "table2", "survival", "cox", "response_rates"} <= set(wb.sheetnames)


def test_infant_cox_refused_and_competing_risks(workflow_run):
    base = workflow_run / "results" / "infant_all"
    cox = pd.read_csv(base / "analyse/cox.csv")
    assert cox["status"].iloc[0] == (
        "refused: 3 events for 1 parameter; need at least 5 (5 per parameter)"
    )
    cif = pd.read_csv(base / "analyse/cif.csv")
    cif = cif[cif["analysis"] == "relapse_nrm"]
    at3 = cif[cif["time_years"] == 3].set_index("cause")
    # relapse 1/9 (day 219); death without relapse 2/9 (days 364, 675): no censoring before
    assert at3.loc[1, "cif"] == pytest.approx(1 / 9) and at3.loc[2, "cif"] == pytest.approx(2 / 9)
    assert (base / "figures/cif_relapse_nrm.png").exists()
    # a refused model gets no figure (the table and the report say why)
    assert not (base / "figures/forest_efs_cox_age.png").exists()
    # Gray's test by age group against R cmprsk::cuminc on the same data
    # (tests/fixtures/competing/infant_gray.R and its output)
    adtte = pd.read_parquet(base / "analyse/adtte.parquet")
    rel = adtte[adtte["PARAMCD"] == "REL"].merge(
        pd.read_parquet(base / "analyse/cohort.parquet")[["study_id", "age_at_diagnosis_months"]]
    )
    got = sorted(
        zip(rel["AVAL"], rel["EVENTTYPE"], rel["age_at_diagnosis_months"] < 6, strict=True)
    )
    r_data = sorted(
        zip(
            [364, 675, 3458, 1558, 219, 1375, 2743, 3900, 1138],
            [2, 2, 0, 0, 1, 0, 0, 0, 0],
            [True, True] + [False] * 7,
            strict=True,
        )
    )
    assert got == r_data
    r = pd.read_csv(FIXTURES / "competing/infant_gray.csv").set_index("cause")
    tests = pd.read_csv(base / "analyse/tests.csv")
    # one Gray's test per cause, each named with its cause (R: cuminc()$Tests rows 1, 2)
    grays = tests[tests["test"].str.startswith("Gray")].to_dict("records")
    assert [g["test"] for g in grays] == [
        "Gray (cumulative incidence, Relapse)",
        "Gray (cumulative incidence, Death without relapse)",
    ]
    for cause, gray in enumerate(grays, start=1):
        assert gray["analysis"] == "relapse_nrm_by_age"
        assert gray["chi2"] == pytest.approx(r.loc[cause, "stat"], abs=1e-6)
        assert gray["p"] == pytest.approx(r.loc[cause, "pv"], abs=1e-6)
    assert "Gray" in (base / "tables/competing_risks.md").read_text(encoding="utf-8")


def test_naive_time_dependent_comparison_is_refused_unless_allowed(workflow_run):
    from cohortflow.analyse.analysis import analyse
    from cohortflow.core.config import load_study

    study = load_study("rr_all", workflow_run)
    base = workflow_run / "results" / "rr_all"
    cohort = pd.read_parquet(base / "analyse/cohort.parquet")
    for a in study["analyses"]:
        a.pop("allow_naive", None)
    res = analyse(cohort, study)
    t = res["tests"]
    refused = t[t["test"] == "naive Kaplan-Meier comparison refused"]
    assert len(refused) == 1 and "immortal time" in refused["note"].iloc[0]
    assert not (res["survival"]["analysis"] == "os_by_hsct_naive").any()
    assert (res["survival"]["analysis"] == "os_by_hsct_naive_landmark_6m").any()


def test_two_runs_give_identical_bytes(workflow_run, tmp_path):
    from .conftest import copy_repo

    work = copy_repo(tmp_path / "again")
    snakemake(work)
    kinds = {".parquet", ".csv", ".xlsx", ".docx", ".png", ".pdf", ".svg", ".json", ".html", ".md"}
    first = {
        p.relative_to(workflow_run): sha256_file(p)
        for p in (workflow_run / "results").rglob("*")
        if p.suffix in kinds and "releases" not in p.parts and "logs" not in p.parts
    }
    second = {
        p.relative_to(work): sha256_file(p)
        for p in (work / "results").rglob("*")
        if p.suffix in kinds and "releases" not in p.parts and "logs" not in p.parts
    }
    assert set(first) == set(second)
    differ = sorted(str(k) for k in first if first[k] != second[k])
    assert differ == [], differ
    assert len(first) > 250


def test_release_is_read_only_and_never_overwritten(workflow_run, tmp_path):
    import os

    from cohortflow.core.errors import CohortflowError
    from cohortflow.provenance.release import release

    work = tmp_path / "repo"
    shutil.copytree(workflow_run, work, copy_function=shutil.copy2, symlinks=True)
    cwd = os.getcwd()
    os.chdir(work)
    try:
        from cohortflow.provenance.release import freeze_id

        manifest = json.loads(Path("results/infant_all/manifest.json").read_text("utf-8"))
        config_paths = {e["path"] for e in manifest["config"]["files"]}
        assert {"config/checks.yaml", "config/config.yaml"} <= config_paths
        assert "config/risk_schemes/interfant06.yaml" in config_paths
        # any config file's content moves the freeze ID (the check catalogue included)
        edited = json.loads(json.dumps(manifest))
        next(e for e in edited["config"]["files"] if e["path"] == "config/checks.yaml")[
            "sha256"
        ] = "0" * 64
        assert freeze_id(edited) != freeze_id(manifest)
        dest = release("infant_all", Path("results"))
        assert dest.name.startswith("2011-02-28_") and len(dest.name) == len("2011-02-28_") + 12
        assert (dest / "manifest.json").exists() and (dest / "tables/table1.md").exists()
        assert not (dest / "logs").exists()
        assert not os.access(dest / "manifest.json", os.W_OK) or os.geteuid() == 0
        assert not (dest.stat().st_mode & 0o222) and not (
            (dest / "manifest.json").stat().st_mode & 0o222
        )
        with pytest.raises(CohortflowError, match="never overwritten"):
            release("infant_all", Path("results"), rebuild=False)
        # every released file (run report and manifest included) is hashed in RELEASE.json
        from cohortflow.__main__ import main as cli
        from cohortflow.provenance.release import verify_release

        meta = json.loads((dest / "RELEASE.json").read_text(encoding="utf-8"))
        listed = {e["path"] for e in meta["files"]}
        assert {"report.html", "manifest.json", "tables/table1.md"} <= listed
        assert listed == {
            p.relative_to(dest).as_posix()
            for p in dest.rglob("*")
            if p.is_file() and p.name != "RELEASE.json"
        }
        assert verify_release(dest) == []
        assert cli(["release", "--study", "infant_all", "--verify", dest.name]) == 0
        table1 = dest / "tables/table1.md"
        table1.chmod(0o644)
        table1.write_text(table1.read_text() + "edited\n")
        problems = verify_release(dest)
        assert problems[0] == "changed: tables/table1.md", problems
        # the freeze ID covers the released contents, so it no longer matches either
        assert any(p.startswith("freeze ID:") for p in problems[1:]), problems
        assert cli(["release", "--study", "infant_all", "--verify", dest.name]) == 1
        # change one value: the working results are stale until rerun, then a new freeze ID
        csv = work / "data/infant_all/SEV/SEV_2011-03-02.csv"
        csv.write_text(csv.read_text().replace("2011-02-25", "2011-02-26"))
        snakemake(work)
        dest2 = release("infant_all", Path("results"), rebuild=False)  # rebuilt above
        assert dest2 != dest and dest.exists()
    finally:
        os.chdir(cwd)
        for p in (work / "results/infant_all/releases").rglob("*"):
            p.chmod(0o755)
        (work / "results/infant_all/releases").chmod(0o755)


def test_every_parquet_carries_provenance(workflow_run):
    from cohortflow.core.dictionary import dictionary_version
    from cohortflow.core.io import read_parquet_metadata

    paths = [
        p
        for root in ("results", "restricted")
        for p in (workflow_run / root).rglob("*.parquet")
        if "releases" not in p.parts
    ]
    assert len(paths) > 50
    for p in paths:
        meta = read_parquet_metadata(p)
        assert meta.get("schema_version") == dictionary_version(), p
        assert meta.get("inputs"), p
        assert all(len(h) == 64 for h in meta["inputs"].values()), p
