"""A freeze cannot hold numbers the inputs do not produce: a release rebuilds the outputs in
a scratch directory and refuses hand-edited ones; the freeze ID covers the released
contents, so a consistent rewrite of a freeze and its RELEASE.json fails `--verify`."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from cohortflow.provenance.release import release, verify_release
from tests.conftest import snakemake


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def _fake_study(root: Path) -> None:
    survival = b"analysis,time,estimate,lower,upper\nefs,1095,0.667,0.35,0.86\n"
    out = root / "results/st/analyse/survival.csv"
    out.parent.mkdir(parents=True)
    out.write_bytes(survival)
    manifest = {
        "cutoff_date": "2011-02-28",
        "inputs": [{"path": "data/st/a.csv", "sha256": "1" * 64}],
        "config": {"files": [{"path": "config/studies/st.yaml", "sha256": "2" * 64}]},
        "code": {"code_sha256": "3" * 64},
        "outputs": [{"path": "results/st/analyse/survival.csv", "sha256": _sha(survival)}],
    }
    (root / "results/st/manifest.json").write_text(json.dumps(manifest))


def _writable(dest: Path) -> None:
    for p in [dest, *dest.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)


def test_consistent_rewrite_of_a_freeze_fails_verify(tmp_path):
    _fake_study(tmp_path)
    dest = release("st", tmp_path / "results", root=tmp_path, rebuild=False)
    assert verify_release(dest) == []
    _writable(dest)
    surv = dest / "analyse/survival.csv"
    surv.write_bytes(surv.read_bytes().replace(b"0.667", b"0.967"))  # outside its own CI
    meta = json.loads((dest / "RELEASE.json").read_text())
    for e in meta["files"]:
        if e["path"] == "analyse/survival.csv":
            e["sha256"] = _sha(surv.read_bytes())
    (dest / "RELEASE.json").write_text(json.dumps(meta))
    problems = verify_release(dest)
    assert any(p.startswith("freeze ID:") for p in problems), problems
    assert "differs from the freeze's manifest: analyse/survival.csv" in problems
    # rewriting the freeze's manifest too still fails: the ID covers the contents
    man = json.loads((dest / "manifest.json").read_text())
    man["outputs"][0]["sha256"] = _sha(surv.read_bytes())
    (dest / "manifest.json").write_text(json.dumps(man))
    meta["files"] = [{**e, "sha256": _sha((dest / e["path"]).read_bytes())} for e in meta["files"]]
    (dest / "RELEASE.json").write_text(json.dumps(meta))
    assert [p for p in verify_release(dest) if p.startswith("freeze ID:")]


def test_freeze_id_covers_released_contents(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    _fake_study(a)
    _fake_study(b)
    # same inputs, config and code; one output differs -> a different freeze ID
    surv = b / "results/st/analyse/survival.csv"
    surv.write_bytes(surv.read_bytes().replace(b"0.667", b"0.967"))
    man = json.loads((b / "results/st/manifest.json").read_text())
    man["outputs"][0]["sha256"] = _sha(surv.read_bytes())
    (b / "results/st/manifest.json").write_text(json.dumps(man))
    da = release("st", a / "results", root=a, rebuild=False)
    db = release("st", b / "results", root=b, rebuild=False)
    assert da.name != db.name and da.name[:11] == db.name[:11] == "2011-02-28_"


def _cli(work: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(work.resolve()))
    return subprocess.run(
        [sys.executable, "-m", "cohortflow", "release", *args],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    )


def test_hand_edited_survival_is_refused_and_a_rewritten_freeze_fails_verify(
    workflow_run, tmp_path
):
    """End to end on the session's workflow run: a hand-edited analyse/survival.csv, then
    `make run` and `release`, is refused naming the file (the rebuild from the inputs gives
    other bytes); bypassing the rebuild gives another freeze ID than the clean results; a
    freeze whose survival.csv and RELEASE.json are rewritten consistently fails `--verify`."""
    work = tmp_path / "repo"
    shutil.copytree(workflow_run, work, copy_function=shutil.copy2, symlinks=True)
    study = work / "results/infant_all"
    clean = release("infant_all", study.parent, root=work, rebuild=False)
    assert verify_release(clean) == []
    surv = study / "analyse/survival.csv"
    table = list(csv.DictReader(surv.read_text(encoding="utf-8").splitlines()))
    row = next(r for r in table if r["estimate"] not in ("", "nan"))
    edited = f"{min(float(row['upper']) + 0.05, 0.99):.4f}"  # outside its own CI
    text = surv.read_text(encoding="utf-8")
    surv.write_text(text.replace(row["estimate"], edited, 1), encoding="utf-8")
    assert surv.read_text(encoding="utf-8") != text
    snakemake(work)  # `make run`: tables, report and manifest now carry the edited number
    proc = _cli(work, "--study", "infant_all")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "release refused" in proc.stderr
    assert "results/infant_all/analyse/survival.csv" in proc.stderr
    assert "analyse/cohort.parquet" not in proc.stderr  # what the inputs do give
    assert sorted(p.name for p in (study / "releases").iterdir()) == [clean.name]
    # bypassing the rebuild cannot reuse the clean freeze ID: the ID covers the contents
    forced = release("infant_all", study.parent, root=work, rebuild=False)
    assert forced.name != clean.name and forced.name[:11] == clean.name[:11]
    # a clean freeze rewritten to hold the edited estimate, RELEASE.json made to match
    for p in [clean, *clean.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    shutil.copy2(surv, clean / "analyse/survival.csv")
    meta = json.loads((clean / "RELEASE.json").read_text())
    meta["files"] = [{**e, "sha256": _sha((clean / e["path"]).read_bytes())} for e in meta["files"]]
    (clean / "RELEASE.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    proc = _cli(work, "--study", "infant_all", "--verify", clean.name)
    assert proc.returncode == 1
    assert "freeze ID:" in proc.stdout
    assert "differs from the freeze's manifest: analyse/survival.csv" in proc.stdout
    assert "changed:" not in proc.stdout  # RELEASE.json itself was made consistent
    ok = _cli(work, "--study", "infant_all", "--verify", forced.name)
    assert ok.returncode == 0 and "intact" in ok.stdout
