"""Benchmarks: wall time of a cold run, a no-change rerun and a one-site rerun; KM speed.

Run with `make bench` (or `.venv/bin/python benchmarks/bench.py`). Prints figures; asserts
nothing (speed is measured here, not in timed tests).
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from scratch import SNAKEMAKE, copy_repo


def timed(cmd: list[str], cwd: Path) -> float:
    """Wall seconds of one command (which must succeed)."""
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    """Print the benchmark figures."""
    sm = [str(SNAKEMAKE), "--cores", "2"]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "repo"
        copy_repo(work)
        cold = timed(sm, work)
        noop = timed(sm, work)
        site = work / "data/rr_all/S01"
        f = next(site.iterdir())
        f.write_bytes(
            f.read_bytes().replace(b"\n", b"\r\n", 1)
            if b"\r\n" not in f.read_bytes()
            else f.read_bytes().replace(b"\r\n", b"\n", 1)
        )
        one = timed(sm, work)
        jobs = len(list((work / "results").rglob("*.log")))
    print(f"workflow, 2 studies, {jobs} jobs, 2 cores:")
    print(f"  cold run            {cold:7.1f} s")
    print(f"  no-change rerun     {noop:7.1f} s")
    print(f"  one-site rerun      {one:7.1f} s")

    from cohortflow.stats.survival import kaplan_meier, logrank_test

    rng = np.random.default_rng(1)
    n = 1_000_000
    t = np.round(rng.exponential(1000, n))
    e = (rng.random(n) < 0.7).astype(int)
    g = rng.integers(0, 3, n).astype(str).astype(object)
    t0 = time.perf_counter()
    kaplan_meier(t, e)
    km = time.perf_counter() - t0
    t0 = time.perf_counter()
    logrank_test(t, e, g)
    lr = time.perf_counter() - t0
    print(f"Kaplan-Meier, {n:,} patients: {km:.2f} s; log-rank, 3 groups: {lr:.2f} s")


if __name__ == "__main__":
    main()
