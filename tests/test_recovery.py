"""A crash needs no manual recovery: after `kill -9` the next run completes by itself (stale
lock removed and reported, incomplete outputs rebuilt) with outputs byte-identical to a clean
run; a deleted intermediate output is rebuilt."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cohortflow.core.errors import CohortflowError
from cohortflow.core.recovery import LOCK_DIR, OWNER_FILE, clear_stale_lock
from tests.conftest import SNAKEMAKE, copy_repo


def _lock(work: Path, processes: list[dict]) -> None:
    (work / LOCK_DIR).mkdir(parents=True)
    (work / LOCK_DIR / "0.input.lock").write_text("x")
    (work / OWNER_FILE).write_text(json.dumps({"processes": processes}))


def test_lock_of_a_dead_run_is_removed_and_reported(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    _lock(tmp_path, [{"pid": dead.pid, "start": "1"}])
    note = clear_stale_lock(tmp_path)
    assert note and "stale" in note and str(dead.pid) in note
    assert not list((tmp_path / LOCK_DIR).glob("*.lock"))
    assert clear_stale_lock(tmp_path) is None  # nothing left to remove


def test_lock_of_a_live_run_is_respected(tmp_path):
    from cohortflow.core.recovery import _start_time

    me = {"pid": os.getpid(), "start": _start_time(os.getpid())}
    _lock(tmp_path, [me])
    with pytest.raises(CohortflowError, match=f"still working.*{os.getpid()}"):
        clear_stale_lock(tmp_path)
    assert list((tmp_path / LOCK_DIR).glob("*.lock"))


def _env(work: Path) -> dict[str, str]:
    env = dict(os.environ, PATH=f"{SNAKEMAKE.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("COHORTFLOW_KEY", None)
    env["PYTHONPATH"] = str(work.resolve())
    return env


#: `make run`'s command (the recovery wrapper around Snakemake), for the infant study alone
#: so that the test stays small: its outputs are those of the full run (the manifest records
#: config/config.yaml, which is not edited).
RUN = [sys.executable, "-m", "cohortflow.core.recovery", "--cores", "2"]
ONE_STUDY = ["--config", "studies=[infant_all]"]
STUDY_OUTPUTS = ("results/infant_all/", "restricted/infant_all/")


def _run(work: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*RUN, *ONE_STUDY], cwd=work, env=_env(work), capture_output=True, text=True
    )


def _kill_when(work: Path, marker: str, timeout: float = 1800) -> None:
    """Start a run and `kill -9` its whole process group (the wrapper, Snakemake and its
    jobs) once ``marker`` (a glob) exists: a crash in the middle of the work."""
    err = work.parent / "killed-run.err"  # outside the copy: it would count as its code
    with err.open("w") as fh:
        proc = subprocess.Popen(
            [*RUN, *ONE_STUDY],
            cwd=work,
            env=_env(work),
            stdout=subprocess.DEVNULL,
            stderr=fh,
            start_new_session=True,
        )
    t0 = time.monotonic()
    while not list(work.glob(marker)):
        assert proc.poll() is None, f"run ended before {marker}: {err.read_text()[-3000:]}"
        assert time.monotonic() - t0 < timeout
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    _wait_until_exited(work)


def _wait_until_exited(work: Path, timeout: float = 60) -> None:
    """Wait until the killed run's recorded processes have finished exiting: SIGKILL is
    delivered at once, but a process that was writing a large file can take a moment to go
    (the next run would rightly refuse to share the folder with it, and the test flaked)."""
    from cohortflow.core.recovery import _start_time

    owner = work / OWNER_FILE
    pids = [p["pid"] for p in json.loads(owner.read_text())["processes"]] if owner.exists() else []
    t0 = time.monotonic()
    while any(_start_time(pid) is not None for pid in pids):
        assert time.monotonic() - t0 < timeout, "the killed run's processes did not exit"
        time.sleep(0.05)


def _digests(work: Path) -> dict[str, str]:
    """SHA-256 of every file the study's run writes (results/ and restricted/)."""
    out = {}
    for top in ("results", "restricted"):
        for p in sorted((work / top).rglob("*")):
            rel = p.relative_to(work).as_posix()
            if p.is_file() and rel.startswith(STUDY_OUTPUTS):
                out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def test_kill_nine_at_three_points_recovers_byte_identical(workflow_run, tmp_path):
    """`kill -9` of the run while sites are ingested, during the analysis and while tables
    are rendered; an intermediate output (analyse/survival.csv) deleted; then one run of
    `make run`'s command, without `--unlock` or any other step: every output is byte-identical
    to the clean run of the session fixture."""
    reference = _digests(workflow_run)
    assert any(k.endswith("analyse/survival.csv") for k in reference)
    assert any(k.startswith("restricted/") for k in reference)
    work = copy_repo(tmp_path / "work")
    for marker in (
        "results/infant_all/ingest/*.json",
        "results/infant_all/analyse/cohort.parquet",
        "results/infant_all/tables/*",
    ):
        _kill_when(work, marker)
        assert list((work / LOCK_DIR).glob("*.lock")), "the kill left no lock to recover from"
    survival = work / "results/infant_all/analyse/survival.csv"
    assert survival.is_file()
    survival.unlink()  # a deleted intermediate output is rebuilt too
    proc = _run(work)  # no --unlock, no manual step
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "removed a stale Snakemake lock" in proc.stderr
    assert not list((work / LOCK_DIR).glob("*.lock"))
    got = _digests(work)
    assert sorted(got) == sorted(reference)
    assert [k for k in reference if got[k] != reference[k]] == []


def test_git_state_follows_the_tree_and_is_a_manifest_param(tmp_path):
    """`git_dirty` is computed when the workflow is planned and passed to the manifest rule
    as a param, so a manifest written on a dirty tree is rewritten once the tree is clean."""
    from cohortflow.provenance.manifest import git_state

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "a.txt").write_text("1")
    git("add", "a.txt")
    git("-c", "user.email=t@example.org", "-c", "user.name=t", "commit", "-qm", "one")
    assert git_state(tmp_path)["git_dirty"] is False
    (tmp_path / "a.txt").write_text("2")
    assert git_state(tmp_path)["git_dirty"] is True
    git("-c", "user.email=t@example.org", "-c", "user.name=t", "commit", "-qam", "two")
    clean = git_state(tmp_path)
    assert clean["git_dirty"] is False and len(clean["git_commit"]) == 40
    rules = (Path(__file__).resolve().parents[1] / "rules/report.smk").read_text()
    manifest_rule = rules.split("rule manifest:", 1)[1].split("\nrule ", 1)[0]
    assert "git=GIT_STATE" in manifest_rule.split("params:", 1)[1]
