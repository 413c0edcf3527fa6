"""Benchmark: a synthetic N-site study on the local SLURM cluster vs the local executor.

    scripts/slurm/local_cluster.sh up
    .venv/bin/python scripts/slurm/bench_sites.py --sites 20
    scripts/slurm/local_cluster.sh down

The study is `rr_all` with its 9 site files reused round-robin as sites R01..RNN (a stand-in
until a registry generator exists). Both runs start from the same fresh copy of the checkout.
Prints the number of cluster jobs, both wall times, the scheduler overhead per cluster job
((SLURM wall - local wall) / cluster jobs) and the mean submit-to-start wait from SLURM's
job completion log.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
IGNORE = shutil.ignore_patterns(".venv", "results", "restricted", ".snakemake", ".git")


def make_study(work: Path, n_sites: int) -> None:
    """Write study `reg<N>` (sites R01.. reusing rr_all's site files) and run only it."""
    study = yaml.safe_load((work / "config/studies/rr_all.yaml").read_text(encoding="utf-8"))
    name = f"reg{n_sites}"
    (work / f"config/sites/{name}").mkdir(parents=True)
    study["id"] = name
    study["sites"] = {}
    for i in range(n_sites):
        code = f"R{i + 1:02d}"
        src = work / f"config/sites/rr_all/S{i % 9 + 1:02d}.yaml"
        text = re.sub(r"^site: \w+$", f"site: {code}", src.read_text(encoding="utf-8"), flags=re.M)
        (work / f"config/sites/{name}/{code}.yaml").write_text(text, encoding="utf-8")
        study["sites"][code] = f"config/sites/{name}/{code}.yaml"
    (work / f"config/studies/{name}.yaml").write_text(
        yaml.safe_dump(study, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    cfg = yaml.safe_load((work / "config/config.yaml").read_text(encoding="utf-8"))
    cfg["studies"] = [name]
    (work / "config/config.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")


def run(work: Path, args: list[str], env: dict[str, str]) -> tuple[float, str]:
    """Wall time (s) and output of one snakemake run in `work`."""
    start = time.monotonic()
    proc = subprocess.run(
        [str(SNAKEMAKE), *args], cwd=work, env=env, capture_output=True, text=True
    )
    wall = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit(f"snakemake {' '.join(args)} failed:\n{proc.stderr[-4000:]}")
    return wall, proc.stdout + proc.stderr


def main() -> None:
    """Run the benchmark and print its figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sites", type=int, default=20)
    ap.add_argument("--slurm-conf", default=os.environ.get("SLURM_CONF"))
    a = ap.parse_args()
    if not a.slurm_conf:
        sys.exit("set SLURM_CONF (scripts/slurm/local_cluster.sh env) or --slurm-conf")
    tmp = Path(tempfile.mkdtemp(prefix="cohortflow-bench-"))
    try:
        base = tmp / "repo"
        shutil.copytree(REPO, base, ignore=IGNORE)
        make_study(base, a.sites)
        local, cluster = tmp / "local", tmp / "slurm"
        shutil.copytree(base, local)
        shutil.copytree(base, cluster)
        env = dict(os.environ, SLURM_CONF=a.slurm_conf)
        env["PATH"] = f"{SNAKEMAKE.parent}{os.pathsep}{env.get('PATH', '')}"
        load = os.getloadavg()[0]
        t_local, _ = run(local, ["--cores", "2"], dict(env, PYTHONPATH=str(local)))
        t_slurm, out = run(
            cluster,
            ["--profile", "profiles/slurm", "--workflow-profile", "profiles/slurm-local"],
            dict(env, PYTHONPATH=str(cluster)),
        )
        ids = set(re.findall(r"submitted with SLURM jobid (\d+)", out))
        comp = Path(a.slurm_conf).parent / "log" / "jobcomp.log"
        waits = []
        for line in comp.read_text().splitlines():
            f = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
            if f.get("JobId") in ids:
                sub, st = (datetime.fromisoformat(f[k]) for k in ("SubmitTime", "StartTime"))
                waits.append((st - sub).total_seconds())
        rules = len(re.findall(r"^(?:local)?rule \w+:", _dry(local, env), re.M))
        n = len(ids)
        print(f"sites: {a.sites}; workflow jobs (rules): {rules}; cluster jobs: {n}")
        print(f"wall, local executor (--cores 2): {t_local:.1f} s")
        print(f"wall, SLURM (local cluster):      {t_slurm:.1f} s")
        print(f"scheduler overhead per cluster job: {(t_slurm - t_local) / n:.1f} s")
        if waits:
            print(f"mean submit-to-start wait: {sum(waits) / len(waits):.1f} s")
        print(f"load average (1 min) at start: {load:.1f}, at end: {os.getloadavg()[0]:.1f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _dry(work: Path, env: dict[str, str]) -> str:
    """Dry-run plan of a fresh copy (every job of the workflow)."""
    fresh = work.with_name("dry")
    shutil.copytree(work, fresh, ignore=shutil.ignore_patterns("results", "restricted"))
    proc = subprocess.run(
        [str(SNAKEMAKE), "--cores", "2", "-n", "--forceall"],
        cwd=fresh,
        env=dict(env, PYTHONPATH=str(fresh)),
        capture_output=True,
        text=True,
    )
    return proc.stdout


if __name__ == "__main__":
    main()
