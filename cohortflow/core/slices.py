"""The slice of a study definition each rule receives (PyPSA-Eur ``config_provider`` style).

A rule's ``params`` hold only what its stage reads, so an edit reruns exactly the jobs that
use the edited part: an analysis title reruns that analysis's figure and the tables and
report that print it, never a per-site job. Each slice is a :class:`Digest`, a plain dict whose
``repr`` (what Snakemake records and prints when params change) is a short content hash, so no
params line is ever longer than a few dozen characters however large the study.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from cohortflow.core.defaults import Study

#: Keys of an analysis or competing-risks analysis that only change how it is drawn or
#: printed (not the numbers of ``analyse``).
PRESENTATION_KEYS = ("title", "xmax_years", "ci_bands")
#: Study keys no study-level stage reads (the per-site mappings go to per-site rules).
SITE_KEYS = ("site_mappings", "sites")


class _ContentHashed:
    """``repr`` is a SHA-256 of the content (stable across runs and machines); pickled (to
    the job) as the plain built-in ``_plain``."""

    _plain: type

    def __repr__(self) -> str:
        text = json.dumps(self, sort_keys=True, default=str, ensure_ascii=False)
        return f"sha256:{hashlib.sha256(text.encode('utf-8')).hexdigest()[:16]}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (self._plain, (self._plain(self),))


class Digest(_ContentHashed, dict):
    """A dict whose ``repr`` is a SHA-256 of its content."""

    _plain = dict


class DigestList(_ContentHashed, list):
    """A list whose ``repr`` is a SHA-256 of its content (long lists of files or sites)."""

    _plain = list


def digest(obj: dict[str, Any] | list[Any]) -> Digest | DigestList:
    """``obj`` as a :class:`Digest` (a dict) or :class:`DigestList` (a list)."""
    return DigestList(obj) if isinstance(obj, list) else Digest(obj)


def _without(study: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in study.items() if k not in keys}


def analyse_slice(study: dict[str, Any]) -> Digest:
    """What ``analyse`` reads: eligibility, endpoints, analyses (without titles and axis
    settings), groupings, schemes, models, responses, cut-off and label."""
    s = _without(study, (*SITE_KEYS, "tables", "swimmer", "title", "validation"))
    for key in ("analyses", "cif_analyses"):
        if key in s:
            s[key] = [{k: v for k, v in a.items() if k not in PRESENTATION_KEYS} for a in s[key]]
    return digest(s)


def label_slice(study: dict[str, Any]) -> Digest:
    """ID, title, label and validation policy (data-quality reports, CONSORT diagram)."""
    keys = ("id", "title", "data_label", "validation")
    return digest({k: study[k] for k in keys if k in study})


def table_slice(study: dict[str, Any], table: str) -> Digest:
    """One descriptive table's definition with the study's ID, title and label."""
    s = dict(label_slice(study))
    tables = Study.of(study).tables
    s["tables"] = {table: tables[table]} if table in tables else {}
    return digest(s)


def figure_slice(study: dict[str, Any], figure: str) -> Digest:
    """What figure ``figure`` (km_<analysis>[...], cif_<id>, forest_<model>, swimmer) reads:
    its own analysis or model, endpoints, groupings, schemes and the study's labels."""
    s = _without(study, (*SITE_KEYS, "tables", "eligibility", "responses", "validation"))
    body = figure.removeprefix("km_").removeprefix("cif_").removeprefix("forest_")
    for key in ("analyses", "cif_analyses", "cox_models"):
        items = study.get(key, [])
        s[key] = [
            a
            for a in items
            if a["id"] == body
            or body.startswith(f"{a['id']}_landmark_")
            or body == f"{a['id']}_simon_makuch"
            or body == f"{a['id']}_fine_gray"
        ]
    if figure != "swimmer":
        s.pop("swimmer", None)
    return digest(s)


def report_slice(study: dict[str, Any]) -> Digest:
    """Everything but the site mappings (study-level tables, workbook, manifest, report)."""
    return digest(_without(study, ("site_mappings",)))


def mapping_slice(mapping: dict[str, Any]) -> Digest:
    """A site mapping (per-site rules)."""
    return digest(mapping)


def workbook_sheets(study: dict[str, Any], base: str) -> dict[str, str]:
    """CSV tables (under the study's results directory ``base``) that go into the study's
    XLSX workbook, by sheet name."""
    sheets = {t: f"{base}/tables/{t}.csv" for t in Study.of(study).tables}
    sheets.update(
        {
            "survival": f"{base}/analyse/survival.csv",
            "tests": f"{base}/analyse/tests.csv",
            "response_rates": f"{base}/analyse/response_rates.csv",
            "cox": f"{base}/analyse/cox.csv",
            "competing_risks": f"{base}/analyse/cif.csv",
            "rmst": f"{base}/analyse/rmst.csv",
            "flow": f"{base}/analyse/flow.csv",
            "set_aside": f"{base}/analyse/set_aside.csv",
        }
    )
    return sheets
