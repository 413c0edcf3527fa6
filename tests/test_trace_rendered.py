"""`trace --table` accepts the Markdown and HTML tables the workflow rendered, not only CSV."""

from __future__ import annotations

import pytest

from cohortflow.core.errors import CohortflowError
from cohortflow.provenance.rendered import read_rendered
from cohortflow.provenance.trace import trace_cell


@pytest.mark.parametrize("ext", ["md", "html"])
def test_descriptive_table_cell_is_the_csv_cell(workflow_run, ext):
    tables = workflow_run / "results/infant_all/tables"
    rows = read_rendered(tables / f"table1.{ext}")
    # the rendered row of 'Not rearranged' (Markdown leaves the item blank under its first level)
    k = next(i for i, (_s, _h, c) in enumerate(rows, 1) if c[1] == "Not rearranged")
    got = trace_cell(workflow_run, "infant_all", tables / f"table1.{ext}", k, "N = 9")
    csv_row = 1 + next(
        i
        for i, line in enumerate((tables / "table1.csv").read_text("utf-8").splitlines()[1:])
        if ",MLL (KMT2A),Not rearranged," in line
    )
    want = trace_cell(workflow_run, "infant_all", tables / "table1.csv", csv_row, "display")
    assert got == want
    assert got["value"] == "2 (22.2)" and len(got["counted"]) == 2


@pytest.mark.parametrize("ext", ["md", "html"])
def test_survival_table_cell_is_the_csv_cell(workflow_run, ext):
    path = workflow_run / f"results/infant_all/tables/survival.{ext}"
    got = trace_cell(workflow_run, "infant_all", path, 2, "Estimate ± SE (%)")
    assert got["table"].endswith("analyse/survival.csv") and got["column"] == "estimate"
    assert got["row_values"]["analysis"] == "efs_all" and got["row_values"]["time_years"] == "3"
    assert float(got["value"]) == pytest.approx(0.6667, abs=1e-4)


def test_rendered_table_errors_are_clear(workflow_run):
    md = workflow_run / "results/infant_all/tables/table1.md"
    n = len(read_rendered(md))
    with pytest.raises(CohortflowError, match=f"data rows 1-{n}, not {n + 1}"):
        trace_cell(workflow_run, "infant_all", md, n + 1, "N = 9")
    with pytest.raises(CohortflowError, match="no column 'n'"):
        trace_cell(workflow_run, "infant_all", md, 1, "n")
    flow = workflow_run / "results/infant_all/tables/flow.md"
    with pytest.raises(CohortflowError, match="give its CSV"):
        trace_cell(workflow_run, "infant_all", flow, 1, read_rendered(flow)[0][1][0])
