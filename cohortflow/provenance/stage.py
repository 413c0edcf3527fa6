"""Manifest stage: the study's manifest JSON (rule `manifest`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cohortflow.core.io import write_json
from cohortflow.provenance.manifest import build_manifest


def write_manifest(
    study: dict[str, Any],
    submissions: list[str],
    ingest_meta: list[str],
    summaries: list[str],
    config_files: list[str],
    outputs: list[str],
    out: str,
    superseded: list[dict[str, Any]] | None = None,
) -> None:
    """The study's manifest JSON."""
    man = build_manifest(
        study,
        submissions=submissions,
        config_files=config_files,
        outputs=outputs,
        ingest_meta=[json.loads(Path(p).read_text()) for p in ingest_meta],
        site_summaries=[json.loads(Path(p).read_text()) for p in summaries],
        superseded=superseded or [],
    )
    write_json(man, out)
