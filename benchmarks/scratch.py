"""What every workflow benchmark shares: the repository, its snakemake, and a scratch copy of
the repository without its virtual environment, results and caches."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
#: never copied: environment, outputs of earlier runs, caches and VCS metadata
SKIPPED = (
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


def copy_repo(dest: Path, *also_skipped: str) -> Path:
    """A scratch copy of the repository at ``dest`` (replaced if it exists), without
    :data:`SKIPPED` and ``also_skipped`` (more ``shutil.ignore_patterns`` patterns)."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(REPO, dest, ignore=shutil.ignore_patterns(*SKIPPED, *also_skipped))
    return dest
