"""A freeze cannot hold numbers the inputs do not produce: a release rebuilds the outputs in
a scratch directory and refuses hand-edited ones; the freeze ID covers the released
contents, so a consistent rewrite of a freeze and its RELEASE.json fails `--verify`."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from cohortflow.provenance.release import release, verify_release


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
