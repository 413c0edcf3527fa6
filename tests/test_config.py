"""Config files are checked against their JSON schemas, every violation reported."""

import copy

import pytest

from cohortflow.core.config import REPO_ROOT, load_yaml, validate
from cohortflow.core.errors import CohortflowError


def _study():
    return load_yaml(REPO_ROOT / "config/studies/rr_all.yaml")


def test_bundled_study_is_valid():
    assert validate(_study(), "study", "rr_all.yaml")["cutoff_date"] == "2016-12-31"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(cutoff_date="2016-13-45"), "is not a 'date'"),
        (lambda d: d.pop("endpoints"), "'endpoints' is a required property"),
        (lambda d: d["validation"].update(policy="lenient"), "lenient"),
    ],
)
def test_invalid_study_is_refused_with_its_location(change, message):
    d = copy.deepcopy(_study())
    change(d)
    with pytest.raises(CohortflowError, match="does not match schemas/study.schema.json") as exc:
        validate(d, "study", "rr_all.yaml")
    assert message in str(exc.value)


def test_newest_submission_is_used_and_earlier_ones_kept():
    from cohortflow.core.config import resolve_submission

    m = {
        "submissions": [
            {"file": "b.csv", "date": "2017-03-20"},
            {"file": "a.csv", "date": "2017-02-14"},
        ]
    }
    resolve_submission(m)
    assert (m["file"], m["submission_date"]) == ("b.csv", "2017-03-20")
    assert [s["file"] for s in m["superseded"]] == ["a.csv"]
    pinned = {**copy.deepcopy(m), "use": "2017-02-14"}
    resolve_submission(pinned)
    assert pinned["file"] == "a.csv" and [s["file"] for s in pinned["superseded"]] == ["b.csv"]
    with pytest.raises(CohortflowError, match="names no submission"):
        resolve_submission({**copy.deepcopy(m), "use": "2017-01-01"})
    twice = {"submissions": [{"file": "x", "date": "2017-01-01"}] * 2}
    with pytest.raises(CohortflowError, match="share a date"):
        resolve_submission(twice)


def test_bundled_resubmission_listed_in_the_manifest(workflow_run):
    import json

    man = json.loads((workflow_run / "results/rr_all/manifest.json").read_text("utf-8"))
    used = {e["path"] for e in man["inputs"]}
    assert "data/rr_all/S01/S01_2017-03-20.csv" in used
    assert "data/rr_all/S01/S01_2017-02-14.csv" not in used
    old = [e for e in man["superseded_submissions"] if e["site"] == "S01"]
    assert [e["path"] for e in old] == ["data/rr_all/S01/S01_2017-02-14.csv"]
    assert all(len(e["sha256"]) == 64 and e["used"] is False for e in old)


def _study_copy(tmp_path, file_value):
    """A copy of config/ whose infant_all site file is ``file_value``."""
    import shutil

    from cohortflow.core.config import load_study

    root = tmp_path / "repo"
    shutil.copytree(REPO_ROOT / "config", root / "config")
    shutil.copytree(REPO_ROOT / "data/infant_all", root / "data/infant_all")
    site = root / "config/sites/infant_all/SEV.yaml"
    text = site.read_text(encoding="utf-8")
    site.write_text(
        text.replace("file: data/infant_all/SEV/SEV_2011-03-02.csv", f"file: {file_value}"),
        encoding="utf-8",
    )
    return root, lambda: load_study("infant_all", root)


@pytest.mark.parametrize("target", ["../../../../etc/passwd", "/etc/passwd", "config/config.yaml"])
def test_submission_outside_the_data_folder_is_refused(tmp_path, target):
    _, load = _study_copy(tmp_path, target)
    with pytest.raises(CohortflowError, match=r"resolves outside the project's data folder"):
        load()


def test_symlink_out_of_the_data_folder_is_refused_unless_allowed(tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "SEV.csv").write_bytes(
        (REPO_ROOT / "data/infant_all/SEV/SEV_2011-03-02.csv").read_bytes()
    )
    root, load = _study_copy(tmp_path, "data/infant_all/SEV/link.csv")
    (root / "data/infant_all/SEV/link.csv").symlink_to(outside / "SEV.csv")
    with pytest.raises(CohortflowError, match=r"link\.csv.*resolves outside"):
        load()
    study = root / "config/studies/infant_all.yaml"
    study.write_text(
        study.read_text(encoding="utf-8") + f"external_data_root: {outside}\n", encoding="utf-8"
    )
    assert load()["site_mappings"]["SEV"]["file"] == "data/infant_all/SEV/link.csv"
