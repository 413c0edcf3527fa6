"""Classify stage: risk group per patient and scheme (rule `classify`)."""

from __future__ import annotations

import logging
from typing import Any

from cohortflow.classify.schemes import classify_all_coded, scheme_inputs
from cohortflow.core.expr import names
from cohortflow.core.io import (
    coded_arrow_table,
    read_columns,
    sha256_file,
    write_arrow,
    write_csv,
    write_csv_coded,
    write_parquet,
)

log = logging.getLogger("cohortflow")


def classify_study(
    patients: str,
    schemes: dict[str, dict[str, Any]],
    groups_out: str,
    explain_out: str,
    data_label: str = "",
) -> None:
    """Risk group per patient and scheme, with the criteria that fired (reading only the
    columns the schemes use)."""
    wanted = {"study_id"} | {v for s in schemes.values() for v in scheme_inputs(s)}
    wanted |= {v for s in schemes.values() for f in s.get("flags", []) for v in names(f["expr"])}
    df = read_columns(patients, wanted)
    risk, codes, distinct = classify_all_coded(df, schemes)
    risk.insert(0, "data_label", data_label)
    distinct.insert(0, "data_label", data_label)
    info = {
        "stage": "classify",
        "schemes": {k: v["version"] for k, v in schemes.items()},
        "inputs": {"patients_sha256": sha256_file(patients)},
    }
    table = coded_arrow_table(distinct, codes, "study_id", risk["study_id"])
    if table is None:
        write_parquet(risk, groups_out, info)
    else:
        write_arrow(table, groups_out, info)
    if not write_csv_coded(distinct, codes, "study_id", risk["study_id"], explain_out):
        write_csv(risk, explain_out)
    for (scheme, group), n in risk.groupby(["scheme", "group"]).size().items():
        log.info("scheme %s: %s = %d", scheme, group, n)
