"""Tracing values and output cells to their sources, and comparing two runs (real workflow)."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from cohortflow.__main__ import main as cli_main
from cohortflow.core.config import load_study
from cohortflow.core.io import sha256_file
from cohortflow.provenance.diff import diff_runs, format_diff
from cohortflow.provenance.diff import main as diff_main
from cohortflow.provenance.trace import format_trace, trace_cell, trace_value
from cohortflow.provenance.trace import main as trace_main
from tests.conftest import snakemake

STUDY = "rr_all"


def _mapping(root: Path, site: str) -> dict[str, Any]:
    return load_study(STUDY, root)["site_mappings"][site]


def _patients(root: Path) -> pd.DataFrame:
    return pd.read_parquet(root / "results" / STUDY / "harmonised" / "patients.parquet")


def _raw(root: Path, site: str) -> pd.DataFrame:
    return pd.read_parquet(root / "restricted" / STUDY / "raw" / f"{site}.parquet")


def _pick(root: Path, site: str, column: str, pattern: str) -> tuple[str, dict[str, Any]]:
    """A harmonised patient of ``site`` whose raw ``column`` matches ``pattern``: (study ID,
    raw record)."""
    pts = _patients(root)
    pts = pts[pts["site"] == site]
    for rec in _raw(root, site).to_dict("records"):
        text = rec.get(column)
        if text is None or not re.fullmatch(pattern, str(text)):
            continue
        hit = pts[pts["source_row"] == int(rec["_source_row"])]
        if len(hit):
            return str(hit["study_id"].iloc[0]), rec
    raise AssertionError(f"no {site} patient with {column} matching {pattern}")


def _no_local_id(local: str, d: dict[str, Any], text: str) -> None:
    assert local and local not in text
    assert local not in json.dumps(d, ensure_ascii=False, default=str)


def _names(entries: list[dict[str, Any]]) -> set[str]:
    return {e["check"] for e in entries}


def test_trace_wbc_from_thousands_separated_ul(workflow_run: Path, capsys: Any) -> None:
    m = _mapping(workflow_run, "S01")
    src = m["columns"]["wbc"]["source"]
    sid, rec = _pick(workflow_run, "S01", src, r"\d{1,3}(,\d{3})+")
    local = str(rec[m["local_id"]])
    text = str(rec[src])
    expected = float(text.replace(",", "")) / 1000

    d = trace_value(workflow_run, STUDY, sid, "wbc")
    out = format_trace(d)

    assert d["site"] == "S01" and d["status"] == "harmonised"
    assert d["source"]["file"] == m["file"]
    file_sha = sha256_file(workflow_run / m["file"])
    assert d["source"]["sha256"] == file_sha == d["source"]["lineage_sha256"]
    assert d["source"]["row"] == int(rec["_source_row"])
    assert d["mapped"]["source_column"] == src == "WBC at diagnosis (/uL)"
    assert d["mapped"]["raw"] == text
    assert d["harmonised"] == pytest.approx(expected)
    assert d["mapped"]["reproduced"] is True
    assert any("/uL x 0.001" in s and "x10^9/L" in s for s in d["mapped"]["steps"])
    assert d["checks"]["failed"] == []
    assert {"wbc_range", "wbc_plausible", "type_conformance", "unit_known"} <= _names(
        d["checks"]["passed"]
    )
    expl = pd.read_csv(workflow_run / "results" / STUDY / "classify" / "explanations.csv")
    group = expl[(expl["study_id"] == sid) & (expl["scheme"] == "nci_rome")]["group"].iloc[0]
    (scheme,) = d["rules"]["risk_schemes"]
    assert scheme["scheme"] == "nci_rome" and scheme["group"] == group
    assert {c["criterion"] for c in scheme["criteria"]} == {"wbc_ge_50", "wbc_lt_50"}
    assert d["rules"]["eligibility"] == [] and d["rules"]["endpoints"] == []
    for needle in (text, file_sha, src, f"row:        {rec['_source_row']}", "wbc_range"):
        assert needle in out
    _no_local_id(local, d, out)

    argv = ["--root", str(workflow_run), "--study", STUDY, "--study-id", sid, "--variable", "wbc"]
    assert trace_main(argv) == 0
    printed = capsys.readouterr().out
    assert text in printed and local not in printed
    # the same through the package's command line, options first
    assert cli_main(["trace", *argv]) == 0
    assert capsys.readouterr().out == printed
    missing = ["trace", "--root", str(workflow_run), "--study", STUDY, "--table", "nope.csv"]
    assert cli_main([*missing, "--row", "1", "--column", "n"]) == 1
    assert "no such output table" in capsys.readouterr().err


def test_trace_cp949_dotted_date_and_derived_age(workflow_run: Path) -> None:
    m = _mapping(workflow_run, "S04")
    src = m["columns"]["death_date"]["source"]
    sid, rec = _pick(workflow_run, "S04", src, r"\d{4}\.\d{2}\.\d{2}")
    local = str(rec[m["local_id"]])
    text = str(rec[src])

    d = trace_value(workflow_run, STUDY, sid, "death_date")
    out = format_trace(d)

    assert d["source"]["encoding"] == "cp949"
    assert d["source"]["sha256"] == sha256_file(workflow_run / m["file"])
    assert d["source"]["row"] == int(rec["_source_row"])
    assert d["mapped"]["source_column"] == src == "사망일"
    assert d["mapped"]["raw"] == text
    assert d["harmonised"] == text.replace(".", "-")
    assert "dotted" in d["mapped"]["steps"][0]
    assert d["checks"]["failed"] == []
    assert {"diagnosis_before_death", "rr_before_death", "type_conformance"} <= _names(
        d["checks"]["passed"]
    )
    eps = {e["endpoint"]: e for e in d["rules"]["endpoints"]}
    assert eps["OS"]["roles"] == ["event (Death from any cause)"]
    assert "competing event" in eps["REL_HSCT"]["roles"][0]
    assert {"os_all", "os_by_status", "os_cox"} <= {a["analysis"] for a in d["rules"]["analyses"]}
    _no_local_id(local, d, out)
    for dropped in m["drop"]:  # the identifier columns never reach the raw copy
        assert dropped not in out

    age = trace_value(workflow_run, STUDY, sid, "age_at_diagnosis_years")
    assert age["derived"]["reproduced"] is True
    assert [i["variable"] for i in age["derived"]["inputs"]] == ["birth_date", "diagnosis_date"]
    assert all(re.fullmatch(r"\d{4}\.\d{2}\.\d{2}", i["raw"]) for i in age["derived"]["inputs"])
    assert "age_at_diagnosis_range" in _names(age["checks"]["passed"])
    assert [s["scheme"] for s in age["rules"]["risk_schemes"]] == ["nci_rome"]
    assert "age_1_21" in {e.get("criterion") for e in age["rules"]["eligibility"]}
    _no_local_id(local, age, format_trace(age))


def test_trace_without_restricted_copy_says_so(workflow_run: Path, tmp_path: Path) -> None:
    sid = str(_patients(workflow_run)["study_id"].iloc[0])
    d = trace_value(workflow_run, STUDY, sid, "sex", restricted=tmp_path / "nowhere")
    assert d["mapped"]["raw_available"] is False
    assert "absent" in d["mapped"]["raw_note"]
    assert "raw cell: not available" in format_trace(d)


def test_trace_cells_recount_their_patients(workflow_run: Path) -> None:
    res = workflow_run / "results" / STUDY
    surv = pd.read_csv(res / "analyse" / "survival.csv")
    analysed = pd.read_parquet(res / "analyse" / "cohort.parquet").query("analysed")
    for i in range(len(surv)):
        d = trace_cell(workflow_run, STUDY, res / "analyse" / "survival.csv", i + 1, "n_risk")
        for k, v in d["reconciliation"].items():
            assert v["recounted"] == v["table"], (i, k)
        assert {p["study_id"] for p in d["patients"]} <= set(analysed["study_id"])
    t1 = pd.read_csv(res / "tables" / "table1.csv")
    row = int(t1.index[(t1["item"] == "Sex") & (t1["level"] == "Male")][0]) + 1
    d = trace_cell(workflow_run, STUDY, res / "tables" / "table1.csv", row, "n")
    assert len(d["patients"]) == d["reconciliation"]["n"]["table"] == 39
    assert {p["value"] for p in d["patients"]} == {"M"}
    assert "Patients (39" in format_trace(d)


@pytest.fixture(scope="module")
def changed_run(workflow_run: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A copy of the run in which one S02 death date was moved earlier and the workflow rerun."""
    work = tmp_path_factory.mktemp("changed") / "repo"
    shutil.copytree(workflow_run, work, copy_function=shutil.copy2, symlinks=True)
    m = _mapping(work, "S02")
    cols = m["columns"]
    res = work / "results" / STUDY
    cohort = pd.read_parquet(res / "analyse" / "cohort.parquet")
    os_ = pd.read_parquet(res / "analyse" / "adtte.parquet").query("PARAMCD == 'OS'")
    c = cohort.merge(os_[["study_id", "AVAL", "CNSR"]], on="study_id")
    # a death between 1 and 2.5 years after R/R diagnosis, no HSCT or relapse: moving it to day
    # 300 crosses the 1-year time point and keeps every date-order check satisfied
    cand = c[
        (c["site"] == "S02")
        & c["analysed"]
        & (c["CNSR"] == 0)
        & c["AVAL"].between(400, 900)
        & c["hsct_date"].isna()
        & c["relapse_date"].isna()
    ].sort_values("study_id")
    pt = cand.iloc[0]
    new_date = (pt["rr_diagnosis_date"] + pd.Timedelta(days=300)).date()
    raw = _raw(work, "S02")
    rec = raw[raw["_source_row"] == int(pt["source_row"])].iloc[0]
    path = work / m["file"]
    data = path.read_bytes()
    bom = data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    eol = "\r\n" if "\r\n" in text else "\n"
    rows = list(csv.reader(text.splitlines(), delimiter=";"))
    header, target = rows[0], rows[int(pt["source_row"]) - 1]
    assert target[header.index(m["local_id"])] == rec[m["local_id"]]
    k = header.index(cols["death_date"]["source"])
    old_text = target[k]
    assert old_text == rec[cols["death_date"]["source"]]
    target[k] = new_date.isoformat()
    with open(path, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as fh:
        csv.writer(fh, delimiter=";", lineterminator=eol).writerows(rows)
    reread = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines(), delimiter=";"))
    assert reread == rows  # only that one cell differs from the original
    snakemake(work)
    return {
        "work": work,
        "study_id": str(pt["study_id"]),
        "local": str(rec[m["local_id"]]),
        "old_text": old_text,
        "old": pt["death_date"].date(),
        "new": new_date,
        "rr": pt["rr_diagnosis_date"].date(),
        "file": m["file"],
    }


