"""End-to-end on a real (single-node) SLURM cluster: profiles/slurm against slurmctld/slurmd.

The cluster is started by scripts/slurm/local_cluster.sh (installing slurm-wlm and munge from
Debian packages when missing) and stopped at the end, also when the test fails or pytest is
interrupted (Ctrl-C, SIGTERM); a cluster a killed run left behind is brought down by the next
run. The test is skipped only when the machine cannot install or start SLURM (not root, no
apt-get, another SLURM configuration in /etc/slurm): the reason is printed.

One cluster run of both bundled studies covers the whole promise at once: every job goes
through sbatch, the scheduler kills two site jobs mid-run (one `scancel`, one over its memory
request), both are reported and resubmitted, and every output is byte-identical to the local
run the rest of the suite already made (the session fixture `workflow_run`).
"""

from __future__ import annotations

import fcntl
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from cohortflow.core.io import sha256_file

from .conftest import REPO, SNAKEMAKE, copy_repo

SCRIPT = REPO / "scripts" / "slurm" / "local_cluster.sh"
# one local cluster per machine at a time (it needs /etc/slurm/slurm.conf): concurrent test
# runs wait for each other
LOCK = Path("/tmp/cohortflow-slurm.lock")
# a fixed place, so that a cluster whose test run was killed (no clean-up) is found and brought
# down by the next run (which holds the lock: no other test run is using it)
CLUSTER_DIR = Path("/tmp/cohortflow-slurm-test")
SUBMITTED = re.compile(r"has been submitted with SLURM jobid (\d+) \(log: (\S+)\)")
#: the site chain whose first attempt asks for too little memory (the rules of group "site")
OOM_SITE = "SEV"
SITE_RULES = ("check_mapping", "ingest", "validate", "harmonise")


def skip(reason: str) -> None:
    """Skip with the reason printed (pytest's summary may be cut short in CI logs)."""
    print(f"\nSKIP: {reason}", file=sys.stderr)
    pytest.skip(reason)


def interrupted(signum: int, frame: object) -> None:
    """SIGTERM (a CI time-out, `kill`) ends the run like Ctrl-C: fixtures are torn down."""
    raise KeyboardInterrupt(f"signal {signum}")


def cluster_script(action: str) -> subprocess.CompletedProcess:
    """scripts/slurm/local_cluster.sh <action> for the test's cluster directory."""
    env = dict(os.environ, COHORTFLOW_SLURM_DIR=str(CLUSTER_DIR))
    return subprocess.run([str(SCRIPT), action], env=env, capture_output=True, text=True)


@pytest.fixture(scope="module")
def slurm_cluster():
    """A running local cluster: yields its environment (SLURM_CONF) and its directory."""
    try:
        import snakemake_executor_plugin_slurm  # noqa: F401
    except ImportError:
        pytest.fail("SLURM executor plugin missing: `make test` installs requirements-slurm.txt")
    if os.geteuid() != 0:
        skip("local SLURM cluster needs root (its daemons run as root)")
    lock = LOCK.open("w")
    deadline = time.monotonic() + 900
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() > deadline:
                pytest.fail(f"another local SLURM cluster held {LOCK} for 15 minutes")
            time.sleep(2)
    previous = signal.signal(signal.SIGTERM, interrupted)
    try:
        if CLUSTER_DIR.exists():  # left by a killed run: ours (`down` acts only on its own)
            cluster_script("down")
        up = cluster_script("up")
        if up.returncode == 2:
            skip(up.stderr.strip().splitlines()[-1])
        assert up.returncode == 0, f"local_cluster.sh up failed:\n{up.stdout}\n{up.stderr}"
        yield {"SLURM_CONF": str(CLUSTER_DIR / "slurm.conf")}, CLUSTER_DIR
    finally:
        down = cluster_script("down")
        signal.signal(signal.SIGTERM, previous)
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()
        assert down.returncode == 0, down.stderr
        assert not CLUSTER_DIR.exists()


def squeue(slurm_env: dict[str, str], *args: str) -> list[str]:
    """Lines of `squeue --noheader` on the local cluster."""
    out = subprocess.run(
        ["squeue", "--noheader", *args],
        env=dict(os.environ, **slurm_env),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line for line in out.splitlines() if line.strip()]


def cancel_one_site_job(slurm_env: dict[str, str], cancelled: list[str], stop: threading.Event):
    """scancel the first rr_all per-site group job seen running (the scheduler killing it)."""
    env = dict(os.environ, **slurm_env)
    while not stop.is_set():
        for line in squeue(slurm_env, "--states=RUNNING", "--format=%i %k"):
            job_id, comment = line.split(maxsplit=1)
            if not comment.startswith("rule_site_"):  # rule_site_<its rules>: group "site"
                continue
            script = subprocess.run(
                ["scontrol", "write", "batch_script", job_id, "-"],
                env=env,
                capture_output=True,
                text=True,
            ).stdout
            if not re.search(r"site=S\d\d\b", script):  # not the memory-starved site's job
                continue
            time.sleep(1.0)  # mid-run: the job's snakemake has started its rules
            subprocess.run(["scancel", job_id], env=env)
            cancelled.append(job_id)
            return
        time.sleep(0.2)


def tree_hashes(root: Path) -> dict[str, str]:
    """SHA-256 of every output under results/ and restricted/ (no per-job logs, releases)."""
    return {
        str(p.relative_to(root)): sha256_file(p)
        for top in ("results", "restricted")
        for p in sorted((root / top).rglob("*"))
        if p.is_file() and not {"logs", "releases"} & set(p.relative_to(root).parts)
    }


