"""The dictionary: docs in sync, pandera schemas built from it."""

from pathlib import Path

import pandas as pd
import pandera.errors
import pytest

from cohortflow.core import dictionary


def test_docs_are_generated_from_the_dictionary():
    docs = Path(__file__).resolve().parents[1] / "docs" / "dictionary.md"
    assert docs.read_text(encoding="utf-8") == dictionary.render_docs(), (
        "docs/dictionary.md is stale: run "
        "`python -m cohortflow.core.dictionary > docs/dictionary.md`"
    )


def test_every_column_documented_with_type_and_meaning():
    for table in dictionary.tables():
        for name, spec in dictionary.columns(table).items():
            assert spec["type"] in {"str", "category", "date", "int", "float", "bool"}, name
            assert spec.get("meaning"), f"{table}.{name} has no meaning"


def test_schema_checks_ranges_and_codes_lazily():
    df = dictionary.empty_frame("patients")
    row = {c: pd.NA for c in df.columns}
    row.update(study_id="a", site="S", source_sha256="x", source_row=2, wbc=2500.0, sex="X")
    bad = dictionary.conform(pd.DataFrame([row]))
    with pytest.raises(pandera.errors.SchemaErrors) as exc:
        dictionary.pandera_schema("patients").validate(bad, lazy=True)
    cases = exc.value.failure_cases
    failed = {(r["column"], str(r["check"])) for r in cases.to_dict("records")}
    assert ("wbc", "less_than_or_equal_to(2000)") in failed
    assert any(col == "sex" and chk.startswith("isin") for col, chk in failed)
    assert len(cases) == 2
