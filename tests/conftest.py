"""Shared fixtures: a throw-away copy of the repository with both studies run once."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.scratch import SKIPPED

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
#: never copied into a test's repository copy: the benchmarks' list (one place)
COPY_IGNORE = shutil.ignore_patterns(*SKIPPED)


#: Sites of the bundled infant study (rr_all's come from its generator).
INFANT_SITES = {"SEV": "config/sites/infant_all/SEV.yaml"}


def bundled_demo(work: Path) -> Path:
    """Reset the bundled studies' sites in a copy to the demo as shipped: rr_all's generated
    mappings and sites, the infant site. The suite's expected numbers are about the demo, so a
    site a user adds (or a mapping a user edits) does not change what the workflow tests run."""
    import re

    from cohortflow.demo import rr_all

    rr_all.write_mappings(work / "config" / "sites" / "rr_all")
    sites = {
        "rr_all": {c: f"config/sites/rr_all/{c}.yaml" for c in rr_all.SITES},
        "infant_all": INFANT_SITES,
    }
    for study, listed in sites.items():
        path = work / "config" / "studies" / f"{study}.yaml"
        block = "sites:\n" + "".join(f"  {k}: {v}\n" for k, v in listed.items())
        text, n = re.subn(
            r"^sites:\n(?:[ \t]+.*\n|#.*\n)+", block, path.read_text("utf-8"), count=1, flags=re.M
        )
        assert n == 1, f"no sites: block in {path}"
        path.write_text(text, encoding="utf-8")
    return work


def pytest_sessionstart(session: pytest.Session) -> None:
    """Install the Hangul font (Debian fonts-nanum) before any figure is drawn, as the test
    set-up does for Chromium: figures and report screenshots need its glyphs."""
    from .browser import BrowserError, ensure_hangul_font

    try:
        ensure_hangul_font()
    except BrowserError as exc:  # the font test then fails and says so
        print(f"warning: {exc}", file=sys.stderr)


def copy_repo(dest: Path, *, as_shipped: bool = True) -> Path:
    """A copy of the working tree (code, config, data) without generated files; with
    ``as_shipped`` the bundled studies' sites are the demo's (see ``bundled_demo``)."""
    shutil.copytree(REPO, dest, ignore=COPY_IGNORE)
    return bundled_demo(dest) if as_shipped else dest


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the workflow's snakemake in ``workdir``; output captured as text."""
    env = dict(os.environ, PATH=f"{SNAKEMAKE.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("COHORTFLOW_KEY", None)
    # the copy's own package, catalogue and schemas, not the checkout the venv points to
    env["PYTHONPATH"] = str(Path(workdir).resolve())
    proc = subprocess.run(
        [str(SNAKEMAKE), "--cores", "2", *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
        )
    return proc


@pytest.fixture(scope="session")
def workflow_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository copy on which the full workflow (all studies) has run."""
    work = copy_repo(tmp_path_factory.mktemp("wf") / "repo")
    snakemake(work)
    return work
