"""`check-mapping`: a site mapping checked against its file before any data job.

Mistakes in a mapping are the coordinating centre's, not the site's: a ``TODO`` left, an
unknown unit, a code that maps to a value the dictionary does not allow, a source column that
is not in the file, a variable the study needs that is not mapped, values in the file that no
``codes`` or ``missing`` entry covers, a date column whose values mostly do not parse. They are
reported here, on one screen, by mapping file and line, and the run stops before the site's
validation, so none of them reaches the site's query listing as a "data query".

The report never shows an identifier: values are listed only for coded columns that do not
look like identifiers, at most a few per variable, each cut short.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from cohortflow.core import dictionary, values
from cohortflow.core.config import load_risk_scheme, load_site, load_yaml, validate
from cohortflow.core.errors import CohortflowError
from cohortflow.core.identifiers import detect_kind, scan
from cohortflow.ingest.submission import read_submission
from cohortflow.onboard.needs import study_needs
from cohortflow.validate.mapping import CELL_COUNTS, DEFAULT_BOOL_CODES

#: A date column is "mostly unparseable" when more than this share of its filled cells fail.
DATE_FAIL_SHARE = 0.5
#: At most this many uncovered values are listed per variable (most frequent first).
MAX_LISTED = 8


@dataclass
class Problem:
    """One configuration problem of a mapping, located by file and line."""

    file: str
    line: int | None
    variable: str
    check: str
    message: str
    severity: str = "error"  # "error" stops the run; "warning" is shown only

    def render(self) -> str:
        """``file:line: [check] variable: message``."""
        where = f"{self.file}:{self.line}" if self.line else self.file
        tag = "" if self.severity == "error" else " (warning)"
        return f"{where}: [{self.check}]{tag} {self.variable}: {self.message}"


class MappingCheckError(CohortflowError):
    """A mapping has configuration errors; the message is the one-screen report."""


class Lines:
    """Line numbers (1-based) of the keys and values of a YAML file, by key path."""

    def __init__(self, text: str) -> None:
        self.at: dict[tuple[str, ...], int] = {}
        self.values: dict[tuple[str, ...], int] = {}
        self.scalars: list[tuple[int, str]] = []
        root = yaml.compose(text)
        if root is not None:
            self._walk(root, ())

    def _walk(self, node: yaml.Node, path: tuple[str, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                key = path + (str(k.value),)
                self.at[key] = k.start_mark.line + 1
                self.values[key] = v.start_mark.line + 1
                self.scalars.append((k.start_mark.line + 1, str(k.value)))
                self._walk(v, key)
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                self.at[path + (str(i),)] = v.start_mark.line + 1
                self._walk(v, path + (str(i),))
        elif isinstance(node, yaml.ScalarNode):
            self.scalars.append((node.start_mark.line + 1, str(node.value)))

    def line(self, *path: str) -> int | None:
        """Line of the deepest existing prefix of ``path``."""
        for n in range(len(path), 0, -1):
            if tuple(path[:n]) in self.at:
                return self.at[tuple(path[:n])]
        return None


@dataclass
class _At:
    """Where a variable's problems are: the mapping file, its lines and the variable."""

    file: str
    lines: Lines
    var: str

    def problem(self, path: tuple[str, ...], check: str, message: str) -> Problem:
        """An error located at ``columns.<var>.<path>`` (or the deepest key that exists)."""
        return Problem(
            self.file, self.lines.line("columns", self.var, *path), self.var, check, message
        )


def _short(v: str) -> str:
    v = str(v)
    return repr(v if len(v) <= 30 else v[:27] + "...")


def _static(mapping: dict[str, Any], lines: Lines, file: str) -> list[Problem]:
    """Problems visible in the mapping alone: TODOs, units, codes outside the dictionary."""
    out: list[Problem] = []
    starts = sorted(
        (ln, key[-1]) for key, ln in lines.at.items() if len(key) == 2 and key[0] == "columns"
    )
    for line, text in lines.scalars:
        if "TODO" in text:
            top = [k for k, ln in lines.at.items() if len(k) == 1 and ln <= line]
            var = max(top, key=lambda k: lines.at[k])[0] if top else "-"
            if var == "columns":
                var = max((v for ln, v in starts if ln <= line), default="columns")
            out.append(Problem(file, line, var, "todo_left", "a TODO is left: decide it"))
    for var, rule in mapping["columns"].items():
        at = _At(file, lines, var)
        unit = str(rule.get("unit", ""))
        if var in CELL_COUNTS and "unit" in rule and "TODO" not in unit and not known_unit(unit):
            text = f"unit {_short(unit)} is not known: use /uL, x10^3/uL or x10^9/L"
            out.append(at.problem(("unit",), "unit_known", text))
        if var in CELL_COUNTS and "unit" not in rule and "unit_source" not in rule:
            text = "no unit: give `unit` (/uL, x10^3/uL or x10^9/L) or `unit_source`"
            out.append(at.problem((), "unit_known", text))
        out += _codes_in_dictionary(rule.get("codes") or {}, dictionary.spec_of(var), at)
    return out


