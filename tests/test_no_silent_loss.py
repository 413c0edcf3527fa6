"""Nothing is lost silently: a submission with zero data rows is a site-level fatal finding
(quarantine: the site is set aside with its reason on every table; strict: the run stops)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from cohortflow.analyse.stage import set_aside_table
from cohortflow.core.config import REPO_ROOT, load_site
from cohortflow.core.errors import CohortflowError
from cohortflow.harmonise.stage import merge_sites
from cohortflow.ingest.stage import ingest_site
from cohortflow.render.stage import set_aside_note
from cohortflow.validate.stage import validate_site

SEV = REPO_ROOT / "data/infant_all/SEV/SEV_2011-03-02.csv"


def _validate(tmp_path, content: bytes):
    mapping = load_site("config/sites/infant_all/SEV.yaml")
    sub = tmp_path / "SEV.csv"
    sub.write_bytes(content)
    o = {k: str(tmp_path / f"{k}") for k in ("raw", "meta", "data", "f", "s", "st", "q")}
    ingest_site(str(sub), mapping, o["raw"] + ".parquet", o["meta"] + ".json")
    findings = validate_site(
        o["raw"] + ".parquet",
        o["meta"] + ".json",
        mapping,
        True,
        o["data"] + ".parquet",
        o["f"] + ".csv",
        o["s"] + ".json",
        status_out=o["st"] + ".csv",
    )
    summary = json.loads((tmp_path / "s.json").read_text())
    status = pd.read_csv(tmp_path / "st.csv")
    return findings, summary, status


@pytest.mark.parametrize("kind", ["header only", "empty file", "whitespace only"])
def test_zero_data_rows_is_a_site_level_fatal_finding(tmp_path, kind):
    header = SEV.read_bytes().splitlines(keepends=True)[0]
    content = {"header only": header, "empty file": b"", "whitespace only": b"\n \r\n"}[kind]
    findings, summary, status = _validate(tmp_path, content)
    hit = findings[findings["check"] == "site_has_data"]
    assert len(hit) == 1 and hit["severity"].iloc[0] == "fatal"
    assert summary["rows_read"] == 0 and "no data rows" in summary["site_set_aside"]
    row = status[status["check"] == "site_has_data"].iloc[0]
    assert row["status"] == "fail" and row["severity"] == "fatal"
    # strict: the run stops before the merge, naming the site and the check
    with pytest.raises(CohortflowError, match=r"SEV\s+site_has_data"):
        merge_sites([], str(tmp_path / "m.parquet"), "", policy="strict",
                    statuses=[str(tmp_path / "st.csv")])  # fmt: skip


def test_site_set_aside_is_shown_on_every_table(tmp_path):
    rec = tmp_path / "SEV.reconciliation.json"
    rec.write_text(
        json.dumps(
            {"site": "SEV", "rows_read": 0, "rows_quarantined": 0, "policy": "quarantine",
             "site_set_aside": "submission holds no data rows (header only or empty)"}
        )
    )  # fmt: skip
    other = tmp_path / "S02.reconciliation.json"
    other.write_text(
        json.dumps({"site": "S02", "rows_read": 5, "rows_quarantined": 1, "policy": "quarantine"})
    )
    table = set_aside_table([str(rec), str(other)])
    path = tmp_path / "set_aside.csv"
    table.to_csv(path, index=False)
    note = set_aside_note(str(path))
    assert "1 of 5 submitted records" in note
    assert "Whole site(s) set aside: SEV: submission holds no data rows" in note


def test_bundled_submission_has_rows(tmp_path):
    findings, summary, _ = _validate(tmp_path, SEV.read_bytes())
    assert summary["rows_read"] == 9 and "site_set_aside" not in summary
    assert not (findings["check"] == "site_has_data").any()


def test_formula_without_cached_value_is_a_finding_not_alive(tmp_path):
    """Today `=DATE(2007,12,14)` in a death date (saved without a computed value) is read
    as missing and the patient counted alive; now it is a fatal finding on that record."""
    import csv

    from openpyxl import Workbook

    rows = list(csv.reader(SEV.read_text(encoding="utf-8").splitlines()))
    wb = Workbook()
    ws = wb.active
    for r in rows:
        ws.append(r)
    col = rows[0].index("death_date") + 1
    ws.cell(2, col, "=DATE(2007,12,14)")  # patient 1: no death date in the bundled data
    sub = tmp_path / "SEV.xlsx"
    wb.save(sub)
    mapping = load_site("config/sites/infant_all/SEV.yaml")
    mapping["reader"] = {"format": "xlsx"}
    raw, meta = str(tmp_path / "raw.parquet"), str(tmp_path / "meta.json")
    ingest_site(str(sub), mapping, raw, meta)
    assert json.loads((tmp_path / "meta.json").read_text())["formula_cells"] == [
        {"row": 2, "column": "death_date", "cached": False}
    ]
    findings = validate_site(
        raw, meta, mapping, True, str(tmp_path / "d.parquet"), str(tmp_path / "f.csv"),
        str(tmp_path / "s.json"),
    )  # fmt: skip
    hit = findings[findings["check"] == "formula_without_value"]
    assert len(hit) == 1
    assert (hit["source_row"].iloc[0], hit["source_column"].iloc[0]) == (2, "death_date")
    assert hit["severity"].iloc[0] == "fatal" and isinstance(hit["study_id"].iloc[0], str)


def test_resubmission_dropping_patients_and_values_is_reported(tmp_path):
    """Today a resubmission without 3 patients loses them silently; now each is a warning
    with its study ID (the message says how many), local IDs only in the restricted query
    listing, and a value given before and empty now (a death date) is a warning."""
    import csv

    rows = list(csv.reader(SEV.read_text(encoding="utf-8").splitlines()))
    head, body = rows[0], rows[1:]
    death = head.index("death_date")
    with_death = next(i for i, r in enumerate(body) if r[death])
    kept = [r for i, r in enumerate(body) if i == with_death or i >= 3][:6]
    dropped_ids = [r[0] for r in body if r not in kept]
    assert len(dropped_ids) == 3
    kept = [list(r) for r in kept]
    kept[0][death] = ""  # the death date of a patient still sent is emptied
    new = tmp_path / "SEV_new.csv"
    with new.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([head, *kept])
    mapping = load_site("config/sites/infant_all/SEV.yaml")
    raw, meta = str(tmp_path / "raw.parquet"), str(tmp_path / "meta.json")
    ingest_site(str(new), mapping, raw, meta)
    findings = validate_site(
        raw, meta, mapping, True, str(tmp_path / "d.parquet"), str(tmp_path / "f.csv"),
        str(tmp_path / "s.json"), queries_stem=str(tmp_path / "q"), previous=str(SEV),
    )  # fmt: skip
    miss = findings[findings["check"] == "resubmission_patient_missing"]
    assert len(miss) == 3 and miss["severity"].eq("warning").all()
    assert miss["study_id"].str.fullmatch(r"[0-9a-f]{16}").all()
    assert miss["message"].str.contains("3 patient").all()
    gone = findings[findings["check"] == "resubmission_value_removed"]
    assert list(gone["source_column"]) == ["death_date"]
    # shareable findings carry study IDs; the local IDs are only in the restricted listing
    shared = pd.read_csv(tmp_path / "f.csv", dtype=str, keep_default_na=False)
    listing = pd.read_csv(tmp_path / "q.csv", dtype=str, keep_default_na=False)
    lq = listing[listing["check"] == "resubmission_patient_missing"]
    assert sorted(lq["local_patient_id"]) == sorted(dropped_ids)
    assert "local_patient_id" not in shared.columns
    assert set(shared.loc[shared["check"] == "resubmission_patient_missing", "study_id"]) == set(
        miss["study_id"]
    )
