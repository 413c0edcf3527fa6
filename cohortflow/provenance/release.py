"""Data freezes: read-only, never-overwritten snapshots of a study's working results."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from cohortflow.core.errors import CohortflowError
from cohortflow.core.io import sha256_file

EXCLUDE = {"releases", "logs"}


def freeze_id(manifest: dict[str, Any], files: list[dict[str, str]] | None = None) -> str:
    """'<cut-off date>_<12 hex digits>': the hash covers the inputs, the config, the code and
    (``files``: path and SHA-256 of every released file) the released contents, so a freeze
    whose files and RELEASE.json were rewritten consistently no longer matches its ID."""
    h = hashlib.sha256()
    payload = {
        "inputs": sorted(e["sha256"] for e in manifest["inputs"]),
        "config": sorted(e["sha256"] for e in manifest["config"]["files"]),
        "code": manifest["code"]["code_sha256"],
        "dictionary": manifest.get("dictionary_version"),
    }
    if files is not None:
        payload["files"] = sorted((e["path"], e["sha256"]) for e in files)
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
    """Problems found in a freeze: files changed, missing or added since it was made, a
    freeze ID that the files, inputs, config and code no longer give (a consistent rewrite
    of contents and RELEASE.json), and files that differ from the freeze's own manifest
    (an empty list when it is intact)."""
    meta_path = dest / "RELEASE.json"
    if not meta_path.is_file():
        raise CohortflowError(f"{dest} is not a release (no RELEASE.json)")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    recorded = {e["path"]: e["sha256"] for e in meta.get("files", [])}
    files = _file_hashes(dest)
    now = {e["path"]: e["sha256"] for e in files}
    problems = [f"changed: {p}" for p in sorted(recorded) if p in now and now[p] != recorded[p]]
    problems += [f"missing: {p}" for p in sorted(set(recorded) - set(now))]
    problems += [f"added: {p}" for p in sorted(set(now) - set(recorded))]
    man_path = dest / "manifest.json"
    if not man_path.is_file():
        return [*problems, "missing: manifest.json"]
    manifest = json.loads(man_path.read_text(encoding="utf-8"))
    fid = freeze_id(manifest, files)
    if fid != dest.name or fid != meta.get("freeze_id"):
        problems.append(
            f"freeze ID: the released files, inputs, config and code give {fid}, not "
            f"{dest.name} (RELEASE.json says {meta.get('freeze_id')})"
        )
    prefix = f"{Path(manifest.get('results_dir', 'results')).name}/{meta.get('study')}/"
    for e in manifest.get("outputs", []):
        rel = e["path"].split(prefix, 1)[-1] if prefix in e["path"] else None
        if rel is not None and rel in now and now[rel] != e["sha256"]:
            problems.append(f"differs from the freeze's manifest: {rel}")
    return problems


#: Not copied into the scratch directory a release rebuilds the outputs in.
SCRATCH_IGNORE = shutil.ignore_patterns(
    ".venv", "results", "restricted", ".snakemake", ".git", "__pycache__", "*_cache"
)


def rebuild_differences(study: str, manifest: dict[str, Any], root: Path) -> list[str]:
    """Rebuild the study's outputs from its inputs, config and code in a scratch copy of
    ``root`` and return the outputs of the working manifest whose bytes differ (or that
    the rebuild does not produce): working results that the inputs do not give."""
    with tempfile.TemporaryDirectory(prefix="cohortflow-release-") as tmp:
        work = Path(tmp) / "repo"
        shutil.copytree(root, work, ignore=SCRATCH_IGNORE, symlinks=True)
        env = dict(os.environ, PYTHONPATH=str(work))
        snakemake = Path(sys.executable).with_name("snakemake")
        cmd = [str(snakemake), "--cores", "2", "--config", f"studies=[{study}]", "--quiet"]
        proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise CohortflowError(
                f"release: rebuilding {study} from its inputs in a scratch directory failed; "
                f"nothing was released. Last output:\n{proc.stderr[-2000:]}"
            )
        return [
            e["path"]
            for e in manifest["outputs"]
            if not (work / e["path"]).is_file() or sha256_file(work / e["path"]) != e["sha256"]
        ]


def _released_files(study_dir: Path) -> list[dict[str, str]]:
    """Path (relative to the study folder) and SHA-256 of every file a release copies."""
    return [e for e in _file_hashes(study_dir) if e["path"].split("/", 1)[0] not in EXCLUDE]


def _read_only(path: Path) -> None:
    for p in sorted(path.rglob("*"), reverse=True):
        mode = p.stat().st_mode
        p.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def release(
    study: str, results: Path = Path("results"), root: Path = Path("."), rebuild: bool = True
) -> Path:
    """Snapshot results/<study>/ (without logs and earlier releases) into
    results/<study>/releases/<freeze-id>/, read-only; refuse to overwrite an existing freeze.

    With ``rebuild`` (the default) the outputs are first rebuilt from the inputs in a scratch
    directory and the release is refused, naming the files, when any working output differs
    (e.g. a hand-edited analyse/survival.csv)."""
    study_dir = results / study
    man_path = study_dir / "manifest.json"
    if not man_path.exists():
        raise CohortflowError(f"no {man_path}: run the workflow first")
    manifest = json.loads(man_path.read_text(encoding="utf-8"))
    check_current(study_dir, manifest, root)
    fid = freeze_id(manifest, _released_files(study_dir))
    dest = study_dir / "releases" / fid
    if dest.exists():
        raise CohortflowError(
            f"release {fid} already exists and is never overwritten; nothing changed since it "
            "was made (inputs, config and code are identical). Change something, rerun, and "
            "release again to get a new freeze ID."
        )
    if rebuild:
        differ = rebuild_differences(study, manifest, root)
        if differ:
            raise CohortflowError(
                f"release refused: {len(differ)} working output(s) differ from a rebuild from "
                f"the inputs, config and code: {', '.join(differ)}. Delete them and run "
                "`make run`, then release again"
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
    if freeze_id(manifest, _file_hashes(tmp)) != fid:
        raise CohortflowError(f"release {fid}: the copy differs from results/{study}; retry")
    os.replace(tmp, dest)
    _read_only(dest)
    return dest