def _codes_in_dictionary(codes: dict[Any, Any], spec: dict[str, Any], at: _At) -> list[Problem]:
    """Codes whose target is not a value the dictionary allows (TODOs are reported apart)."""
    out = []
    allowed = spec.get("allowed")
    for code, target in codes.items():
        if "TODO" in str(target):
            continue  # already reported as a TODO
        if spec["type"] == "bool" and not isinstance(target, bool):
            text = f"code {_short(code)} maps to {_short(target)}: use true or false"
        elif spec["type"] == "category" and str(target) not in map(str, allowed or []):
            text = (
                f"code {_short(code)} maps to {_short(target)}, not a value of the "
                f"dictionary: use one of {allowed}"
            )
        else:
            continue
        out.append(at.problem(("codes", str(code)), "code_in_dictionary", text))
    return out


def _needs(
    mapping: dict[str, Any], study: dict[str, Any] | None, lines: Lines, file: str
) -> list[Problem]:
    if study is None:
        return []
    mapped = set(mapping["columns"])
    declared = set(mapping.get("not_collected", []))
    out = []
    for need in study_needs(study):
        if need.met(mapped):
            continue
        uses = ", ".join(need.used_by[:3]) + (", ..." if len(need.used_by) > 3 else "")
        if declared & set(need.any_of):
            out.append(
                Problem(
                    file,
                    lines.line("not_collected"),
                    need.label,
                    "not_collected",
                    f"declared not collected; study {study['id']} uses it in {uses}",
                    "warning",
                )
            )
            continue
        out.append(
            Problem(
                file,
                lines.line("columns"),
                need.label,
                "required_mapped" if need.level == "required" else "recommended_mapped",
                f"not mapped; study {study['id']} uses it in {uses}",
                "error" if need.level == "required" else "warning",
            )
        )
    return out


def parses(parse: Callable[[str], object], text: str) -> bool:
    """Whether ``parse`` accepts ``text`` (raises no ValueError)."""
    try:
        parse(text)
    except ValueError:
        return False
    return True


def known_unit(text: str) -> bool:
    """Whether a cell-count unit is one cohortflow converts (/uL, x10^3/uL, x10^9/L, ...)."""
    return parses(values.normalise_unit, text)


def is_date(text: str) -> bool:
    """Whether a cell parses as a date (year-month taken as mid-month)."""
    return parses(lambda t: values.parse_date(t, partial="mid"), text)


def is_number(text: str) -> bool:
    """Whether a cell parses as a number (thousands separators and decimal commas included)."""
    return parses(values.parse_number, text)


def _against_file(
    mapping: dict[str, Any], data: pd.DataFrame, lines: Lines, file: str
) -> list[Problem]:
    """Problems seen only with the file: absent columns, uncovered values, unparseable dates."""
    out: list[Problem] = []
    cols = set(data.columns)
    if mapping["local_id"] not in cols:
        out.append(
            Problem(
                file,
                lines.line("local_id"),
                "local_id",
                "source_exists",
                f"column {_short(mapping['local_id'])} is not in the file",
            )
        )
    coded = {r["source"] for r in mapping["columns"].values() if r.get("codes")}
    idents = {f.column for f in scan(data, exempt={mapping["local_id"]}, coded=coded)}
    for var, rule in mapping["columns"].items():
        at = _At(file, lines, var)
        out += [
            at.problem(
                (key,), "source_exists", f"{key} column {_short(rule[key])} is not in the file"
            )
            for key in ("source", "unit_source")
            if key in rule and rule[key] not in cols
        ]
        if rule["source"] not in cols:
            continue
        if "unit_source" in rule and rule["unit_source"] in cols:
            out += _unit_column(data[rule["unit_source"]], at)
        missing = {str(m) for m in rule.get("missing", [])}
        cells = data[rule["source"]].dropna().astype(str).str.strip()
        cells = cells[~cells.map(lambda t, m=missing: values.is_missing(t, m))]
        out += _column_values(var, rule, cells, missing, rule["source"] in idents, at)
    return out


