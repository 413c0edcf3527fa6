"""Command line `cohortflow trace`: the provenance of one harmonised value (value lineage,
``provenance.value_lineage``) or of one cell of an output table (table-cell lineage,
``provenance.cell_lineage``)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from cohortflow.core.errors import CohortflowError
from cohortflow.provenance.cell_lineage import format_cell_trace, trace_cell
from cohortflow.provenance.value_lineage import format_value_trace, trace_value

__all__ = ["format_trace", "main", "trace_cell", "trace_value"]


def format_trace(d: dict[str, Any]) -> str:
    """Plain-text report of a trace (``trace_value`` or ``trace_cell`` result)."""
    if d.get("kind") == "cell":
        return format_cell_trace(d)
    return format_value_trace(d)


def main(argv: list[str] | None = None) -> int:
    """`trace`: print where a harmonised value came from, or what an output cell counts."""
    parser = argparse.ArgumentParser(
        prog="cohortflow trace",
        description="Trace a harmonised value to its source cell, or explain an output cell.",
    )
    parser.add_argument("--study", required=True)
    parser.add_argument("--root", default=".", help="repository root (default: .)")
    parser.add_argument(
        "--results", help="results folder or a study's result tree (default: <root>/results)"
    )
    parser.add_argument("--restricted", help="restricted folder (default: <root>/restricted)")
    parser.add_argument("--study-id", "--patient", dest="study_id", help="the patient's study ID")
    parser.add_argument("--variable", help="canonical variable, e.g. wbc")
    parser.add_argument(
        "--table",
        help="an output table: CSV (e.g. results/rr_all/analyse/survival.csv) or the Markdown/"
        "HTML it was rendered as (results/rr_all/tables/table1.md, survival.html)",
    )
    parser.add_argument("--row", type=int, help="1-based data row of --table")
    parser.add_argument("--column", help="column of --table")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    args = parser.parse_args(argv)
    try:
        if args.table:
            if args.row is None or not args.column:
                parser.error("--table needs --row and --column")
            d = trace_cell(Path(args.root), args.study, Path(args.table), args.row, args.column)
        elif args.study_id and args.variable:
            d = trace_value(
                Path(args.root),
                args.study,
                args.study_id,
                args.variable,
                results=Path(args.results) if args.results else None,
                restricted=Path(args.restricted) if args.restricted else None,
            )
        else:
            parser.error("give --study-id and --variable, or --table, --row and --column")
    except CohortflowError as exc:
        print(f"cohortflow trace: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(d, indent=2, ensure_ascii=False, default=str))
    else:
        sys.stdout.write(format_trace(d))
    return 0


if __name__ == "__main__":
    sys.exit(main())
