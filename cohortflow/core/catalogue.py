"""Reading the data-quality check catalogue (``config/checks.yaml``): validated, one entry per
check name.

The checks themselves run in ``validate/checks.py``; this reader sits in ``core/`` so that a
stage needing only the catalogue's words (the CONSORT figure names why records were set aside
in them) reads the file it receives as an input without importing the checks' code, and an
edit of that code reruns validation but no reporting job (``core/codehash.py``).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from cohortflow.core.config import load_yaml, validate
from cohortflow.core.errors import CohortflowError


@lru_cache(maxsize=4)
def load_catalogue(path: str) -> dict[str, Any]:
    """The catalogue file at ``path``, validated against schemas/checks.schema.json;
    CohortflowError when a check name is defined twice."""
    data = validate(load_yaml(path), "checks", path)
    seen: set[str] = set()
    for c in data["checks"]:
        if c["name"] in seen:
            raise CohortflowError(f"{path}: check {c['name']!r} defined twice")
        seen.add(c["name"])
    return data


def check_messages(path: str | Path) -> dict[str, str]:
    """What each check of the catalogue file at ``path`` reports, by check name (the words a
    reader is shown instead of the check's name)."""
    return {c["name"]: c["message"] for c in load_catalogue(str(path))["checks"]}
