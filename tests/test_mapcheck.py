"""check-mapping: the centre's mapping mistakes are reported by file and line, stop the run
before the site's validation, and never reach the site's query listing."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from cohortflow.__main__ import main as cli
from cohortflow.onboard.check import check_mapping, study_for_check
from cohortflow.onboard.needs import required_variables, study_needs

from .conftest import copy_repo, snakemake

HEADER = [
    "Patient ID",
    "Sex",
    "Date of birth",
    "Date of initial diagnosis",
    "WBC (/uL)",
    "Immunophenotype",
    "Karyotype",
    "Date of R/R diagnosis",
    "Disease status",
    "No. of prior regimens",
    "BM blasts (%)",
    "Clofarabine",
    "Height (cm)",
    "Weight (kg)",
    "Treatment data",
    "Cycle 1 agents",
    "Best response",
    "HSCT date",
    "Relapse date",
    "Date of death",
    "Last follow-up",
    "Remarks",
]
ROWS = [
    ["N1", "M", "2000-03-01", "2008-05-02", "12,300", "B", "46,XY[20]", "2012-01-10", "Relapsed",
     "2", "60", "No", "150", "40", "Yes", "VCR,Ara-C", "CR", "2012-06-01", "", "", "2016-10-01",
     ""],
    ["N2", "F", "1998-07-15", "2006-02-20", "56,000", "T", "47,XX,+21[15]", "2011-03-03",
     "Refractory", "3", "85", "No", "160", "52", "Yes", "IDA", "Refractory", "", "", "2011-09-09",
     "2011-09-09", "moved"],
    ["N3", "M", "2001-11-30", "2009-09-09", "8,100", "B", "", "2013-02-02", "Relapsed", "2", "45",
     "No", "140", "35", "Yes", "VCR", "PR", "", "", "2013-12-12", "2013-12-12", ""],
    ["N4", "F", "1999-01-01", "2007-07-07", "3,300", "Mixed", "46,XX,t(9;22)(q34;q11)[20]",
     "2012-08-08", "Relapsed", "4", "70", "No", "155", "48", "No", "", "", "", "", "", "", ""],
]  # fmt: skip
GOOD = """\
site: N10
file: {file}
reader: {{format: csv}}
local_id: "Patient ID"
columns:
  sex: {{source: "Sex", codes: {{"M": "M", "F": "F"}}}}
  birth_date: {{source: "Date of birth"}}
  diagnosis_date: {{source: "Date of initial diagnosis"}}
  wbc: {{source: "WBC (/uL)", unit: "/uL"}}
  immunophenotype: {{source: "Immunophenotype", codes: {{"B": "B", "T": "T", "Mixed": "mixed"}}}}
  karyotype: {{source: "Karyotype"}}
  rr_diagnosis_date: {{source: "Date of R/R diagnosis"}}
  disease_status: {{source: "Disease status", codes: {{"Relapsed": "relapsed", "Refractory": "refractory"}}}}
  prior_regimens: {{source: "No. of prior regimens"}}
  marrow_blasts_pct: {{source: "BM blasts (%)"}}
  clofarabine_exposed: {{source: "Clofarabine", codes: {{"Yes": true, "No": false}}}}
  height_cm: {{source: "Height (cm)"}}
  weight_kg: {{source: "Weight (kg)"}}
  treatment_data_available: {{source: "Treatment data", codes: {{"Yes": true, "No": false}}}}
  first_cycle_agents: {{source: "Cycle 1 agents", separator: ",", codes: {{"VCR": "vincristine", "Ara-C": "cytarabine", "IDA": "idarubicin"}}}}
  induction_response: {{source: "Best response", codes: {{"CR": "CR", "PR": "PR", "Refractory": "refractory"}}}}
  hsct_date: {{source: "HSCT date"}}
  relapse_date: {{source: "Relapse date"}}
  death_date: {{source: "Date of death"}}
  last_followup_date: {{source: "Last follow-up"}}
"""  # noqa: E501


def _site(root: Path, rows: list[list[str]] = ROWS) -> Path:
    """The new site's CSV under ``root`` (written here, not a bundled file)."""
    path = root / "data" / "N10" / "N10_2026-11-01.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=HEADER).to_csv(path, index=False)
    return path


