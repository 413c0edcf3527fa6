"""Loading and schema validation of workflow, study, site-mapping and risk-scheme YAML."""

from __future__ import annotations

import datetime as dt
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from cohortflow.core.defaults import Analysis, Study
from cohortflow.core.dictionary import REPO_ROOT, spec_of
from cohortflow.core.errors import CohortflowError

SCHEMAS = REPO_ROOT / "schemas"


def _normalise(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _normalise(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_normalise(v) for v in obj]
    if isinstance(obj, dt.date):
        return obj.isoformat()
    return obj


def load_yaml(path: str | Path) -> dict[str, Any]:
    """A YAML file as plain data (dates become ISO strings)."""
    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    if not isinstance(data, dict):
        raise CohortflowError(f"{path}: expected a mapping at the top level")
    return _normalise(data)


@lru_cache(maxsize=8)
def _schema(name: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8"))


def validate(data: dict[str, Any], schema: str, where: str | Path) -> dict[str, Any]:
    """``data`` if it satisfies schemas/<schema>.schema.json, else a CohortflowError listing
    every violation with its location in the file."""
    import jsonschema  # lazy: imported on first use: job start-up without it

    validator = jsonschema.Draft202012Validator(
        _schema(schema), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [
            f"  - at {'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in errors
        ]
        raise CohortflowError(
            f"{where} does not match schemas/{schema}.schema.json:\n" + "\n".join(lines)
        )
    return data


def load_site(path: str | Path, root: Path = REPO_ROOT) -> dict[str, Any]:
    """A validated site mapping; canonical variable names are checked against the dictionary."""
    data = validate(load_yaml(root / path), "site", path)
    unknown = []
    for var in data["columns"]:
        try:
            spec_of(var)
        except KeyError:
            unknown.append(var)
    if unknown:
        raise CohortflowError(
            f"{path}: unknown canonical variables {unknown}; see schemas/dictionary.yaml"
        )
    data.setdefault("reader", {})
    data.setdefault("drop", [])
    resolve_submission(data, where=path)
    return data


def resolve_submission(mapping: dict[str, Any], where: str | Path = "site mapping") -> None:
    """Set ``mapping['file']`` to the submission in use (newest, or the one dated ``use``) and
    ``mapping['superseded']`` to the earlier ones (kept and listed in the manifest)."""
    subs = mapping.get("submissions")
    if not subs:
        mapping["submission_date"] = None
        mapping["superseded"] = []
        return
    ordered = sorted(subs, key=lambda s: s["date"])
    if len({s["date"] for s in ordered}) != len(ordered):
        raise CohortflowError(f"{where}: two submissions share a date")
    chosen = ordered[-1]
    if mapping.get("use"):
        match = [s for s in ordered if s["date"] == mapping["use"]]
        if not match:
            raise CohortflowError(f"{where}: `use: {mapping['use']}` names no submission")
        chosen = match[0]
    mapping["file"] = chosen["file"]
    mapping["submission_date"] = chosen["date"]
    mapping["superseded"] = [s for s in ordered if s is not chosen]


#: The project's data folder: every submitted file must resolve (symlinks followed) inside it
#: unless the study names an `external_data_root`.
DATA_DIR = "data"


def _refuse_outside_data(
    mapping: dict[str, Any], root: Path, external: str | None, *, where: str | Path
) -> None:
    """CohortflowError when a submission (or REDCap dictionary) of a site mapping resolves
    outside ``root/data`` and the study's ``external_data_root`` (submissions are untrusted
    input; a mapping must not make the pipeline read arbitrary files such as /etc/passwd)."""
    allowed = [(root / DATA_DIR).resolve()]
    if external:
        allowed.append((root / Path(external).expanduser()).resolve())
    paths = [mapping["file"], *(s["file"] for s in mapping.get("submissions") or [])]
    if mapping.get("reader", {}).get("dictionary"):
        paths.append(mapping["reader"]["dictionary"])
    for p in paths:
        real = (root / p).resolve()
        if not any(real.is_relative_to(a) for a in allowed):
            raise CohortflowError(
                f"{where}: file {p!r} resolves outside the project's data folder "
                f"({DATA_DIR}/); refused. Copy the submission under {DATA_DIR}/<study>/<site>/ "
                "or set `external_data_root:` in the study definition"
            )


def load_risk_scheme(scheme_id: str, root: Path = REPO_ROOT) -> dict[str, Any]:
    """A validated risk scheme from config/risk_schemes/<id>.yaml."""
    path = Path("config") / "risk_schemes" / f"{scheme_id}.yaml"
    if not (root / path).exists():
        raise CohortflowError(f"risk scheme {scheme_id!r} not found at {path}")
    data = validate(load_yaml(root / path), "risk_scheme", path)
    if data["id"] != scheme_id:
        raise CohortflowError(f"{path}: id {data['id']!r} does not match the file name")
    return data


def load_study(
    study: str, root: Path = REPO_ROOT, studies_dir: str = "config/studies"
) -> dict[str, Any]:
    """A validated study definition with its site mappings and risk schemes resolved."""
    path = Path(studies_dir) / f"{study}.yaml"
    if not (root / path).exists():
        raise CohortflowError(f"study {study!r}: no definition at {path}")
    data = validate(load_yaml(root / path), "study", path)
    if data["id"] != study:
        raise CohortflowError(f"{path}: id {data['id']!r} does not match the file name")
    data["site_mappings"] = {}
    reserved = {"study", "all", "All"}
    for site, mpath in data["sites"].items():
        if site in reserved:
            raise CohortflowError(f"{path}: site code {site!r} is reserved; choose another")
        m = load_site(mpath, root)
        if m["site"] != site:
            raise CohortflowError(f"{mpath}: site {m['site']!r} but the study lists it as {site!r}")
        _refuse_outside_data(m, root, data.get("external_data_root"), where=mpath)
        data["site_mappings"][site] = m
    data["schemes"] = {s: load_risk_scheme(s, root) for s in Study.of(data).risk_schemes}
    for a in data["analyses"]:
        if a["endpoint"] not in data["endpoints"]:
            raise CohortflowError(
                f"{path}: analysis {a['id']} uses unknown endpoint {a['endpoint']!r}"
            )
        if Analysis.of(a).by and a["by"] not in Study.of(data).groupings:
            raise CohortflowError(
                f"{path}: analysis {a['id']} groups by unknown grouping {a['by']!r}"
            )
    data.setdefault("data_label", "")
    data.setdefault("pseudonymisation", {"demo_key": False})
    return data
