"""Command line: `python -m cohortflow {onboard,check-mapping,check,release,trace,diff} ...`."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from cohortflow.core.errors import CohortflowError

ONBOARD_EXAMPLE = """\
example (the same site as `check-mapping --help` and the README's "Adding a site"):
  python -m cohortflow onboard data/new/S10_export.xlsx --site S10 --study rr_all \\
      -o config/sites/rr_all/S10.yaml
  # the draft opens with DECIDE FIRST (flagged matches, TODO codes, variables the study
  # needs that no column gave); each variable carries its confidence and evidence, each
  # code its count and where its meaning came from (e.g. learned from S04.yaml)
  python -m cohortflow check-mapping --study rr_all --site S10 \\
      --mapping config/sites/rr_all/S10.yaml
"""


def _parser() -> argparse.ArgumentParser:
    """The command line's parser (subcommands with their own parsers are listed by name)."""
    parser = argparse.ArgumentParser(prog="python -m cohortflow")
    sub = parser.add_subparsers(dest="command", required=True)
    ob = sub.add_parser(
        "onboard",
        help="draft a site mapping from a sample file",
        description="Draft a site mapping from a sample file: every match and code comes "
        "with a confidence and its evidence, learned from the study's other sites.",
        epilog=ONBOARD_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ob.add_argument("file")
    ob.add_argument("--site", required=True, help="site code, e.g. S10")
    ob.add_argument(
        "--study", help="study the site joins: learn from its mappings, aim at what it needs"
    )
    ob.add_argument("-o", "--out", required=True, help="where to write the draft YAML")
    ob.add_argument("--format", choices=["csv", "xlsx", "sav", "redcap"])
    ob.add_argument("--sheet")
    ob.add_argument("--header-row", type=int, help="row of the column names (guessed for XLSX)")
    ob.add_argument(
        "--header-rows", type=int, help="header rows, e.g. 2 for group titles over names"
    )
    ob.add_argument("--dictionary", help="REDCap data dictionary CSV")
    ck = sub.add_parser(
        "check", help="pre-submission check: a site runs its own file through the study's checks"
    )
    ck.add_argument("--study", required=True)
    ck.add_argument("--site", required=True)
    ck.add_argument("--file", help="the file to check (default: the one named in the mapping)")
    ck.add_argument("--out", required=True, help="folder for the findings and the query listing")
    rl = sub.add_parser("release", help="freeze a study's current results (read-only)")
    rl.add_argument("--study", required=True)
    rl.add_argument("--results", default="results")
    rl.add_argument(
        "--verify", metavar="FREEZE_ID", help="check an existing freeze against its RELEASE.json"
    )
    for name, helptext in (
        ("check-mapping", "check a site mapping against its file and study before any run"),
        ("trace", "where a value or table cell came from"),
        ("diff", "compare two freezes or a freeze and the working results"),
    ):
        sub.add_parser(name, help=f"{helptext} (see `{name} --help`)")
    return parser


def _run(args: argparse.Namespace) -> int:
    """Run the parsed ``onboard``, ``release`` or ``check`` command (imports lazily)."""
    try:
        if args.command == "onboard":
            from cohortflow.onboard.draft import write_draft  # lazy: see main's docstring

            reader = {
                k: v
                for k, v in {
                    "format": args.format,
                    "sheet": args.sheet,
                    "header_row": args.header_row,
                    "header_rows": args.header_rows,
                    "dictionary": args.dictionary,
                }.items()
                if v
            }
            out = write_draft(
                args.file, args.out, site=args.site, reader=reader or None, study=args.study
            )
            print(f"draft mapping written to {out}; review it before use")
        elif args.command == "release":
            # lazy: see main's docstring
            from cohortflow.provenance.release import release, verify_release

            if args.verify:
                dest = Path(args.results) / args.study / "releases" / args.verify
                problems = verify_release(dest)
                for line in problems:
                    print(f"{dest}: {line}")
                if problems:
                    return 1
                print(f"{dest}: intact (every file matches RELEASE.json)")
                return 0
            dest = release(args.study, Path(args.results))
            print(f"released {args.study} as {dest} (read-only)")
        elif args.command == "check":
            from cohortflow.validate.presubmit import check_file  # lazy: see main's docstring

            return check_file(args.study, args.site, args.out, file=args.file)
    except CohortflowError as exc:
        print(f"cohortflow: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the cohortflow command line.

    Each subcommand imports only its own modules (lazily): measured with ``python -X
    importtime`` on the shared machine, ``provenance.trace`` takes 9.5 s, ``validate.presubmit``
    4.1 s, ``onboard.draft`` 3.7 s and ``provenance.release`` 1.1 s, where the parser alone
    takes a few milliseconds.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    own_parsers = {
        "trace": "cohortflow.provenance.trace",
        "diff": "cohortflow.provenance.diff",
        "check-mapping": "cohortflow.onboard.check",
    }
    if argv and argv[0] in own_parsers:
        # lazy: see main's docstring
        module = importlib.import_module(own_parsers[argv[0]])
        try:
            return int(module.main(argv[1:]))
        except CohortflowError as exc:
            print(f"cohortflow: {exc}", file=sys.stderr)
            return 1
    args = _parser().parse_args(argv)
    return _run(args)


if __name__ == "__main__":
    sys.exit(main())
