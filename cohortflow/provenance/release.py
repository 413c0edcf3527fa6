"""Data freezes: read-only, never-overwritten snapshots of a study's working results."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
from pathlib import Path
from typing import Any

from cohortflow.core.errors import CohortflowError
from cohortflow.core.io import sha256_file

EXCLUDE = {"releases", "logs"}


def freeze_id(manifest: dict[str, Any]) -> str:
    """'<cut-off date>_<12 hex digits>': the hash covers the inputs, the config and the code."""
    h = hashlib.sha256()
    payload = {
        "inputs": sorted(e["sha256"] for e in manifest["inputs"]),
        "config": sorted(e["sha256"] for e in manifest["config"]["files"]),
        "code": manifest["code"]["code_sha256"],
        "dictionary": manifest.get("dictionary_version"),
    }
    h.update(json.dumps(payload, sort_keys=True).encode())
    return f"{manifest['cutoff_date']}_{h.hexdigest()[:12]}"


def check_current(study_dir: Path, manifest: dict[str, Any], root: Path) -> None:
    """Refuse when the working results do not match their manifest (stale or edited)."""
    stale = [
        e["path"]
        for e in manifest["outputs"]
        if not (root / e["path"]).exists() or sha256_file(root / e["path"]) != e["sha256"]
    ]
    if stale:
        raise CohortflowError(
            f"{len(stale)} output(s) differ from {study_dir / 'manifest.json'} (e.g. "
            f"{stale[0]}): run the workflow (`make run`) before releasing"
        )


def _file_hashes(folder: Path) -> list[dict[str, str]]:
    """Path (relative, POSIX) and SHA-256 of every file under ``folder``, sorted by path."""
    return [
        {"path": p.relative_to(folder).as_posix(), "sha256": sha256_file(p)}
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "RELEASE.json"
    ]


def verify_release(dest: Path) -> list[str]:
    """Problems found in a freeze: files changed, missing or added since it was made
    (an empty list when it is intact)."""
    meta_path = dest / "RELEASE.json"
    if not meta_path.is_file():
        raise CohortflowError(f"{dest} is not a release (no RELEASE.json)")
    recorded = {
        e["path"]: e["sha256"]
        for e in json.loads(meta_path.read_text(encoding="utf-8")).get("files", [])
    }
    now = {e["path"]: e["sha256"] for e in _file_hashes(dest)}
    problems = [f"changed: {p}" for p in sorted(recorded) if p in now and now[p] != recorded[p]]
    problems += [f"missing: {p}" for p in sorted(set(recorded) - set(now))]
    problems += [f"added: {p}" for p in sorted(set(now) - set(recorded))]
    return problems


def _read_only(path: Path) -> None:
    for p in sorted(path.rglob("*"), reverse=True):
        mode = p.stat().st_mode
        p.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def release(study: str, results: Path = Path("results"), root: Path = Path(".")) -> Path:
    """Snapshot results/<study>/ (without logs and earlier releases) into
    results/<study>/releases/<freeze-id>/, read-only; refuse to overwrite an existing freeze."""
    study_dir = results / study
    man_path = study_dir / "manifest.json"
    if not man_path.exists():
        raise CohortflowError(f"no {man_path}: run the workflow first")
    manifest = json.loads(man_path.read_text(encoding="utf-8"))
    check_current(study_dir, manifest, root)
    fid = freeze_id(manifest)
    dest = study_dir / "releases" / fid
    if dest.exists():
        raise CohortflowError(
            f"release {fid} already exists and is never overwritten; nothing changed since it "
            "was made (inputs, config and code are identical). Change something, rerun, and "
            "release again to get a new freeze ID."
        )
    tmp = dest.with_name(f".{fid}.partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    for item in sorted(study_dir.iterdir()):
        if item.name in EXCLUDE:
            continue
        if item.is_dir():
            shutil.copytree(item, tmp / item.name, copy_function=shutil.copy2)
        else:
            (tmp).mkdir(exist_ok=True)
            shutil.copy2(item, tmp / item.name)
    (tmp / "RELEASE.json").write_text(
        json.dumps(
            {
                "freeze_id": fid,
                "study": study,
                "cutoff_date": manifest["cutoff_date"],
                "data_label": manifest.get("data_label", ""),
                "code": manifest["code"],
                "files": _file_hashes(tmp),
            },
            indent=2,
            sort_keys=True,
        )
        + "\n",
        encoding="utf-8",
    )
    os.replace(tmp, dest)
    _read_only(dest)
    return dest
