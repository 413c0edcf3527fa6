"""Sites' query listings (restricted area: they carry the sites' own local IDs)."""

from __future__ import annotations

import pandas as pd

from cohortflow.core.io import write_csv
from cohortflow.core.xlsx import write_xlsx

QUERY_COLUMNS = [
    "site",
    "local_patient_id",
    "row",
    "column",
    "variable",
    "value",
    "check",
    "severity",
    "message",
]


def write_site_queries(findings: pd.DataFrame, local_of: dict[str, str], out_stem: str) -> None:
    """The site's query listing (CSV and XLSX) with its own local IDs: restricted area only."""
    q = pd.DataFrame(
        {
            "site": findings["site"],
            "local_patient_id": [
                local_of.get(s, "") if isinstance(s, str) else "" for s in findings["study_id"]
            ],
            "row": findings["source_row"],
            "column": findings["source_column"],
            "variable": findings["variable"],
            "value": findings["value"],
            "check": findings["check"],
            "severity": findings["severity"],
            "message": findings["message"],
        },
        columns=QUERY_COLUMNS,
    )
    write_listing_files(q, f"{out_stem}.csv", f"{out_stem}.xlsx")


def write_listing_files(q: pd.DataFrame, csv_out: str, xlsx_out: str) -> None:
    write_csv(q, csv_out)
    write_xlsx(
        {"queries": q},
        xlsx_out,
        title="Data queries: please correct at source and resubmit",
        footnotes=[
            "Each row: a record (row number in your file), the column, the value "
            "read, the check it failed and what to fix."
        ],
    )
