"""The run manifest: inputs, config, code version, packages and outputs, each with SHA-256."""

from __future__ import annotations

import hashlib
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from cohortflow.core.defaults import Study
from cohortflow.core.dictionary import REPO_ROOT, dictionary_version
from cohortflow.core.io import sha256_file

PACKAGES = [
    "snakemake",
    "pandas",
    "numpy",
    "pyarrow",
    "pandera",
    "lifelines",
    "matplotlib",
    "openpyxl",
    "scipy",
    "jsonschema",
    "PyYAML",
]
CODE_GLOBS = [
    "cohortflow/**/*.py",
    "scripts/*.py",
    "rules/*.smk",
    "Snakefile",
    "schemas/*",
    "requirements.txt",
]


def code_version(root: Path = REPO_ROOT) -> dict[str, Any]:
    """Git commit (if any) and a content hash of the code, rules and schemas."""
    h = hashlib.sha256()
    files = sorted({p for g in CODE_GLOBS for p in root.glob(g) if p.is_file()})
    for p in files:
        h.update(p.relative_to(root).as_posix().encode() + b"\0")
        h.update(p.read_bytes())
    out: dict[str, Any] = {"code_sha256": h.hexdigest(), "files": len(files)}
    out.update(git_state(root))
    return out


def git_state(root: Path = REPO_ROOT) -> dict[str, Any]:
    """The git commit of ``root`` and whether tracked files differ from it, now.

    The workflow passes this as a parameter of the manifest rule, so a manifest is rewritten
    when the commit or the tree's cleanliness changes (``git_dirty`` never goes stale).
    """
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, check=True, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return {"git_commit": None}
    return {"git_commit": commit, "git_dirty": bool(dirty)}


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that shape the results."""
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _entry(path: str | Path, root: Path) -> dict[str, Any]:
    p = Path(path)
    rel = (
        p.resolve().relative_to(root.resolve()).as_posix()
        if p.resolve().is_relative_to(root.resolve())
        else str(p)
    )
    return {"path": rel, "sha256": sha256_file(p), "bytes": p.stat().st_size}


def build_manifest(
    study: dict[str, Any],
    *,
    submissions: list[str],
    config_files: list[str],
    outputs: list[str],
    ingest_meta: list[dict[str, Any]],
    site_summaries: list[dict[str, Any]],
    superseded: list[dict[str, Any]] | None = None,
    root: Path = REPO_ROOT,
) -> dict[str, Any]:
    """The manifest of one study run (no timestamps: identical inputs give identical bytes)."""
    return {
        "manifest_version": 1,
        "study": study["id"],
        "title": study["title"],
        "data_label": Study.of(study).data_label,
        "demo_key": bool(Study.of(study).demo_key),
        "cutoff_date": study["cutoff_date"],
        "dictionary_version": dictionary_version(),
        "inputs": [
            _entry(p, root)
            | {
                "reader": m.get("reader"),
                "encoding": m.get("encoding"),
                "sheet": m.get("sheet"),
                "rows_read": m.get("rows_read"),
                "site": m.get("site"),
            }
            for p, m in zip(submissions, ingest_meta, strict=True)
        ],
        "superseded_submissions": [
            _entry(s["file"], root) | {"site": s["site"], "date": s["date"], "used": False}
            for s in superseded or []
            if Path(s["file"]).exists()
        ],
        "reconciliation": site_summaries,
        "config": {
            "files": [_entry(p, root) for p in config_files],
            "study": {k: v for k, v in study.items() if k not in ("site_mappings",)},
        },
        "code": code_version(root),
        "python": platform.python_version(),
        "packages": package_versions(),
        "outputs": [_entry(p, root) for p in sorted(outputs)],
    }
