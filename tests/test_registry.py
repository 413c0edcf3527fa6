"""Registry scale: the synthetic registry generator, the monolithic baseline (same bytes as the
workflow) and the rerun sets of resubmissions and config edits (dry runs on a small registry)."""

from __future__ import annotations

import filecmp
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from cohortflow.core.slices import Digest, DigestList, analyse_slice, figure_slice
from cohortflow.demo.registry import generate, site_format

from .conftest import REPO, copy_repo, snakemake

PER_SITE_RULES = {"check_mapping", "ingest", "validate", "harmonise", "dq_site", "query_listing"}
SITES, PER_SITE = 4, 40


def _files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_generator_is_deterministic_and_plants_what_it_says(tmp_path):
    a = generate(tmp_path / "a", 10, 30, seed=7)
    b = generate(tmp_path / "b", 10, 30, seed=7)
    c = generate(tmp_path / "c", 10, 30, seed=8)
    fa, fb = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert fa == fb and a == b
    assert _files(tmp_path / "c") != fa
    # every format of the mix is there: CSV UTF-8, CSV CP949, XLSX, SPSS, REDCap
    assert {site_format(k) for k in range(10)} == {"csv", "cp949", "xlsx", "sav", "redcap"}
    exts = {Path(p).suffix for p in fa if p.startswith("data/")}
    assert {".csv", ".xlsx", ".sav"} <= exts
    assert any(p.endswith("_dictionary.csv") for p in fa)
    raw = (tmp_path / "a/data/registry/S005/S005_2017-03-01.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert "성별" in raw.decode("cp949")
    # a known share of records carries an error, each site at least one; five duplicates
    for site, kinds in a["planted"].items():
        assert sum(len(v) for v in kinds.values()) == 1, site
    assert len(a["cross_site_duplicates"]) == 5
    assert c["planted"] != a["planted"] or c["cross_site_duplicates"] != a["cross_site_duplicates"]


def test_study_slices_are_small_and_exclude_what_a_stage_does_not_read():
    from cohortflow.core.config import load_study

    study = load_study("rr_all")
    s = analyse_slice(study)
    assert "site_mappings" not in s and "tables" not in s
    assert all("title" not in a for a in s["analyses"])
    assert [a["time_points_years"] for a in s["analyses"]] == [
        a["time_points_years"] for a in study["analyses"]
    ]
    f = figure_slice(study, "km_os_by_hsct_naive_landmark_6m")
    assert [a["id"] for a in f["analyses"]] == ["os_by_hsct_naive"]
    # what Snakemake records and prints for a params value: a short digest of the content
    assert re.fullmatch(r"sha256:[0-9a-f]{16}", repr(s))
    assert repr(Digest({"a": 1, "b": [1, 2]})) == repr(Digest({"b": [1, 2], "a": 1}))
    assert repr(Digest({"a": 1})) != repr(Digest({"a": 2}))
    assert re.fullmatch(r"sha256:[0-9a-f]{16}", repr(DigestList(["S001", "S002"])))
    import pickle

    assert type(pickle.loads(pickle.dumps(s))) is dict


def planned_reasons(work: Path) -> list[tuple[str, dict[str, str], str]]:
    """(rule, wildcards, reason) of every job a dry run of the registry study plans."""
    out = snakemake(work, "--dry-run", "--config", "studies=[registry]").stdout
    # params are recorded and printed as short digests, never as the study definition
    params_lines = [line for line in out.splitlines() if "Params have changed" in line]
    assert all(len(line) < 400 for line in params_lines), max(params_lines, key=len)
    jobs = []
    # jobs of a group (rules/*.smk `group:`) are listed indented under "Group job ..."
    for block in re.split(r"\n(?=[ \t]*(?:local)?(?:rule|checkpoint) \w+:)", out):
        m = re.match(r"(?:local)?(?:rule|checkpoint) (\w+):", block.strip())
        if not m or m.group(1) == "all":
            continue
        wc = re.search(r"wildcards: (.*)", block)
        wildcards = dict(kv.split("=", 1) for kv in wc.group(1).split(", ")) if wc else {}
        why = re.search(r"reason: (.*)", block)
        jobs.append((m.group(1), wildcards, why.group(1) if why else ""))
    return jobs


def planned(work: Path) -> list[tuple[str, dict[str, str]]]:
    """(rule, wildcards) of every job a dry run of the registry study plans."""
    return [(rule, wildcards) for rule, wildcards, _ in planned_reasons(work)]


@pytest.fixture(scope="module")
def registry_run(tmp_path_factory) -> Path:
    """A repository copy with a small registry (4 sites x 40 patients) run once."""
    work = copy_repo(tmp_path_factory.mktemp("registry") / "repo")
    generate(work, SITES, PER_SITE, seed=11)
    snakemake(work, "--config", "studies=[registry]")
    return work


def test_small_registry_runs_and_planted_errors_are_found(registry_run):
    base = registry_run / "results/registry"
    truth = json.loads((registry_run / "data/registry/planted.json").read_text())
    rec = [json.loads(p.read_text()) for p in sorted((base / "quarantine").glob("*.json"))]
    assert sum(r["rows_read"] for r in rec) == SITES * PER_SITE
    for r in rec:
        assert r["rows_read"] == r["rows_harmonised"] + r["rows_quarantined"]
    dups = pd.read_csv(base / "validate/cross_site_duplicates.csv")
    assert len(truth["cross_site_duplicates"]) == SITES - 1
    assert dups["duplicate_group"].nunique() >= SITES - 1
    findings = pd.concat(pd.read_csv(p) for p in sorted((base / "validate").glob("*.findings.csv")))
    checks = set(findings["check"])
    kinds = {k for site in truth["planted"].values() for k, rows in site.items() if rows}
    expected = {
        "death_before_rr": "rr_before_death",
        "code_outside_list": "code_in_list",
        "height_out_of_range": "height_range",
        "wbc_wrong_unit": "wbc_plausible",
        "unreadable_date": "type_conformance",
    }
    assert {expected[k] for k in kinds} <= checks


def test_baseline_writes_the_same_bytes_as_the_workflow(registry_run, tmp_path):
    import subprocess
    import sys

    subprocess.run(
        [sys.executable, str(registry_run / "benchmarks/baseline.py"), "--root", str(registry_run)],
        cwd=registry_run,
        check=True,
        capture_output=True,
        env={"PYTHONPATH": str(registry_run), "PATH": "/usr/bin:/bin"},
    )
    wf, bl = registry_run / "results/registry", registry_run / "baseline/results/registry"
    compared = 0
    for sub in ("ingest", "validate", "harmonised", "quarantine", "classify", "analyse", "tables"):
        for p in sorted((wf / sub).rglob("*")):
            if p.is_file() and p.suffix in (".parquet", ".csv", ".json", ".md", ".html"):
                q = bl / p.relative_to(wf)
                assert q.exists(), q
                assert filecmp.cmp(p, q, shallow=False), p.relative_to(wf)
                compared += 1
    assert compared > 60
    for p in sorted((registry_run / "restricted/registry/queries").glob("*.csv")):
        q = registry_run / "baseline/restricted/registry/queries" / p.name
        assert filecmp.cmp(p, q, shallow=False), p.name


def test_rerun_sets_of_edits(registry_run, tmp_path):
    work = tmp_path / "repo"
    shutil.copytree(registry_run, work, symlinks=True)
    assert planned(work) == []  # no-op
    # editing an analysis title: its figure, the tables and the report; no per-site job
    study = work / "config/studies/registry.yaml"
    text = study.read_text(encoding="utf-8")
    study.write_text(text.replace("title: Overall survival by age", "title: OS by AGE", 1))
    jobs = planned(work)
    rules = {r for r, _ in jobs}
    assert not rules & PER_SITE_RULES and "analyse" not in rules, sorted(rules)
    figs = {w["figure"] for r, w in jobs if r == "figure"}
    assert figs == {"km_os_by_age"}, figs
    assert {"survival_tables", "run_report"} <= rules
    study.write_text(text, encoding="utf-8")
    # time points: the analysis is recomputed, still no per-site job
    points = "time_points_years:\n  - 1\n  - 3\n"
    assert points in text
    study.write_text(text.replace(points, "time_points_years:\n  - 1\n  - 2\n", 1))
    rules = {r for r, _ in planned(work)}
    assert "analyse" in rules and not rules & PER_SITE_RULES
    study.write_text(text, encoding="utf-8")
    # one check of the catalogue: validation reruns everywhere, ingestion nowhere
    checks = work / "config/checks.yaml"
    ctext = checks.read_text(encoding="utf-8")
    checks.write_text(ctext.replace('"Height outside 30-230 cm"', '"Height outside 30-230 cm!"'))
    jobs = planned(work)
    assert sum(r == "validate" for r, _ in jobs) == SITES
    assert not any(r in ("check_mapping", "ingest") for r, _ in jobs)
    checks.write_text(ctext, encoding="utf-8")
    # a module behind what the study needs from the sites (the risk schemes): its code hash
    # changes for the mapping checks only (the site chains after them rerun through the data
    # dependency: a passing check is ingest's input)
    schemes = work / "cohortflow/classify/schemes.py"
    stext = schemes.read_text(encoding="utf-8")
    schemes.write_text(stext + "\n# an edit\n", encoding="utf-8")
    code = {r for r, _, why in planned_reasons(work) if "Params have changed" in why}
    assert "check_mapping" in code and not code & (PER_SITE_RULES - {"check_mapping"}), code


def _dq_duplicates(work: Path, site: str) -> int:
    """The cross-site duplicates a site's DQ page counts (its status row of that check)."""
    dq = pd.read_csv(work / f"results/registry/dq/{site}.csv").set_index("check")
    return int(dq.loc["cross_site_duplicate", "failed"])


def test_one_site_resubmission_reruns_no_other_site(registry_run, tmp_path):
    work = tmp_path / "repo"
    shutil.copytree(registry_run, work, symlinks=True)
    # the DQ pages agree with the cross-site check (S002 and S003 are in two pairs each)
    counts = {s: _dq_duplicates(work, s) for s in ("S001", "S002", "S003", "S004")}
    assert counts == {"S001": 1, "S002": 2, "S003": 2, "S004": 1}
    f = next((work / "data/registry/S001").glob("*.csv"))
    df = pd.read_csv(f, dtype=str, keep_default_na=False)
    df.loc[0, "Weight (kg)"] = f"{float(df.loc[0, 'Weight (kg)']) + 0.1:.1f}"
    df.to_csv(f, index=False, lineterminator="\n")
    # the dry run: S001's chain; query listings and DQ pages wait for the cross-site checkpoint
    plan = planned(work)
    after_cross_site = {"query_listing", "dq_site"}
    assert {w["site"] for r, w in plan if r in PER_SITE_RULES - after_cross_site} == {"S001"}
    # the real run: after the checkpoint only S001's listing and DQ page (its duplicates file)
    # may rerun
    proc = snakemake(work, "--config", "studies=[registry]")
    out = proc.stdout + proc.stderr  # a real run logs its jobs to stderr
    ran = re.findall(r"(?:rule|checkpoint) (\w+):\n(?:.*\n)*?\s+wildcards: (.*)", out)
    per_site = [(r, w) for r, w in ran if r in PER_SITE_RULES]
    assert per_site and all("site=S001" in w for _, w in per_site), per_site
    assert planned(work) == []


def test_registry_repo_has_no_generated_data():
    assert not (REPO / "data" / "registry").exists()


def test_censor_marks_thinned_only_at_scale():
    import numpy as np

    from cohortflow.render.figures import MAX_CENSOR_MARKS, thin_marks

    x = np.arange(300.0)
    keep = np.ones(300, dtype=bool)
    assert (thin_marks(x, keep, 300.0) == keep).all()  # small studies: every mark
    x = np.sort(np.random.default_rng(1).uniform(0, 3000, 50_000)).round()
    keep = np.random.default_rng(2).random(x.size) < 0.5
    thin = thin_marks(x, keep, 3000.0)
    assert 0 < thin.sum() <= MAX_CENSOR_MARKS
    assert not (thin & ~keep).any()  # never a mark where nobody was censored
    gaps = np.diff(x[thin])
    assert (gaps >= 0).all() and (gaps > 0).all()
