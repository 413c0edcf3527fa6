"""Keyed pseudonymisation of (site, local patient ID) and key handling."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import stat
from pathlib import Path

from cohortflow.core.errors import CohortflowError

#: PUBLIC demo key used only by the bundled demo studies. It is published in this repository and
#: offers no protection: outputs made with it are marked "demo key - not for real data".
DEMO_KEY = b"cohortflow-public-demo-key--NOT-FOR-REAL-DATA"
KEY_ENV = "COHORTFLOW_KEY"
KEY_FILE_ENV = "COHORTFLOW_KEY_FILE"
ID_HEX_DIGITS = 16
#: Shortest accepted key (bytes): HMAC-SHA256 keys shorter than its 32-byte output weaken it
#: and short ones can be guessed (`openssl rand -hex 32` gives 64).
MIN_KEY_BYTES = 32
log = logging.getLogger("cohortflow")


def _checked(key: bytes, source: str) -> bytes:
    if len(key) < MIN_KEY_BYTES:
        raise CohortflowError(
            f"the pseudonymisation key from {source} is {len(key)} bytes; at least "
            f"{MIN_KEY_BYTES} are required (e.g. `openssl rand -hex 32 > ~/.cohortflow.key`)"
        )
    return key


def load_key(*, demo: bool = False) -> bytes:
    """The pseudonymisation key: $COHORTFLOW_KEY, else the file $COHORTFLOW_KEY_FILE, else
    (demo studies only) the public demo key. Raises CohortflowError when none is available."""
    if demo:
        return DEMO_KEY
    value = os.environ.get(KEY_ENV)
    if value:
        return _checked(value.encode(), KEY_ENV)
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
        if p.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning(
                "%s: the key file %s can be read by group or others (mode %s); restrict it "
                "with `chmod 600`",
                KEY_FILE_ENV,
                p,
                oct(stat.S_IMODE(p.stat().st_mode)),
            )
        data = p.read_bytes().strip()
        if data:
            return _checked(data, KEY_FILE_ENV)
    raise CohortflowError(
        "No pseudonymisation key: set COHORTFLOW_KEY, or COHORTFLOW_KEY_FILE to a file kept "
        "outside the repository (e.g. `openssl rand -hex 32 > ~/.cohortflow.key`). The key must "
        "be kept apart from the data (Korean PIPA 'additional information')."
    )


def study_id(key: bytes, site: str, local_id: str) -> str:
    """Pseudonymous study ID: HMAC-SHA256(key, site + US + local ID), first 16 hex digits."""
    msg = f"{site}\x1f{str(local_id).strip()}".encode()
    return hmac.new(key, msg, hashlib.sha256).hexdigest()[:ID_HEX_DIGITS]