def _unit_column(units: pd.Series, at: _At) -> list[Problem]:
    """Units in a unit column that are not known."""
    bad = Counter(u for u in units.dropna().astype(str).str.strip() if not known_unit(u))
    if not bad:
        return []
    return [
        at.problem(
            ("unit_source",),
            "unit_known",
            "unknown units in the unit column: " + _listing(bad, False),
        )
    ]


#: Per value type: the parser that must accept most cells, the check's name and what to ask.
_PARSED = {
    "date": (is_date, "date_parses", "not dates: is this the right column?"),
    "number": (
        is_number,
        "number_parses",
        "not numbers: is this the right column (or unit text in the cells)?",
    ),
}


def _column_values(
    var: str, rule: dict[str, Any], cells: pd.Series, missing: set[str], ident: bool, at: _At
) -> list[Problem]:
    """A date or number column that mostly does not parse; values no code or missing covers."""
    kind = dictionary.spec_of(var)["type"]
    codes = {str(k).strip().lower() for k in (rule.get("codes") or {})}
    parsed = "date" if kind == "date" else "number" if kind in ("int", "float") else None
    if parsed and (kind == "date" or not codes):
        ok, check, ask = _PARSED[parsed]
        bad = sum(not ok(t) for t in cells)
        if cells.size and bad / cells.size > DATE_FAIL_SHARE:
            text = f"{bad} of {cells.size} filled cells of {_short(rule['source'])} are {ask}"
            return [at.problem(("source",), check, text)]
        return []
    if kind == "category" and not codes:
        codes = {str(a).lower() for a in dictionary.spec_of(var).get("allowed", [])}
    elif kind == "bool" and not codes:
        codes = set(DEFAULT_BOOL_CODES)
    if not codes:
        return []
    sep = rule.get("separator")
    tokens = (
        [x.strip() for t in cells for x in t.replace(";", sep).split(sep) if x.strip()]
        if sep
        else list(cells)
    )
    queried = {str(q) for q in rule.get("query", [])}
    uncovered = Counter(t for t in tokens if t.lower() not in codes and t not in missing | queried)
    if uncovered:
        # identifiers typed into a few coded cells are the site's data errors, not codes the
        # centre forgot (validation removes and queries those cells; no code would cover
        # them); a column that is mostly identifiers is the centre's mapping mistake
        kinds = detect_kind(pd.Series(list(uncovered), dtype=object), "coded")
        typed_in = [v for v, k in zip(list(uncovered), kinds, strict=True) if k is not None]
        if 2 * sum(uncovered[v] for v in typed_in) < len(tokens):
            for value in typed_in:
                del uncovered[value]
    if not uncovered:
        return []
    return [
        at.problem(
            ("codes",),
            "values_covered",
            f"{sum(uncovered.values())} cells of {_short(rule['source'])} hold values "
            "in neither `codes` nor `missing` (nor `query`, for values the site must "
            "correct): " + _listing(uncovered, ident),
        )
    ]


def _listing(counts: Counter, withhold: bool) -> str:
    if withhold:
        return f"{len(counts)} distinct values (not shown: the column looks like an identifier)"
    kinds = detect_kind(pd.Series(list(counts), dtype=object), "free")
    hidden = {v for v, k in zip(counts, kinds, strict=True) if k is not None}
    shown = Counter({v: n for v, n in counts.items() if v not in hidden})
    items = shown.most_common(MAX_LISTED)
    text = ", ".join(f"{_short(v)} x{n}" for v, n in items)
    text += f", and {len(shown) - MAX_LISTED} more" if len(shown) > MAX_LISTED else ""
    if hidden:  # a value that looks like an identifier never reaches a message or log
        text += (
            f"{', ' if text else ''}{len(hidden)} value(s) not shown (they look like identifiers)"
        )
    return text