#: One planted configuration error per check: (check, text of the line it is on, edit).
PLANTED = [
    ("todo_left", "  wbc:", ('unit: "/uL"', 'unit: "TODO: /uL | x10^3/uL"')),
    ("unit_known", "  platelets:", None),
    ("code_in_dictionary", "  sex:", ('"F": "F"', '"F": "Female"')),
    ("source_exists", "  height_cm:", ('"Height (cm)"', '"Height"')),
    ("required_mapped", "columns:", ('  weight_kg: {source: "Weight (kg)"}\n', "")),
    ("values_covered", "  induction_response:", ('"PR": "PR", ', "")),
    ("date_parses", "  hsct_date:", ('"HSCT date"', '"Remarks"')),
]


def _broken(good: str) -> str:
    text = good
    for _check, _line, edit in PLANTED:
        if edit:
            assert edit[0] in text, edit
            text = text.replace(edit[0], edit[1], 1)
    # a unit typo on a second cell count (the 'cells/mm3')
    return text + '  platelets: {source: "WBC (/uL)", unit: "cells/mm3"}\n'


def _study_copy(work: Path, mapping: Path) -> None:
    """A study 'newsite' = rr_all's definition with the one new site."""
    study = yaml.safe_load((work / "config/studies/rr_all.yaml").read_text(encoding="utf-8"))
    study["id"] = "newsite"
    study["sites"] = {"N10": str(mapping.relative_to(work))}
    (work / "config/studies/newsite.yaml").write_text(
        yaml.safe_dump(study, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    (work / "config/config.yaml").write_text("studies:\n  - newsite\n", encoding="utf-8")


def test_rr_all_needs_are_computed_from_its_definition():
    study = study_for_check("rr_all")
    needs = {n.label: n for n in study_needs(study)}
    required = required_variables(study)
    assert len(required) == 19
    assert "cytogenetics_group | karyotype" in required  # table 1, derivable from a karyotype
    assert {"birth_date", "diagnosis_date"} <= set(required)  # eligibility age, derived
    assert "induction_response" in required  # best_response of the responses table
    assert needs["wbc"].level == "recommended"  # only the informational NCI/Rome scheme
    assert needs["relapse_date"].level == "required"  # endpoint REL_HSCT: CIF after HSCT
    study["cif_analyses"] = []  # without the CIF no analysis uses REL_HSCT
    assert {n.label: n for n in study_needs(study)}["relapse_date"].level == "recommended"
    # a study that drops table 1 no longer needs height
    study["tables"].pop("table1")
    assert "height_cm" not in required_variables(study)


def test_every_planted_error_is_reported_with_file_and_line(tmp_path):
    _site(tmp_path)
    good = GOOD.format(file="data/N10/N10_2026-11-01.csv")
    (tmp_path / "good.yaml").write_text(good, encoding="utf-8")
    study = study_for_check("rr_all")
    ok = check_mapping("good.yaml", study=study, root=tmp_path)
    assert [p for p in ok if p.severity == "error"] == []
    text = _broken(good)
    (tmp_path / "bad.yaml").write_text(text, encoding="utf-8")
    problems = check_mapping("bad.yaml", study=study, root=tmp_path)
    errors = [p for p in problems if p.severity == "error"]
    lines = text.splitlines()
    for check, line_text, _edit in PLANTED:
        want = next(i for i, t in enumerate(lines, 1) if t.startswith(line_text))
        hits = [p for p in errors if p.check == check]
        assert hits, f"{check} not reported"
        assert want in {p.line for p in hits}, (check, want, [p.render() for p in hits])
        assert all(p.file == "bad.yaml" for p in hits)
    assert next(p for p in errors if p.check == "todo_left").variable == "wbc"
    units = [p for p in errors if p.check == "unit_known"]
    assert any("'cells/mm3'" in p.message for p in units)
    covered = next(p for p in errors if p.check == "values_covered")
    assert "'PR' x1" in covered.message  # listed with its count
    weight = next(p for p in errors if p.check == "required_mapped")
    assert weight.variable == "weight_kg" and "table table1" in weight.message


def test_values_of_an_identifier_column_are_never_listed(tmp_path):
    rows = [r[:-1] + [f"010-1234-{5670 + i}"] for i, r in enumerate(ROWS)]
    _site(tmp_path, rows)
    text = GOOD.format(file="data/N10/N10_2026-11-01.csv").replace(
        'sex: {source: "Sex"', 'sex: {source: "Remarks"'
    )
    (tmp_path / "m.yaml").write_text(text, encoding="utf-8")
    problems = check_mapping("m.yaml", root=tmp_path)
    msg = " ".join(p.render() for p in problems)
    assert "values_covered" in msg and "not shown" in msg
    assert "010-" not in msg and "1234" not in msg


def test_an_identifier_in_one_coded_cell_is_the_sites_error_not_a_missing_code(tmp_path):
    rows = [list(r) for r in ROWS]
    rows[1][16] = "010-2345-6789"  # a phone number typed into the best-response cell
    rows[2][1] = "900101-1234567"  # an RRN typed into the sex cell
    _site(tmp_path, rows)
    (tmp_path / "m.yaml").write_text(
        GOOD.format(file="data/N10/N10_2026-11-01.csv"), encoding="utf-8"
    )
    problems = check_mapping("m.yaml", root=tmp_path)
    # validation removes and queries these cells; the centre's mapping is not at fault
    assert not [p for p in problems if p.check == "values_covered"]
    # a genuinely missing code in the same column still is the centre's
    rows[3][16] = "MRD+"
    _site(tmp_path, rows)
    problems = check_mapping("m.yaml", root=tmp_path)
    covered = [p for p in problems if p.check == "values_covered"]
    assert len(covered) == 1 and covered[0].message.startswith("1 cells of 'Best response'")
    assert "010-" not in covered[0].message and "2345" not in covered[0].message


def test_cli_reports_and_help_walks_the_example(tmp_path, capsys):
    with pytest.raises(SystemExit):
        cli(["check-mapping", "--help"])
    out = capsys.readouterr().out
    assert "onboard" in out and "S10" in out and "config/sites/rr_all/S10.yaml" in out
    assert cli(["check-mapping", "--study", "rr_all", "--site", "S01"]) == 0
    assert "consistent with its file" in capsys.readouterr().out


def test_mapping_errors_stop_the_run_and_never_reach_the_query_listing(tmp_path):
    work = copy_repo(tmp_path / "repo")
    _site(work)
    mapping = work / "config/sites/newsite/N10.yaml"
    mapping.parent.mkdir(parents=True)
    good = GOOD.format(file="data/N10/N10_2026-11-01.csv")
    mapping.write_text(_broken(good), encoding="utf-8")
    _study_copy(work, mapping)
    proc = snakemake(work, check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    for check, *_ in PLANTED:
        assert check in out
    assert re.search(r"config/sites/newsite/N10\.yaml:\d+: \[unit_known\]", out)
    assert "nothing was sent to the site's query listing" in out
    assert not (work / "restricted/newsite/queries").exists()
    assert not (work / "results/newsite/validate").exists()
    assert not (work / "restricted/newsite/raw").exists()  # stopped before any data job
    # the corrected mapping passes; a real data problem (a date typo) is what the site gets
    rows = [list(r) for r in ROWS]
    rows[1][HEADER.index("Date of death")] = "2011-13-09"
    _site(work, rows)
    mapping.write_text(good, encoding="utf-8")
    snakemake(work, "restricted/newsite/queries/checks/N10.csv")
    queries = pd.read_csv(work / "restricted/newsite/queries/checks/N10.csv")
    assert "type_conformance" in set(queries["check"])
    planted = {c for c, *_ in PLANTED}
    assert not planted & set(queries["check"])


def test_readme_and_both_helps_walk_the_same_example(capsys):
    """`onboard --help`, `check-mapping --help` and README "Adding a site" use one example."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text("utf-8")
    section = readme[readme.index("## Adding a site") : readme.index("## Adding a study")]

    def commands(text: str) -> list[str]:
        joined = re.sub(r"\\\s*\n\s*", " ", text)
        return [
            " ".join(m.split())
            for m in re.findall(r"python -m cohortflow (?:onboard|check-mapping) [^\n#]+", joined)
        ]

    in_readme = commands(section)
    assert len(in_readme) == 2
    for sub in ("onboard", "check-mapping"):
        with pytest.raises(SystemExit):
            cli([sub, "--help"])
        out = capsys.readouterr().out
        helps = commands(out[out.index("example") :])
        assert helps == in_readme, sub
