"""Analyse stage: cohort, ADTTE, survival summaries, tests, models and flow (rule `analyse`)."""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import pandera.errors
import pyarrow.parquet as pq

from cohortflow.analyse.analysis import analyse, build_cohort, columns_read
from cohortflow.analyse.endpoints import adtte_schema
from cohortflow.core.aside import Aside
from cohortflow.core.defaults import Responses, Study
from cohortflow.core.errors import CohortflowError
from cohortflow.core.io import (
    sha256_file,
    write_csv,
    write_csv_by_id,
    write_parquet,
    write_parquet_carrying,
)

log = logging.getLogger("cohortflow")


def check_adtte(adtte: pd.DataFrame) -> None:
    """Stop with the violations listed (endpoint, site, study ID, column, check) when the ADTTE
    dataset breaks its schema."""
    try:
        adtte_schema().validate(adtte, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        lines = []
        for r in cases.head(20).to_dict("records"):
            where = ""
            idx = r.get("index")
            if idx is not None and not pd.isna(idx) and idx in adtte.index:
                row = adtte.loc[idx]
                where = (
                    f"endpoint {row['PARAMCD']}, site {row['site']}, study ID {row['study_id']}"
                    f" ({row['CNSDTDSC'] or row['EVNTDESC']}): "
                )
            lines.append(
                f"  {where}{r.get('column')}: {r.get('check')} (value {r.get('failure_case')})"
            )
        more = f"\n  ... and {len(cases) - 20} more" if len(cases) > 20 else ""
        raise CohortflowError(
            f"the analysis dataset (ADTTE) breaks its schema in {len(cases)} place(s), e.g. a "
            "follow-up date before the time origin; fix the records (see the data-quality "
            "report):\n" + "\n".join(lines) + more
        ) from None


def analyse_study(
    patients: str,
    risk_groups: str,
    study: dict[str, Any],
    outputs: dict[str, str],
    responses: str | None = None,
    reconciliations: list[str] | None = None,
) -> None:
    """Cohort with eligibility, ADTTE endpoints, KM summaries, tests, responses and the flow,
    and what the figures draw (``curves``, the time-dependent tables): each output that
    ``outputs`` names, Parquet or CSV by its suffix."""
    st = Study.of(study)
    every = pq.read_schema(patients).names
    used = columns_read(study, every)
    cohort = build_cohort(
        pd.read_parquet(patients, columns=used),
        pd.read_parquet(risk_groups, columns=["scheme", "study_id", "group"]),
        st.eligibility,
        pd.read_parquet(responses, columns=["study_id", "response"]) if responses else None,
        Responses.of(study.get("responses")).order,
    )
    res = analyse(cohort, study)
    check_adtte(res["adtte"])
    prov = {
        "inputs": {
            "patients_sha256": sha256_file(patients),
            "risk_groups_sha256": sha256_file(risk_groups),
        },
        "data_label": st.data_label,
    }
    # the cohort file (written beside the others) holds every patient column: those no
    # analysis reads go from file to file as Arrow columns
    order = every + [c for c in cohort.columns if c not in every]
    writing = Aside(
        lambda: write_parquet_carrying(
            cohort,
            pq.read_table(patients, columns=[c for c in every if c not in used]),
            order,
            outputs["cohort"],
            {"stage": "analyse", **prov},
        )
    )
    try:
        write_parquet(res["adtte"], outputs["adtte"], {"stage": "analyse", **prov})
        if reconciliations and "set_aside" in outputs:
            write_csv(set_aside_table(reconciliations, st.data_label), outputs["set_aside"])
        tables = {k: v for k, v in res.items() if k != "adtte"}
        _write_tables(tables, outputs, {"stage": "analyse", **prov})
    finally:
        writing.result()
    log.info("analysed %d of %d patients", int(cohort["analysed"].sum()), len(cohort))


def _write_tables(
    tables: dict[str, pd.DataFrame], outputs: dict[str, str], meta: dict[str, Any]
) -> None:
    """Each table that ``outputs`` names, as Parquet (with ``meta``) or CSV by its suffix."""
    for name in (k for k in tables if k in outputs):
        if outputs[name].endswith(".parquet"):
            write_parquet(tables[name], outputs[name], meta)
        elif "study_id" in tables[name]:  # one row per patient (eligibility)
            write_csv_by_id(tables[name], outputs[name])
        else:
            write_csv(tables[name], outputs[name])


def set_aside_table(reconciliations: list[str], data_label: str = "") -> pd.DataFrame:
    """Records received and set aside (quarantined) per site and overall, with the failed
    checks that set them aside (``reasons``: "check: records; ...")."""
    rows, every = [], Counter()
    for p in reconciliations:
        r = json.loads(Path(p).read_text(encoding="utf-8"))
        # records set aside per failed check (a record failing two checks counts under each)
        why = Counter(
            c.strip()
            for checks in (r.get("quarantine_reasons") or {}).values()
            for c in str(checks).split(";")
            if c.strip()
        )
        every.update(why)
        rows.append(
            {
                "site": r["site"],
                "records_received": r["rows_read"],
                "set_aside": r["rows_quarantined"],
                "policy": r["policy"],
                "site_set_aside": r.get("site_set_aside", ""),
                "reasons": "; ".join(f"{k}: {v}" for k, v in sorted(why.items())),
            }
        )
    cols = ["site", "records_received", "set_aside", "policy", "site_set_aside", "reasons"]
    df = pd.DataFrame(rows, columns=cols)
    total = {
        "site": "All",
        "records_received": int(df["records_received"].sum()),
        "set_aside": int(df["set_aside"].sum()),
        "policy": df["policy"].iloc[0] if len(df) else "",
        "site_set_aside": "; ".join(
            f"{s}: {why}" for s, why in zip(df["site"], df["site_set_aside"], strict=True) if why
        ),
        "reasons": "; ".join(f"{k}: {v}" for k, v in sorted(every.items())),
    }
    return pd.concat([df, pd.DataFrame([total])], ignore_index=True).assign(data_label=data_label)
