"""The canonical data dictionary (schemas/dictionary.yaml) and pandera schemas built from it."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DICTIONARY_PATH = REPO_ROOT / "schemas" / "dictionary.yaml"


@lru_cache(maxsize=4)
def load_dictionary(path: str | None = None) -> dict[str, Any]:
    """The parsed dictionary YAML."""
    with open(path or DICTIONARY_PATH, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def columns(table: str = "patients") -> dict[str, dict[str, Any]]:
    """Column specifications of one canonical table, in dictionary order."""
    return load_dictionary()["tables"][table]["columns"]


def dictionary_version() -> str:
    """Version string of the canonical dictionary."""
    return str(load_dictionary()["version"])


_DTYPES = {
    "str": "string",
    "category": "string",
    "date": "datetime64[ns]",
    "int": "Int64",
    "float": "Float64",
    "bool": "boolean",
}


def empty_frame(table: str = "patients") -> pd.DataFrame:
    """An empty DataFrame with the canonical columns and dtypes."""
    return pd.DataFrame(
        {name: pd.Series(dtype=_DTYPES[spec["type"]]) for name, spec in columns(table).items()}
    )


def split_variable(var: str) -> tuple[str, str]:
    """(table, column) of a mapping key: 'wbc' -> patients; 'transplants.cgvhd' -> transplants."""
    if "." in var:
        table, col = var.split(".", 1)
        return table, col
    return "patients", var


def spec_of(var: str) -> dict[str, Any]:
    """Dictionary specification of a (possibly table-qualified) mapping key; KeyError if none."""
    table, col = split_variable(var)
    return load_dictionary()["tables"][table]["columns"][col]


def cast(s: pd.Series, spec: dict[str, Any]) -> pd.Series:
    """A series in the canonical dtype of ``spec``."""
    if spec["type"] == "date":
        s = pd.to_datetime(s, errors="raise")
    return s.astype(_DTYPES[spec["type"]])


def tables() -> list[str]:
    """Names of the canonical tables."""
    return list(load_dictionary()["tables"])


def conform(df: pd.DataFrame, table: str = "patients") -> pd.DataFrame:
    """Columns of ``df`` reordered/added to the canonical set with canonical dtypes."""
    out = {}
    for name, spec in columns(table).items():
        kind = spec["type"]
        if name not in df.columns:  # absent: all missing, already in the canonical dtype
            out[name] = pd.Series(index=df.index, dtype=_DTYPES[kind])
            continue
        s = df[name]
        if kind == "date" and s.dtype != _DTYPES[kind]:
            s = pd.to_datetime(s, errors="raise")
        out[name] = s if s.dtype == _DTYPES[kind] else s.astype(_DTYPES[kind])
    return pd.DataFrame(out, index=df.index).reset_index(drop=True)


def pandera_schema(table: str = "patients", *, extra_ok: bool = False, ranges: bool = True) -> Any:
    """A pandera DataFrameSchema of a canonical table: dtypes, allowed values, ranges, required."""
    # lazy: pandera costs 0.6 s of import (python -X importtime) and core.dictionary is
    # imported by every Snakemake start-up; only schema checks need it
    import pandera.pandas as pa

    cols = {}
    for name, spec in columns(table).items():
        checks = []
        if "allowed" in spec:
            checks.append(pa.Check.isin(spec["allowed"], name=f"{name}_allowed"))
        if ranges and "min" in spec:
            checks.append(pa.Check.ge(spec["min"], name=f"{name}_min"))
        if ranges and "max" in spec:
            checks.append(pa.Check.le(spec["max"], name=f"{name}_max"))
        cols[name] = pa.Column(
            _DTYPES[spec["type"]],
            checks=checks,
            nullable=not spec.get("required", False),
            required=True,
        )
    return pa.DataFrameSchema(cols, strict=not extra_ok, name=table)


def render_markdown(table: str = "patients") -> str:
    """The dictionary of one table as a Markdown table for the docs."""
    lines = ["| column | type | unit | allowed / range | meaning |", "|---|---|---|---|---|"]
    for name, spec in columns(table).items():
        allowed = ", ".join(map(str, spec.get("allowed", [])))
        if "min" in spec or "max" in spec:
            allowed = f"{spec.get('min', '')} to {spec.get('max', '')}"
        lines.append(
            f"| `{name}` | {spec['type']} | {spec.get('unit', '')} | {allowed} | "
            f"{spec.get('meaning', '')} |"
        )
    return "\n".join(lines) + "\n"


def render_docs() -> str:
    """The whole dictionary as a Markdown document (docs/dictionary.md is generated from it)."""
    d = load_dictionary()
    parts = [
        "# Canonical data dictionary",
        "",
        f"Version {d['version']}. Generated from `schemas/dictionary.yaml` by "
        "`python -m cohortflow.core.dictionary > docs/dictionary.md`; do not edit by hand. "
        "The pandera schemas that check every stage are built from the same file.",
        "",
    ]
    for name, table in d["tables"].items():
        parts += [f"## `{name}`", "", table.get("description", ""), "", render_markdown(name)]
    return "\n".join(parts)


if __name__ == "__main__":
    print(render_docs(), end="")
