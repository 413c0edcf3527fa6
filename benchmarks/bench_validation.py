"""Benchmark: validate a 1,000,000-patient harmonised table against the check catalogue and the
canonical pandera schema. Prints wall time and peak memory (RSS). Run with
`.venv/bin/python benchmarks/bench_validation.py [n]`."""

from __future__ import annotations

import resource
import sys
import time

import numpy as np
import pandas as pd

from cohortflow.core import dictionary
from cohortflow.validate.checks import run_row_checks


def synthetic(n: int, seed: int = 1) -> pd.DataFrame:
    """A canonical patients table of n rows with realistic values and ~0.1 % planted errors."""
    rng = np.random.default_rng(seed)
    birth = pd.Timestamp("1995-01-01") + pd.to_timedelta(rng.integers(0, 6000, n), unit="D")
    dx = birth + pd.to_timedelta(rng.integers(200, 6000, n), unit="D")
    rr = dx + pd.to_timedelta(rng.integers(100, 2000, n), unit="D")
    death = rr + pd.to_timedelta(rng.integers(10, 2000, n), unit="D")
    dead = rng.random(n) < 0.5
    df = pd.DataFrame(
        {
            "study_id": [f"{i:016x}" for i in range(n)],
            "site": rng.choice(["S01", "S02"], n),
            "sex": rng.choice(["M", "F"], n),
            "birth_date": birth,
            "diagnosis_date": dx,
            "rr_diagnosis_date": rr,
            "death_date": death.where(dead),
            "last_followup_date": death,
            "wbc": rng.gamma(2, 10, n),
            "marrow_blasts_pct": rng.uniform(0, 100, n),
            "height_cm": rng.normal(140, 20, n),
            "weight_kg": rng.normal(40, 10, n),
            "prior_regimens": rng.integers(1, 5, n),
            "source_sha256": "x" * 64,
            "source_sheet": "",
            "source_row": np.arange(2, n + 2),
        }
    )
    bad = rng.random(n) < 0.001
    df.loc[bad, "marrow_blasts_pct"] = 150.0
    from cohortflow.harmonise.derive import harmonise

    return harmonise(dictionary.conform(df))


def main(n: int = 1_000_000) -> None:
    """Print the figures."""
    t0 = time.perf_counter()
    df = synthetic(n)
    t1 = time.perf_counter()
    findings = run_row_checks(df, "2030-12-31", "S01")
    t2 = time.perf_counter()
    import pandera.errors

    try:
        dictionary.pandera_schema("patients").validate(df, lazy=True)
        n_cases = 0
    except pandera.errors.SchemaErrors as exc:  # the planted errors, all collected
        n_cases = len(exc.failure_cases)
    t3 = time.perf_counter()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{n:,} patients: build {t1 - t0:.1f} s; check catalogue {t2 - t1:.1f} s "
        f"({len(findings):,} findings); pandera schema {t3 - t2:.1f} s "
        f"({n_cases:,} failure cases); "
        f"peak RSS {peak_mb:,.0f} MB"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
