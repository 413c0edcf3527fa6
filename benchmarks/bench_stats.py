"""Statistics at scale: KM, log-rank, Cox (Efron), Aalen-Johansen, Gray's test, Mantel-Byar and
time-dependent Cox on N synthetic patients (default 1,000,000; an exposure in half of them).

```sh
.venv/bin/python benchmarks/bench_stats.py [--n 1000000]
```

Prints the wall seconds of each (speed is measured here, not asserted in timed tests).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def data(n: int, seed: int = 12) -> pd.DataFrame:
    """Exact day counts (many ties), two groups, two covariates, an exposure in half."""
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 2, n)
    age = rng.uniform(1, 21, n)
    male = rng.integers(0, 2, n)
    t_event = rng.exponential(1500 / (1 + 0.3 * group + 0.02 * age))
    t_cens = rng.uniform(30, 4000, n)
    time_ = np.ceil(np.minimum(t_event, t_cens))
    event = (t_event <= t_cens).astype(int)
    cause = np.where(event == 1, rng.integers(1, 3, n), 0)
    exposed = rng.random(n) < 0.5
    x_time = np.where(exposed, np.floor(time_ * rng.uniform(0.05, 0.9, n)), np.nan)
    return pd.DataFrame(
        {
            "time": time_,
            "event": event,
            "cause": cause,
            "group": group,
            "age": age,
            "male": male,
            "exposure_time": x_time,
        }
    )


def main(argv: list[str] | None = None) -> None:
    """Time each method once on the same data."""
    from cohortflow.stats.competing import cumulative_incidence, gray_test
    from cohortflow.stats.cox import fit_cox
    from cohortflow.stats.logrank import mantel_byar
    from cohortflow.stats.survival import kaplan_meier, logrank_test
    from cohortflow.stats.timedep import counting_process

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--only", nargs="*", default=None, help="names of methods to run")
    a = ap.parse_args(argv)
    df = data(a.n)
    t, e = df["time"].to_numpy(float), df["event"].to_numpy(int)
    cp: dict[str, pd.DataFrame] = {}

    def split() -> None:
        cp["df"] = counting_process(t, e, df["exposure_time"].to_numpy(float))

    def mb() -> None:
        c = cp["df"]
        mantel_byar(c["start"], c["stop"], c["event"], c["exposed"])

    def tdcox() -> None:
        c = cp["df"]
        fit_cox(c, "stop", "event", ["exposed"], start_col="start", ties="efron")

    methods = {
        "Kaplan-Meier": lambda: kaplan_meier(t, e),
        "log-rank (2 groups)": lambda: logrank_test(t, e, df["group"].to_numpy()),
        "Cox, Efron (3 covariates)": lambda: fit_cox(
            df, "time", "event", ["group", "age", "male"], ties="efron"
        ),
        "Aalen-Johansen CIF": lambda: cumulative_incidence(t, df["cause"].to_numpy(int)),
        "Gray's test (2 groups)": lambda: gray_test(
            t, df["cause"].to_numpy(int), df["group"].to_numpy()
        ),
        "counting-process split (exposure in half)": split,
        "Mantel-Byar": mb,
        "time-dependent Cox, Efron": tdcox,
    }
    print(f"{a.n:,} patients, {int(e.sum()):,} events")
    for name, fn in methods.items():
        if a.only and not any(o.lower() in name.lower() for o in a.only):
            if name.startswith("counting") and any(
                o.lower() in ("mantel", "time-dependent") for o in a.only
            ):
                pass
            else:
                continue
        t0 = time.perf_counter()
        c0 = time.process_time()
        fn()
        print(
            f"{name:<44} {time.perf_counter() - t0:8.2f} s wall "
            f"{time.process_time() - c0:8.2f} s CPU",
            flush=True,
        )


if __name__ == "__main__":
    main()