def test_diff_reports_the_one_changed_value(workflow_run: Path, changed_run: dict[str, Any]):
    work, sid = changed_run["work"], changed_run["study_id"]
    d = diff_runs(workflow_run / "results", work / "results", STUDY)
    p = d["patients"]
    assert p["added"] == [] and p["removed"] == []
    assert [(v["study_id"], v["column"]) for v in p["values"]] == [(sid, "death_date")]
    (v,) = p["values"]
    assert (v["old"], v["new"]) == (changed_run["old"].isoformat(), changed_run["new"].isoformat())
    assert v["site"] == "S02" and v["source_changed"] is True
    (lin,) = p["lineage_only"]  # every other S02 patient: same values, new file hash
    n_s02 = int((_patients(workflow_run)["site"] == "S02").sum())
    assert lin["site"] == "S02" and len(lin["study_ids"]) == n_s02 - 1
    assert lin["old_sha256"] == sha256_file(workflow_run / changed_run["file"])
    assert lin["new_sha256"] == sha256_file(work / changed_run["file"])
    assert d["risk_groups"]["changed"] == [] and d["flow"]["changed"] == []
    # the death moved from after to before 1 year: one more event and one fewer at risk
    est = {(tuple(c["key"]), c["field"]): c for c in d["estimates"]["changed"]}
    assert est[(("os_all", "All", "1"), "events")]["delta"] == 1
    assert est[(("os_all", "All", "1"), "n_risk")]["delta"] == -1
    assert est[(("os_all", "All", "1"), "estimate")]["delta"] < 0
    assert d["estimates"]["only_a"] == [] and d["estimates"]["only_b"] == []
    # every changed estimate is of a row that counts this patient (traced in the new run)
    surv_csv = work / "results" / STUDY / "analyse" / "survival.csv"
    surv = pd.read_csv(surv_csv, dtype=str, keep_default_na=False)
    for key in {k for k, _ in est}:
        i = surv.index[
            (surv["analysis"] == key[0])
            & (surv["stratum"] == key[1])
            & (surv["time_years"] == key[2])
        ][0]
        cell = trace_cell(work, STUDY, surv_csv, int(i) + 1, "estimate")
        assert sid in {x["study_id"] for x in cell["patients"]}, key
    assert {c["key"][1] for c in d["tests"]["changed"]} <= {"OS"}
    # the same comparison from the study folders themselves
    again = diff_runs(workflow_run / "results" / STUDY, work / "results" / STUDY, STUDY)
    assert again["patients"]["values"] == p["values"]

    md = format_diff(d)
    assert f"| {sid} | S02 | death_date | {changed_run['old']} | {changed_run['new']} |" in md
    ev = est[(("os_all", "All", "1"), "events")]
    assert f"| os_all | All | 1 | events | {ev['old']} | {ev['new']} | +1 |" in md
    assert changed_run["local"] not in md
    out = work / "diff.md"
    argv = [str(workflow_run / "results"), str(work / "results"), "--study", STUDY]
    assert diff_main([*argv, "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == md
    assert cli_main(["diff", "--study", STUDY, *argv[:2], "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == md


def test_trace_in_the_changed_run_shows_the_new_cell(
    workflow_run: Path, changed_run: dict[str, Any]
) -> None:
    work, sid = changed_run["work"], changed_run["study_id"]
    d = trace_value(work, STUDY, sid, "death_date")
    new_sha = sha256_file(work / changed_run["file"])
    assert d["mapped"]["raw"] == changed_run["new"].isoformat() != changed_run["old_text"]
    assert d["harmonised"] == changed_run["new"].isoformat()
    assert d["source"]["sha256"] == new_sha == d["source"]["lineage_sha256"]
    assert new_sha != sha256_file(workflow_run / changed_run["file"])
    assert d["source"]["file_on_disk"] == "unchanged"
    (os_,) = [e for e in d["rules"]["endpoints"] if e["endpoint"] == "OS"]
    assert os_["AVAL"] == (changed_run["new"] - changed_run["rr"]).days == 300
    assert os_["CNSR"] == 0
    _no_local_id(changed_run["local"], d, format_trace(d))
    old = trace_value(workflow_run, STUDY, sid, "death_date")
    assert old["mapped"]["raw"] == changed_run["old_text"]
    # the old run's value with the new run's restricted copy: that copy is of another file
    mixed = trace_value(work, STUDY, sid, "death_date", results=workflow_run / "results")
    assert mixed["harmonised"] == changed_run["old"].isoformat()
    assert mixed["mapped"]["raw_available"] is False
    assert "another submission" in mixed["mapped"]["raw_note"]
    assert mixed["source"]["file_on_disk"].startswith("changed")
