"""The check catalogue: one planted error per check gives exactly the expected findings."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
import yaml

from cohortflow.core.config import resolve_submission
from cohortflow.core.errors import CohortflowError
from cohortflow.harmonise.stage import harmonise_site, merge_sites
from cohortflow.validate.checks import catalogue, cross_site_duplicates
from cohortflow.validate.presubmit import validate_file
from cohortflow.validate.stage import find_cross_site_duplicates, write_query_listing

HEADER = "id,sex,birth,dx,rr,relapse,hsct,death,lfu,wbc,wbc_unit,blasts,height,weight,prior,resp"
BASE = dict(
    id="P01",
    sex="M",
    birth="2000-01-01",
    dx="2005-01-01",
    rr="2008-01-01",
    relapse="",
    hsct="2008-06-01",
    death="",
    lfu="2010-01-01",
    wbc="10",
    wbc_unit="x10^9/L",
    blasts="50",
    height="120",
    weight="25",
    prior="2",
    resp="CR",
)
# local ID -> changes from BASE; each plants the error(s) named in EXPECTED
PLANTED = {
    "P01": {},
    "P02": {"blasts": "abc"},
    "P03": {"resp": "CRi"},
    "P04": {"wbc_unit": "cells"},
    "": {},
    "P05": {},
    "P05 ": {},  # same local ID again (whitespace is not a different ID)
    "P06": {"sex": "U"},
    "P07": {"lfu": "2009-05"},
    "P08": {"sex": ""},
    "P09": {"birth": ""},
    "P10": {"dx": ""},
    "P11": {"lfu": ""},
    "P12": {"birth": "1980-01-01"},
    "P13": {"wbc": "2500"},
    "P14": {"wbc": "800"},
    "P15": {"blasts": "150"},
    "P16": {"height": "300"},
    "P17": {"weight": "0.5"},
    "P18": {"prior": "25"},
    "P19": {"birth": "2005-06-01"},
    "P20": {"rr": "2004-01-01"},
    "P21": {"relapse": "2004-06-01"},
    "P22": {
        "rr": "",
        "hsct": "",
        "relapse": "2008-01-01",
        "death": "2007-06-01",
        "lfu": "2008-02-01",
    },
    "P23": {"rr": "", "hsct": "", "death": "2004-01-01", "lfu": "2006-01-01"},
    "P24": {"hsct": "", "death": "2007-06-01", "lfu": "2008-02-01"},
    "P25": {"rr": "", "hsct": "2004-06-01"},
    "P26": {"death": "2008-03-01", "lfu": "2008-07-01"},
    "P27": {"lfu": "2007-01-01"},
    "P28": {"lfu": "2017-06-01"},
    "P29": {"wbc": "01012345678"},  # a phone number typed into the WBC field
    "P30": {"weight": "12,345"},  # 12345 kg or 12.345 kg: ambiguous, never a silent 12345
    "P31": {"height": "120,5"},  # a decimal comma (no thousands group has one digit)
    "P32": {"wbc": "10,500", "wbc_unit": "/uL"},  # thousands in a count per uL: no finding
}
EXPECTED = {
    ("P02", "type_conformance"),
    ("P03", "code_in_list"),
    ("P04", "unit_known"),
    ("", "local_id_present"),
    ("P05", "local_id_unique"),
    ("P06", "schema_conformance"),
    ("P07", "date_imputed"),
    ("P08", "sex_present"),
    ("P09", "birth_date_present"),
    ("P10", "diagnosis_date_present"),
    ("P11", "last_followup_present"),
    ("P12", "age_at_diagnosis_range"),
    ("P13", "wbc_range"),
    ("P13", "wbc_plausible"),
    ("P14", "wbc_plausible"),
    ("P15", "blasts_range"),
    ("P16", "height_range"),
    ("P17", "weight_range"),
    ("P18", "prior_regimens_range"),
    ("P19", "birth_before_diagnosis"),
    ("P19", "age_at_diagnosis_range"),
    ("P20", "diagnosis_before_rr"),
    ("P21", "diagnosis_before_relapse"),
    ("P22", "relapse_before_death"),
    ("P23", "diagnosis_before_death"),
    ("P24", "rr_before_death"),
    ("P25", "hsct_after_diagnosis"),
    ("P26", "hsct_before_death"),
    ("P27", "followup_not_before_events"),
    ("P28", "nothing_after_cutoff"),
    ("P29", "identifier_removed"),
    ("P30", "number_unambiguous"),
    ("P31", "decimal_comma"),
}
MAPPING = {
    "site": "Q01",
    "local_id": "id",
    "drop": [],
    "reader": {},
    "columns": {
        "sex": {"source": "sex", "codes": {"M": "M", "F": "F", "U": "X"}},
        "birth_date": {"source": "birth"},
        "diagnosis_date": {"source": "dx"},
        "rr_diagnosis_date": {"source": "rr"},
        "relapse_date": {"source": "relapse"},
        "hsct_date": {"source": "hsct"},
        "death_date": {"source": "death"},
        "last_followup_date": {"source": "lfu", "partial_dates": "mid"},
        "wbc": {"source": "wbc", "unit_source": "wbc_unit"},
        "marrow_blasts_pct": {"source": "blasts"},
        "height_cm": {"source": "height"},
        "weight_kg": {"source": "weight"},
        "prior_regimens": {"source": "prior"},
        "induction_response": {"source": "resp", "codes": {"CR": "CR", "PR": "PR"}},
    },
}


def _run(tmp_path, rows=PLANTED):
    lines = [HEADER]
    for local, change in rows.items():
        rec = {**BASE, **change, "id": local}
        lines.append(
            ",".join(f'"{rec[c]}"' if "," in rec[c] else rec[c] for c in HEADER.split(","))
        )
    f = tmp_path / "Q01_2020-01-01.csv"
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    findings = validate_file(
        f,
        MAPPING,
        tmp_path,
        demo_key=True,
        data_label="TEST",
        cutoff="2016-12-31",
    )
    return findings


def test_every_check_exactly_the_expected_findings(tmp_path):
    _run(tmp_path)
    q = pd.read_csv(tmp_path / "queries.csv", keep_default_na=False, dtype=str)
    got = {(r.local_patient_id, r.check) for r in q.itertuples()}
    assert got == EXPECTED
    assert len(q) == len(EXPECTED)  # no finding twice
    status = pd.read_csv(tmp_path / "status.csv").set_index("check")
    assert status.loc["cross_site_duplicate", "status"] == "study level"
    # the study-wide check: P19 (set aside for its dates) was also sent by another site with
    # the same sex, birth and diagnosis dates; the other planted records share the base dates
    harmonise_site(
        str(tmp_path / "mapped.parquet"),
        str(tmp_path / "h.parquet"),
        findings=str(tmp_path / "findings.csv"),
        policy="quarantine",
        quarantine_out=str(tmp_path / "q.parquet"),
        reconciliation_out=str(tmp_path / "rec.json"),
        validate_summary=str(tmp_path / "summary.json"),
    )
    aside = pd.read_parquet(tmp_path / "q.parquet")
    p19 = aside[aside["birth_date"] == pd.Timestamp("2005-06-01")]
    assert len(p19) == 1
    p19.assign(site="Q02", study_id="other-site-id", source_row=40).to_parquet(
        tmp_path / "other.parquet"
    )
    h_only = pd.read_parquet(tmp_path / "h.parquet")
    assert h_only["birth_date"].nunique() == 1  # so no harmonised record matches P19
    find_cross_site_duplicates(
        [str(tmp_path / "h.parquet"), str(tmp_path / "other.parquet")],
        [str(tmp_path / "q.parquet")],
        str(tmp_path / "dups.csv"),
    )
    write_query_listing(
        str(tmp_path / "queries.csv"),
        str(tmp_path / "dups.csv"),
        str(tmp_path / "raw.parquet"),
        MAPPING,
        str(tmp_path / "final.csv"),
        str(tmp_path / "final.xlsx"),
    )
    final = pd.read_csv(tmp_path / "final.csv", keep_default_na=False, dtype=str)
    got = {(r.local_patient_id, r.check) for r in final.itertuples()}
    assert got == EXPECTED | {("P19", "cross_site_duplicate")} and len(final) == len(got)
    assert "Q02" not in final.to_csv() and "other-site-id" not in final.to_csv()
    covered = {c for _, c in got}
    # every check of the catalogue is exercised; these two need a submission of their own
    # (no data rows; an XLSX formula) and are tested in tests/test_no_silent_loss.py
    elsewhere = {
        "site_has_data",
        "formula_without_value",
        "resubmission_patient_missing",
        "resubmission_value_removed",
    }
    assert covered | elsewhere == set(catalogue()) and not covered & elsewhere
    rows = {(r.local_patient_id, r.check): r for r in q.itertuples()}
    r = rows[("P13", "wbc_range")]
    assert (r.variable, r.value, r.column, r.severity) == ("wbc", "wbc=2500.0", "wbc", "fatal")
    r = rows[("P02", "type_conformance")]
    assert (r.value, r.column, r.row) == ("abc", "blasts", "3")
    r = rows[("P19", "birth_before_diagnosis")]
    assert r.value == "birth_date=2005-06-01; diagnosis_date=2005-01-01"
    assert r.column == "birth; dx"
    assert rows[("P07", "date_imputed")].severity == "warning"
    status = pd.read_csv(tmp_path / "status.csv").set_index("check")
    assert status.loc["wbc_plausible", "failed"] == 2
    assert status.loc["date_imputed", "status"] == "pass"  # threshold 1: never fails the site
    assert status.loc["blasts_range", "status"] == "fail"


def test_quarantine_reconciles_and_strict_stops(tmp_path):
    _run(tmp_path)
    rec_path = tmp_path / "rec.json"
    harmonise_site(
        str(tmp_path / "mapped.parquet"),
        str(tmp_path / "h.parquet"),
        findings=str(tmp_path / "findings.csv"),
        policy="quarantine",
        quarantine_out=str(tmp_path / "q.parquet"),
        reconciliation_out=str(rec_path),
        validate_summary=str(tmp_path / "summary.json"),
    )
    rec = json.loads(rec_path.read_text())
    assert rec["rows_read"] == len(PLANTED) == 34
    assert rec["rows_read"] == rec["rows_harmonised"] + rec["rows_quarantined"]
    fatal_ids = {i for i, c in EXPECTED if catalogue()[c]["severity"] == "fatal" and i not in ("",)}
    # P05 sent twice: both records share a study ID and are set aside together
    assert rec["rows_quarantined"] == len(fatal_ids) + 1 + 1
    kept = pd.read_parquet(tmp_path / "h.parquet")
    # P01, P07, P14, P28, P11, P29 (its phone-number WBC removed, a warning), P31 (a decimal
    # comma, a warning) and P32 (10,500 /uL) remain; P30 (weight 12,345 kg) is set aside
    assert len(kept) == rec["rows_harmonised"] == 8
    assert sorted(kept["height_cm"].unique()) == [120.0, 120.5]
    assert kept["wbc"].round(6).isin([10.5]).sum() == 1  # "10,500" /uL is 10.5 x10^9/L
    assert kept["wbc_raw"].isin(["[removed: phone number]"]).sum() == 1
    q = pd.read_parquet(tmp_path / "q.parquet")
    assert "wbc_range" in set(";".join(q["quarantine_reasons"]).replace("; ", ";").split(";"))
    with pytest.raises(CohortflowError) as exc:
        merge_sites(
            [str(tmp_path / "h.parquet")],
            str(tmp_path / "m.parquet"),
            "TEST",
            policy="strict",
            statuses=[str(tmp_path / "status.csv")],
        )
    msg = str(exc.value)
    assert "strict policy" in msg and "Q01" in msg and "blasts_range" in msg
    assert "1 of 34 records" in msg
    assert not (tmp_path / "m.parquet").exists()


def test_cross_site_duplicates_flagged_never_merged():
    df = pd.DataFrame(
        {
            "site": ["A", "B", "B", "C"],
            "study_id": ["a1", "b1", "b2", "c1"],
            "sex": ["F", "F", "F", "F"],
            "birth_date": pd.to_datetime(["2000-01-01", "2000-01-01", "2000-01-01", "2001-01-01"]),
            "diagnosis_date": pd.to_datetime(
                ["2005-01-01", "2005-01-01", "2005-01-01", "2005-01-01"]
            ),
            "source_row": [2, 5, 6, 2],
        }
    )
    d = cross_site_duplicates(df)
    assert list(d["study_id"]) == ["a1", "b1", "b2"]
    assert set(d["duplicate_group"]) == {1}
    same_site = cross_site_duplicates(df[df["site"] != "A"])
    assert same_site.empty  # two records of one site are not a cross-site duplicate


def test_presubmission_check_gives_the_pipeline_findings(tmp_path, capsys):
    from cohortflow.__main__ import main

    code = main(["check", "--study", "rr_all", "--site", "S07", "--out", str(tmp_path)])
    assert code == 2  # fatal findings present
    out = capsys.readouterr().out
    assert "2 fatal finding(s), 0 warning(s)" in out
    assert "code_in_list" in out and "rr_before_death" in out
    q = pd.read_csv(tmp_path / "queries.csv")
    assert sorted(q["check"]) == ["code_in_list", "rr_before_death"]
    assert set(q["local_patient_id"]) == {"HG-0371"} and set(q["row"]) == {8}
    assert (tmp_path / "queries.xlsx").exists()
    assert main(["check", "--study", "rr_all", "--site", "S01", "--out", str(tmp_path / "b")]) == 0


def test_presubmission_check_needs_no_secret_key(tmp_path, monkeypatch, capsys):
    """A site checks a file of its own (``file=``) for a study with a real key, without the
    coordinating centre's key: same findings as with the demo key."""
    from cohortflow.core.dictionary import REPO_ROOT
    from cohortflow.validate.presubmit import check_file

    monkeypatch.delenv("COHORTFLOW_KEY", raising=False)
    monkeypatch.delenv("COHORTFLOW_KEY_FILE", raising=False)
    root = tmp_path / "repo"
    shutil.copytree(REPO_ROOT / "config", root / "config")
    study_yaml = root / "config/studies/rr_all.yaml"
    text = study_yaml.read_text(encoding="utf-8")
    assert "pseudonymisation: {demo_key: true}" in text
    study_yaml.write_text(
        text.replace("pseudonymisation: {demo_key: true}", "pseudonymisation: {demo_key: false}"),
        encoding="utf-8",
    )
    mine = tmp_path / "my_export.xlsx"
    mapping = yaml.safe_load((REPO_ROOT / "config/sites/rr_all/S07.yaml").read_text("utf-8"))
    resolve_submission(mapping)
    shutil.copy(REPO_ROOT / mapping["file"], mine)
    assert check_file("rr_all", "S07", str(tmp_path / "out"), file=str(mine), root=root) == 2
    out = capsys.readouterr().out
    assert "my_export.xlsx: 2 fatal finding(s), 0 warning(s)" in out
    q = pd.read_csv(tmp_path / "out" / "queries.csv")
    assert sorted(q["check"]) == ["code_in_list", "rr_before_death"]
    assert set(q["local_patient_id"]) == {"HG-0371"}
