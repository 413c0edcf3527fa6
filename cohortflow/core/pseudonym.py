"""Keyed pseudonymisation of (site, local patient ID) and key handling."""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from cohortflow.core.errors import CohortflowError

#: PUBLIC demo key used only by the bundled demo studies. It is published in this repository and
#: offers no protection: outputs made with it are marked "demo key - not for real data".
DEMO_KEY = b"cohortflow-public-demo-key--NOT-FOR-REAL-DATA"
KEY_ENV = "COHORTFLOW_KEY"
KEY_FILE_ENV = "COHORTFLOW_KEY_FILE"
ID_HEX_DIGITS = 16


def load_key(*, demo: bool = False) -> bytes:
    """The pseudonymisation key: $COHORTFLOW_KEY, else the file $COHORTFLOW_KEY_FILE, else
    (demo studies only) the public demo key. Raises CohortflowError when none is available."""
    if demo:
        return DEMO_KEY
    value = os.environ.get(KEY_ENV)
    if value:
        return value.encode()
    path = os.environ.get(KEY_FILE_ENV)
    if path:
        p = Path(path)
        if not p.is_file():
            raise CohortflowError(f"{KEY_FILE_ENV} points to {p}, which is not a readable file.")
        repo = Path(__file__).resolve().parents[2]
        if p.resolve().is_relative_to(repo):
            raise CohortflowError(
                f"{KEY_FILE_ENV} points inside the repository ({repo}): move the key file "
                "outside it, where it cannot be committed or shipped with the code."
            )
        data = p.read_bytes().strip()
        if data:
            return data
    raise CohortflowError(
        "No pseudonymisation key: set COHORTFLOW_KEY, or COHORTFLOW_KEY_FILE to a file kept "
        "outside the repository (e.g. `openssl rand -hex 32 > ~/.cohortflow.key`). The key must "
        "be kept apart from the data (Korean PIPA 'additional information')."
    )


def study_id(key: bytes, site: str, local_id: str) -> str:
    """Pseudonymous study ID: HMAC-SHA256(key, site + US + local ID), first 16 hex digits."""
    msg = f"{site}\x1f{str(local_id).strip()}".encode()
    return hmac.new(key, msg, hashlib.sha256).hexdigest()[:ID_HEX_DIGITS]
