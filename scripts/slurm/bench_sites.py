"""Benchmark: an N-site synthetic registry on the local SLURM cluster vs the local executor.

    scripts/slurm/local_cluster.sh up
    .venv/bin/python scripts/slurm/bench_sites.py --sites 20 --patients-per-site 500
    scripts/slurm/local_cluster.sh down

The study is the registry generator's (`python -m cohortflow.demo.registry`), written into a
fresh copy of the checkout; both runs (`--config studies=[registry]`) start from identical
copies. Prints the number of workflow jobs and cluster jobs, both wall times, the scheduler
overhead per cluster job ((SLURM wall - local wall) / cluster jobs), the mean submit-to-start
wait and in-job run time from SLURM's job completion log, the load average beside the figures
(the machine may be shared), and whether the two runs' outputs are byte-identical.
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

REPO = Path(__file__).resolve().parents[2]
PYTHON = Path(sys.executable)
SNAKEMAKE = PYTHON.with_name("snakemake")
IGNORE = shutil.ignore_patterns(".venv", "results", "restricted", ".snakemake", ".git")
STUDY = "registry"


def run(work: Path, args: list[str], env: dict[str, str]) -> tuple[float, str]:
    """Wall time (s) and output of one snakemake run of the registry study in `work`."""
    start = time.monotonic()
    proc = subprocess.run(
        [str(SNAKEMAKE), *args, "--config", f"studies=[{STUDY}]"],
        cwd=work,
        env=dict(env, PYTHONPATH=str(work)),
        capture_output=True,
        text=True,
    )
    wall = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit(f"snakemake {' '.join(args)} failed:\n{proc.stderr[-4000:]}")
    return wall, proc.stdout + proc.stderr


def outputs(root: Path) -> dict[str, bytes]:
    """Bytes of every output (results/, restricted/; per-job logs and releases left out)."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for top in ("results", "restricted")
        for p in sorted((root / top).rglob("*"))
        if p.is_file() and not {"logs", "releases"} & set(p.relative_to(root).parts)
    }


def load() -> str:
    """The 1/5/15-minute load averages."""
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    """Run the benchmark and print its figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sites", type=int, default=20)
    ap.add_argument("--patients-per-site", type=int, default=500)
    ap.add_argument("--slurm-conf", default=os.environ.get("SLURM_CONF"))
    a = ap.parse_args()
    if not a.slurm_conf:
        sys.exit("set SLURM_CONF (scripts/slurm/local_cluster.sh env) or --slurm-conf")
    tmp = Path(tempfile.mkdtemp(prefix="cohortflow-bench-"))
    try:
        base = tmp / "repo"
        shutil.copytree(REPO, base, ignore=IGNORE)
        subprocess.run(
            [str(PYTHON), "-m", "cohortflow.demo.registry", "--sites", str(a.sites)]
            + ["--patients-per-site", str(a.patients_per_site), "--out", str(base)],
            env=dict(os.environ, PYTHONPATH=str(base)),
            check=True,
            capture_output=True,
        )
        local, cluster = tmp / "local", tmp / "slurm"
        shutil.copytree(base, local)
        shutil.copytree(base, cluster)
        env = dict(os.environ, SLURM_CONF=a.slurm_conf)
        env["PATH"] = f"{SNAKEMAKE.parent}{os.pathsep}{env.get('PATH', '')}"
        env.pop("COHORTFLOW_KEY", None)
        load_local = load()
        t_local, out_local = run(local, ["--cores", "2"], env)
        load_slurm = load()
        t_slurm, out = run(
            cluster,
            ["--profile", "profiles/slurm", "--workflow-profile", "profiles/slurm-local"],
            env,
        )
        load_end = load()
        ids = set(re.findall(r"submitted with SLURM jobid (\d+)", out))
        comp = Path(a.slurm_conf).parent / "log" / "jobcomp.log"
        waits, runs = [], []
        for line in comp.read_text().splitlines():
            f = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
            if f.get("JobId") in ids:
                sub, st, end = (
                    datetime.fromisoformat(f[k]) for k in ("SubmitTime", "StartTime", "EndTime")
                )
                waits.append((st - sub).total_seconds())
                runs.append((end - st).total_seconds())
        rules = len(re.findall(r"^localrule \w+:|^localcheckpoint \w+:", out_local, re.M)) - 1
        n = len(ids)
        same = outputs(local) == outputs(cluster)
        print(f"sites: {a.sites} x {a.patients_per_site} patients; workflow jobs: {rules}")
        print(f"cluster jobs: {n}")
        print(f"wall, local executor (--cores 2): {t_local:.1f} s   [load {load_local}]")
        print(f"wall, SLURM (local cluster):      {t_slurm:.1f} s   [load {load_slurm}]")
        print(f"scheduler overhead per cluster job: {(t_slurm - t_local) / n:.1f} s")
        if waits:
            print(f"mean submit-to-start wait: {sum(waits) / len(waits):.1f} s")
            print(f"mean cluster job run time: {sum(runs) / len(runs):.1f} s")
        print(f"load average (1/5/15 min) at end: {load_end}")
        print(f"outputs byte-identical: {same}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