def check_mapping(
    mapping_file: str | Path,
    *,
    study: dict[str, Any] | None = None,
    data: pd.DataFrame | None = None,
    root: Path = dictionary.REPO_ROOT,
    submission: str | Path | None = None,
) -> list[Problem]:
    """Every configuration problem of one site mapping (errors and warnings).

    ``study`` (a loaded definition) adds the check that every variable it needs is mapped;
    ``data`` (the file as read by the mapping's reader, all text) or ``submission`` (a path to
    read) adds the checks against the file. Without either the mapping's own file is read.
    """
    path = Path(mapping_file)
    full = path if path.is_absolute() else root / path
    text = full.read_text(encoding="utf-8")
    lines = Lines(text)
    mapping = load_site(full, root)
    file = str(mapping_file)
    problems = _static(mapping, lines, file) + _needs(mapping, study, lines, file)
    if data is None:
        src = Path(submission or mapping["file"])
        src = src if src.is_absolute() else root / src
        reader = dict(mapping.get("reader") or {})
        if reader.get("dictionary") and not Path(reader["dictionary"]).is_absolute():
            reader["dictionary"] = str(root / reader["dictionary"])
        data = read_submission(src, reader or None, site=mapping["site"]).data
    problems += _against_file(mapping, data, lines, file)
    return sorted(problems, key=lambda p: (p.severity != "error", p.line or 0, p.variable))


def report(problems: list[Problem], *, site: str, mapping_file: str) -> str:
    """The one-screen report: errors first, then warnings, and what to do."""
    errors = [p for p in problems if p.severity == "error"]
    head = (
        f"site {site}: mapping {mapping_file} has {len(errors)} configuration error(s)"
        if errors
        else f"site {site}: mapping {mapping_file} is consistent with its file"
    )
    body = [f"  {p.render()}" for p in problems]
    tail = (
        [
            "These are the coordinating centre's mapping mistakes, not the site's data: fix the "
            "mapping (nothing was sent to the site's query listing) and run again."
        ]
        if errors
        else []
    )
    return "\n".join([head, *body, *tail]) + "\n"


EPILOG = """\
example (the same site as `onboard --help` and the README's "Adding a site"):
  python -m cohortflow onboard data/new/S10_export.xlsx --site S10 --study rr_all \\
      -o config/sites/rr_all/S10.yaml
  # review the draft: decide every TODO, check every flagged match
  python -m cohortflow check-mapping --study rr_all --site S10 \\
      --mapping config/sites/rr_all/S10.yaml
  # errors name the mapping file and line, e.g.
  #   config/sites/rr_all/S10.yaml:31: [unit_known] wbc: unit 'cells/mm3' is not known ...
  # when it passes, list the site under `sites:` in config/studies/rr_all.yaml and run
  # `make run`: every run repeats this check before the site's validation.
"""


def main(argv: list[str] | None = None) -> int:
    """`python -m cohortflow check-mapping`: exit 1 (and the report) on configuration errors."""
    ap = argparse.ArgumentParser(
        prog="python -m cohortflow check-mapping",
        description="Check a site mapping against its file and its study before any data job.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--study", required=True, help="study id (config/studies/<id>.yaml)")
    ap.add_argument("--site", required=True, help="site code, e.g. S10")
    ap.add_argument(
        "--mapping", help="mapping YAML (default: the one the study lists for the site)"
    )
    ap.add_argument("--file", help="submission to check (default: the one the mapping names)")
    args = ap.parse_args(argv)
    root = dictionary.REPO_ROOT
    path = root / "config" / "studies" / f"{args.study}.yaml"
    if not path.exists():
        raise CohortflowError(f"study {args.study!r}: no definition at {path.relative_to(root)}")
    definition = yaml.safe_load(path.read_text(encoding="utf-8"))
    mapping_file = args.mapping or (definition.get("sites") or {}).get(args.site)
    if not mapping_file:
        raise CohortflowError(
            f"site {args.site!r} is not listed in {path.relative_to(root)}: give --mapping"
        )
    study = study_for_check(args.study, root)
    problems = check_mapping(mapping_file, study=study, root=root, submission=args.file)
    print(report(problems, site=args.site, mapping_file=mapping_file), end="")
    return 1 if any(p.severity == "error" for p in problems) else 0


def study_for_check(
    study: str, root: Path = dictionary.REPO_ROOT, studies_dir: str = "config/studies"
) -> dict[str, Any]:
    """The study definition with its risk schemes, without loading its site mappings (a site
    being checked may not load yet): all ``study_needs`` reads."""
    path = Path(studies_dir) / f"{study}.yaml"
    if not (root / path).exists():
        raise CohortflowError(f"study {study!r}: no definition at {path}")
    data = validate(load_yaml(root / path), "study", path)
    data["schemes"] = {s: load_risk_scheme(s, root) for s in data.get("risk_schemes", [])}
    return data
