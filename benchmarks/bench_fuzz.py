"""Benchmark: deterministic reader fuzzing (1,000 mutants per reader by default).

Run with `.venv/bin/python benchmarks/bench_fuzz.py [N]`. Prints, per reader, how many mutated
files were tried, how many were read, how many gave a clear SubmissionError, how many
crashed (anything else) and how long it took. Asserts nothing (figures only).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fuzzing import SOURCES, fuzz  # noqa: E402


def main() -> None:
    """Print the fuzzing figures."""
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    total = 0.0
    print(f"{'reader':8} {'tried':>6} {'read':>6} {'errors':>7} {'crashes':>8} {'seconds':>8}")
    for reader in sorted(SOURCES):
        with tempfile.TemporaryDirectory() as tmp:
            t = fuzz(reader, n, Path(tmp))
        total += t.seconds
        errors = sum(t.errors.values())
        print(f"{reader:8} {t.tried:6} {t.read:6} {errors:7} {len(t.crashes):8} {t.seconds:8.1f}")
        for crash in t.crashes[:5]:
            print(f"   crash: {crash}")
    print(f"total {total:.1f} s")


if __name__ == "__main__":
    main()
