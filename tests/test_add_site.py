"""Adding a site to a bundled study (as the README says) leaves the test suite green: the
suite's tests that read the configuration pass on a copy with an added site, and the workflow
tests run the demo as shipped."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from .conftest import COPY_IGNORE, REPO, bundled_demo

#: The suite's tests that read config/ (the workflow tests run on `copy_repo`, reset below).
CONFIG_READERS = [
    "tests/test_config.py",
    "tests/test_rr_all_generator.py",
    "tests/test_onboarding.py",
    "tests/test_validation.py",
    "tests/test_mapcheck.py::test_rr_all_needs_are_computed_from_its_definition",
    "tests/test_mapcheck.py::test_cli_reports_and_help_walks_the_example",
]


def add_site(work: Path) -> None:
    """What the README's "Adding a site" does: a file, a mapping, a line in the study."""
    src = yaml.safe_load((work / "config/sites/rr_all/S02.yaml").read_text("utf-8"))
    new = work / "data/rr_all/S10/S10_2017-05-02.csv"
    new.parent.mkdir(parents=True)
    subs = src.pop("submissions", None)
    source = max(subs, key=lambda s: s["date"])["file"] if subs else src["file"]
    shutil.copy(work / source, new)
    src.update(site="S10", file=str(new.relative_to(work)))
    (work / "config/sites/rr_all/S10.yaml").write_text(
        yaml.safe_dump(src, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    study = work / "config/studies/rr_all.yaml"
    text = study.read_text("utf-8")
    line = "  S09: config/sites/rr_all/S09.yaml\n"
    assert line in text
    study.write_text(text.replace(line, line + "  S10: config/sites/rr_all/S10.yaml\n"), "utf-8")


def test_a_site_added_to_a_copy_keeps_the_suite_green(tmp_path):
    work = Path(shutil.copytree(REPO, tmp_path / "repo", ignore=COPY_IGNORE))
    add_site(work)
    env = dict(os.environ, PYTHONPATH=str(work))
    env.pop("COHORTFLOW_KEY", None)
    # the study loads with the new site, and its mapping passes check-mapping
    check = subprocess.run(
        [sys.executable, "-m", "cohortflow", "check-mapping", "--study", "rr_all", "--site", "S10"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "consistent with its file" in check.stdout
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *CONFIG_READERS],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    )
    assert tests.returncode == 0, tests.stdout[-4000:]
    assert " passed" in tests.stdout and "failed" not in tests.stdout
    # the workflow tests' copy runs the demo as shipped: the generator's sites, not S10
    from cohortflow.demo import rr_all

    shipped = bundled_demo(Path(shutil.copytree(work, tmp_path / "wf", ignore=COPY_IGNORE)))
    study = yaml.safe_load((shipped / "config/studies/rr_all.yaml").read_text("utf-8"))
    assert list(study["sites"]) == list(rr_all.SITES)
