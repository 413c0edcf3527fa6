"""The Python versions cohortflow supports, and the guard `make setup` runs before anything.

Runs on the bare interpreter (no dependencies, not even the package): ``python
cohortflow/core/pyversion.py`` exits 1 with a clear message on an unsupported version. CI uses
3.11; 3.12 and 3.13 are accepted (many fresh machines ship them).
"""

from __future__ import annotations

import sys

#: Oldest and newest supported (major, minor); pyproject's requires-python says the same.
OLDEST = (3, 11)
NEWEST = (3, 13)


def problem(version: tuple[int, ...]) -> str | None:
    """Why ``version`` (a sys.version_info-like tuple) cannot run cohortflow, or None."""
    mm = tuple(version[:2])
    if OLDEST <= mm <= NEWEST:
        return None
    return (
        f"cohortflow needs Python {OLDEST[0]}.{OLDEST[1]} to {NEWEST[0]}.{NEWEST[1]}, found "
        f"{'.'.join(map(str, version[:3]))}; install one (e.g. `apt install python3.11` or "
        "`uv python install 3.11`) and run `make setup PYTHON=/path/to/python3.11`"
    )


if __name__ == "__main__":
    msg = problem(tuple(sys.version_info))
    if msg:
        print(msg, file=sys.stderr)
        sys.exit(1)
