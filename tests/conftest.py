"""Shared fixtures: a throw-away copy of the repository with both studies run once."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
COPY_IGNORE = shutil.ignore_patterns(
    ".venv",
    "results",
    "restricted",
    ".snakemake",
    ".git",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    "*.egg-info",
)


def copy_repo(dest: Path) -> Path:
    """A copy of the working tree (code, config, data) without generated files."""
    shutil.copytree(REPO, dest, ignore=COPY_IGNORE)
    return dest


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
