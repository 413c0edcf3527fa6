"""The findings table every check writes, and findings from the canonical pandera schemas."""

from __future__ import annotations

import pandas as pd
import pandera.errors

from cohortflow.core import dictionary

FINDING_COLUMNS = [
    "site",
    "study_id",
    "source_row",
    "source_column",
    "variable",
    "value",
    "check",
    "category",
    "severity",
    "message",
]


def pandera_findings(
    df: pd.DataFrame, site: str, stage: str, table: str = "patients", ranges: bool = True
) -> pd.DataFrame:
    """Findings from a lazy pandera validation of a canonical table (all failures collected)."""
    schema = dictionary.pandera_schema(table, ranges=ranges)
    try:
        schema.validate(df, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        rows = []
        for fc in exc.failure_cases.to_dict("records"):
            idx = fc.get("index")
            ok = idx is not None and not pd.isna(idx) and int(idx) < len(df)
            rows.append(
                dict(
                    site=site,
                    study_id=df["study_id"].iloc[int(idx)] if ok else None,
                    source_row=int(df["source_row"].iloc[int(idx)]) if ok else None,
                    source_column=None,
                    variable=fc.get("column"),
                    value=str(fc.get("failure_case")),
                    check="schema_conformance",
                    category="conformance",
                    severity="fatal",
                    message=f"{stage}: {table} schema check {fc.get('check')} failed",
                )
            )
        return pd.DataFrame(rows, columns=FINDING_COLUMNS)
    return pd.DataFrame(columns=FINDING_COLUMNS)
