"""Python 3.11 to 3.13 are accepted, by the Makefile guard and by pyproject alike."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from cohortflow.core import pyversion

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("version", "ok"),
    [
        ((3, 10, 14), False),
        ((3, 11, 0), True),
        ((3, 11, 7), True),
        ((3, 12, 3), True),
        ((3, 13, 1), True),
        ((3, 14, 0), False),
        ((2, 7, 18), False),
        ((4, 0, 0), False),
    ],
)
def test_guard(version, ok):
    msg = pyversion.problem(version)
    assert (msg is None) == ok
    if not ok:
        assert "3.11 to 3.13" in msg and ".".join(map(str, version)) in msg


def test_pyproject_says_the_same():
    spec = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    lo = re.search(r">=\s*(\d+)\.(\d+)", spec)
    hi = re.search(r"<\s*(\d+)\.(\d+)", spec)
    assert (int(lo[1]), int(lo[2])) == pyversion.OLDEST
    assert (int(hi[1]), int(hi[2]) - 1) == pyversion.NEWEST


def test_makefile_runs_the_guard_before_setup():
    make = (ROOT / "Makefile").read_text()
    setup = make[make.index("$(STAMP):") :].split("\n\n")[0]
    first = setup.splitlines()[1].strip()
    assert first == "@$(PYTHON) cohortflow/core/pyversion.py"  # before the venv is made
    # the guard runs on a bare interpreter: no package import, exit 0 here, 1 on a bad version
    proc = subprocess.run([sys.executable, "-S", str(ROOT / "cohortflow/core/pyversion.py")])
    assert proc.returncode == 0
    fake = "import sys; sys.version_info = (3, 10, 1, 'final', 0); "
    code = fake + f"import runpy; runpy.run_path({str(ROOT / 'cohortflow/core/pyversion.py')!r}, "
    code += "run_name='__main__')"
    bad = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert bad.returncode == 1 and "needs Python 3.11 to 3.13, found 3.10.1" in bad.stderr
    # make picks a supported interpreter first
    assert re.search(r"python3\.11 \|\| command -v python3\.12 \|\| command -v python3\.13", make)