#: a job Snakemake ran (its block; a group job's plan lists its jobs indented: not matched)
RAN = re.compile(r"^local(?:rule|checkpoint) (\w+):\n((?:[ \t]+.*\n)*)", re.M)


def job_keys(text: str) -> list[tuple[str, frozenset]]:
    """(rule, wildcards) of every job that ran, from a Snakemake log (`all` left out)."""
    out = []
    for m in RAN.finditer(text):
        wc = re.search(r"^\s+wildcards: (.*)$", m[2], re.M)
        pairs = [kv.split("=", 1) for kv in wc[1].split(", ")] if wc else []
        if m[1] != "all":
            out.append((m[1], frozenset(tuple(p) for p in pairs)))
    return out


def test_both_studies_on_slurm_match_a_local_run(slurm_cluster, workflow_run, tmp_path):
    slurm_env, cluster_dir = slurm_cluster
    # the local run's own log: every job of the workflow, forest plots included
    first_log = sorted((workflow_run / ".snakemake" / "log").glob("*.snakemake.log"))[0]
    local_jobs = job_keys(first_log.read_text())
    assert len(local_jobs) > 90 and len(set(local_jobs)) == len(local_jobs)

    work = copy_repo(tmp_path / "repo")
    env = dict(os.environ, **slurm_env, PYTHONPATH=str(work.resolve()))
    env["PATH"] = f"{SNAKEMAKE.parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("COHORTFLOW_KEY", None)
    # one site's chain asks for 100 MB on its first attempt (slurmd kills it: OverMemoryKill),
    # the profile's usual request on the retry
    starve = f"100 if wildcards.site == '{OOM_SITE}' and attempt == 1 else 1000"
    cmd = [
        str(SNAKEMAKE),
        "--profile",
        "profiles/slurm",
        "--workflow-profile",
        "profiles/slurm-local",
        "--set-resources",
        *(f"{rule}:mem_mb={starve}" for rule in SITE_RULES),
    ]
    # the scheduler kills one site's job mid-run: reported, resubmitted (retries: 1)
    cancelled: list[str] = []
    stop = threading.Event()
    killer = threading.Thread(target=cancel_one_site_job, args=(slurm_env, cancelled, stop))
    killer.start()
    try:
        proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)
    finally:
        stop.set()
        killer.join()
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]

    # both killed jobs are reported (group, SLURM log naming the cause), then resubmitted
    assert len(cancelled) == 1, "no rr_all site job was seen running"
    failed = dict(
        (Path(log).stem, Path(log))
        for log in re.findall(r"Error in group site\n(?:\s+.*\n)*?\s+log: (\S+\.log) ", out)
    )
    assert cancelled[0] in failed, out[-6000:]
    assert "CANCELLED" in failed[cancelled[0]].read_text()
    oom = [i for i, log in failed.items() if "exceeded memory limit" in log.read_text()]
    assert len(oom) == 1 and set(failed) == {cancelled[0], *oom}, out[-6000:]
    assert out.count("Trying to restart job") == 2

    # every job ran through sbatch: nothing but the target rule `all` ran locally
    assert re.findall(r"^local(?:rule|checkpoint) (\w+):", out, re.M) == ["all"]
    submitted = {i: Path(log) for i, log in SUBMITTED.findall(out)}
    # the scheduler's own record (job completion log: accounting is off) has every job
    history = {
        m["id"]: m["state"]
        for m in re.finditer(
            r"JobId=(?P<id>\d+) .*?JobState=(?P<state>\w+) .*?WorkDir=(?P<wd>\S+)",
            (cluster_dir / "log" / "jobcomp.log").read_text(),
        )
        if Path(m["wd"]).resolve() == work.resolve()
    }
    assert set(history) == set(submitted)
    assert history.pop(cancelled[0]) == "CANCELLED"
    assert history.pop(oom[0]) in {"OUT_OF_MEMORY", "FAILED"}
    assert set(history.values()) == {"COMPLETED"}
    # inside each cluster job its rules ran (logged as local rules of the job's own snakemake);
    # over the completed cluster jobs: every job of the local run, each exactly once
    per_job = {i: job_keys(log.read_text()) for i, log in submitted.items() if i in history}
    ran = Counter(key for keys in per_job.values() for key in keys)
    assert set(ran.values()) == {1}
    assert set(ran) == set(local_jobs)
    # grouped: one cluster job per site holding exactly that site's chain, one per study for
    # its sites' query listings and DQ pages; far fewer cluster jobs than rules
    rules_of = {i: {rule for rule, _ in keys} for i, keys in per_job.items()}
    site_jobs = [per_job[i] for i, rules in rules_of.items() if rules & set(SITE_RULES)]
    n_sites = len({wc for rule, wc in local_jobs if rule == "ingest"})
    assert len(site_jobs) == n_sites == 10
    for keys in site_jobs:
        assert sorted(rule for rule, _ in keys) == sorted(SITE_RULES)
        assert len({wc for _, wc in keys}) == 1  # one site
    queries = [rules for rules in rules_of.values() if "query_listing" in rules]
    assert len(queries) == 2 and all(rules == {"query_listing", "dq_site"} for rules in queries)
    assert len(per_job) < len(local_jobs) / 3
    assert squeue(slurm_env) == []  # nothing left behind in the queue

    # byte-identical to the local run of the same checkout
    local, cluster = tree_hashes(workflow_run), tree_hashes(work)
    assert set(cluster) == set(local)
    assert len(local) > 250
    differ = sorted(k for k in local if local[k] != cluster[k])
    assert differ == [], differ
