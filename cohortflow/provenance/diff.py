"""Differences between two result trees of one study (two runs, or a run and a data freeze).

A tree is a folder holding a study's outputs (``harmonised/``, ``classify/``, ``analyse/``...):
``results/<study>/``, a freeze ``results/<study>/releases/<freeze-id>/``, or the parent of
such a folder (``results/``). The comparison names patients added and removed per site, every
changed harmonised value (study ID, column, old -> new; lineage columns left out, a changed
source file hash reported on its own), changed risk groups, survival estimates, test p-values
patient-flow counts and Cox model results. Only study IDs appear, never local patient IDs.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from cohortflow.core.errors import CohortflowError

LINEAGE = ("source_sha256", "source_sheet", "source_row")
STUDY_DIRS = ("harmonised", "classify", "analyse")
RISK_FIELDS = ("group", "criteria_fired", "flags", "missing_inputs", "scheme_version")
SURVIVAL_KEY = ("analysis", "stratum", "time_years")
SURVIVAL_FIELDS = ("n", "n_risk", "events", "estimate", "se", "lower", "upper")
TEST_KEY = ("analysis", "endpoint", "test", "groups")
TEST_FIELDS = ("p", "chi2", "df")
FLOW_KEY = ("site", "step")
COX_KEY = ("model", "covariate")
COX_FIELDS = ("status", "n", "events", "hr", "lower", "upper", "p")


def study_tree(path: Path, study: str) -> Path:
    """The folder that directly holds the study's outputs: ``path`` or ``path/<study>``."""
    path = Path(path)
    for cand in (path, path / study):
        if any((cand / d).is_dir() for d in STUDY_DIRS):
            return cand
    raise CohortflowError(
        f"{path} holds no results of study {study!r} (expected {'/, '.join(STUDY_DIRS)}/ "
        f"in it or in {path / study})"
    )


def _missing(v: Any) -> bool:
    return v is None or (not isinstance(v, (str, list, dict)) and pd.isna(v))


def _text(v: Any) -> str:
    """Readable text of a value ('missing' for NA, dates as ISO dates)."""
    if _missing(v):
        return "missing"
    if isinstance(v, pd.Timestamp):
        return v.date().isoformat() if v == v.normalize() else v.isoformat()
    if isinstance(v, float):
        return format(v, ".10g")
    if hasattr(v, "item"):
        return _text(v.item())
    return str(v)


def _num(v: Any) -> float | None:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x


def same(a: Any, b: Any) -> bool:
    """Whether two cell values are equal (NA equals NA; numbers to a relative 1e-9)."""
    if _missing(a) or _missing(b):
        return _missing(a) and _missing(b)
    if isinstance(a, bool) or isinstance(b, bool):
        return bool(a) == bool(b)
    x, y = _num(a), _num(b)
    if x is not None and y is not None:
        return math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12)
    return _text(a) == _text(b)


def _plain(v: Any) -> Any:
    """JSON-friendly copy of a value."""
    if _missing(v):
        return None
    if isinstance(v, pd.Timestamp):
        return _text(v)
    if hasattr(v, "item"):
        return v.item()
    return v


def _read_parquet(path: Path) -> pd.DataFrame | None:
    return pd.read_parquet(path) if path.exists() else None


def _read_csv(path: Path) -> pd.DataFrame | None:
    if not path.exists():
        return None
    if path.stat().st_size <= 1:
        return pd.DataFrame()
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _diff_patients(pa: pd.DataFrame, pb: pd.DataFrame, qb: dict[str, str]) -> dict[str, Any]:
    """Added/removed patients per site, changed values and lineage-only changes."""
    ia, ib = pa.set_index("study_id"), pb.set_index("study_id")
    added = sorted(set(ib.index) - set(ia.index))
    removed = sorted(set(ia.index) - set(ib.index))
    by_site: dict[str, dict[str, list[str]]] = {}
    for sid in added:
        by_site.setdefault(str(ib.at[sid, "site"]), {"added": [], "removed": []})["added"].append(
            sid
        )
    for sid in removed:
        by_site.setdefault(str(ia.at[sid, "site"]), {"added": [], "removed": []})["removed"].append(
            sid
        )
    set_aside = {sid: qb[sid] for sid in removed if sid in qb}
    cols = [c for c in ia.columns if c in ib.columns and c not in LINEAGE]
    only_a = [c for c in ia.columns if c not in ib.columns]
    only_b = [c for c in ib.columns if c not in ia.columns]
    values, lineage = [], {}
    for sid in sorted(set(ia.index) & set(ib.index)):
        ra, rb = ia.loc[sid], ib.loc[sid]
        changed = [c for c in cols if not same(ra[c], rb[c])]
        hash_a = ra.get("source_sha256")
        hash_b = rb.get("source_sha256")
        hash_changed = not same(hash_a, hash_b)
        for c in changed:
            values.append(
                {
                    "study_id": sid,
                    "site": str(rb["site"]),
                    "column": c,
                    "old": _plain(ra[c]),
                    "new": _plain(rb[c]),
                    "source_changed": hash_changed,
                }
            )
        if hash_changed and not changed:
            key = (str(rb["site"]), _text(hash_a), _text(hash_b))
            lineage.setdefault(key, []).append(sid)
    return {
        "by_site": {s: by_site[s] for s in sorted(by_site)},
        "added": added,
        "removed": removed,
        "set_aside_in_b": set_aside,
        "values": values,
        "lineage_only": [
            {"site": k[0], "old_sha256": k[1], "new_sha256": k[2], "study_ids": sorted(v)}
            for k, v in sorted(lineage.items())
        ],
        "columns_only_in_a": only_a,
        "columns_only_in_b": only_b,
    }


def _keyed(df: pd.DataFrame, key: tuple[str, ...]) -> dict[tuple[str, ...], dict[str, Any]]:
    """Rows by key (a repeated key gets an occurrence number appended)."""
    out: dict[tuple[str, ...], dict[str, Any]] = {}
    for rec in df.to_dict("records"):
        k = tuple(str(rec.get(c, "")) for c in key)
        n, kk = 1, k
        while kk in out:
            n += 1
            kk = (*k, f"#{n}")
        out[kk] = rec
    return out


def _diff_table(
    a: pd.DataFrame | None,
    b: pd.DataFrame | None,
    key: tuple[str, ...],
    fields: tuple[str, ...],
) -> dict[str, Any]:
    """Changed fields of rows matched by key, and rows only in one tree."""
    if a is None or b is None:
        return {"available": False, "changed": [], "only_a": [], "only_b": []}
    ka, kb = _keyed(a, key), _keyed(b, key)
    changed = []
    for k in [k for k in ka if k in kb]:
        for f in fields:
            va, vb = ka[k].get(f), kb[k].get(f)
            va = None if va == "" else va
            vb = None if vb == "" else vb
            if not same(va, vb):
                x, y = _num(va), _num(vb)
                changed.append(
                    {
                        "key": list(k),
                        "field": f,
                        "old": va,
                        "new": vb,
                        "delta": (y - x) if x is not None and y is not None else None,
                    }
                )
    return {
        "available": True,
        "changed": changed,
        "only_a": [list(k) for k in ka if k not in kb],
        "only_b": [list(k) for k in kb if k not in ka],
    }


def _quarantined(tree: Path) -> dict[str, str]:
    """Study IDs set aside in a tree, with their reasons."""
    out: dict[str, str] = {}
    for q in sorted((tree / "quarantine").glob("*.parquet")):
        df = pd.read_parquet(q)
        if "study_id" not in df:
            continue
        for r in df.to_dict("records"):
            if not _missing(r.get("study_id")):
                out[str(r["study_id"])] = str(r.get("quarantine_reasons") or "")
    return out


def diff_runs(a: Path, b: Path, study: str) -> dict[str, Any]:
    """Everything that differs between result trees ``a`` (old) and ``b`` (new) of ``study``.

    ``a`` and ``b`` may each be a folder holding ``<study>/`` (e.g. ``results/``) or the study's
    tree itself (``results/<study>/`` or a freeze under ``releases/``).
    """
    ta, tb = study_tree(a, study), study_tree(b, study)
    missing: list[str] = []

    def pair_parquet(rel: str) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
        x, y = _read_parquet(ta / rel), _read_parquet(tb / rel)
        if x is None or y is None:
            missing.append(rel)
        return x, y

    def pair_csv(rel: str) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
        x, y = _read_csv(ta / rel), _read_csv(tb / rel)
        if x is None or y is None:
            missing.append(rel)
        return x, y

    pa, pb = pair_parquet("harmonised/patients.parquet")
    patients = (
        _diff_patients(pa, pb, _quarantined(tb))
        if pa is not None and pb is not None
        else {
            "by_site": {},
            "added": [],
            "removed": [],
            "set_aside_in_b": {},
            "values": [],
            "lineage_only": [],
            "columns_only_in_a": [],
            "columns_only_in_b": [],
        }
    )
    ea, eb = pair_csv("classify/explanations.csv")
    risk = _diff_table(ea, eb, ("study_id", "scheme"), RISK_FIELDS)
    gone = set(patients["added"]) | set(patients["removed"])
    risk["only_a"] = [k for k in risk["only_a"] if k[0] not in gone]
    risk["only_b"] = [k for k in risk["only_b"] if k[0] not in gone]
    sa, sb = pair_csv("analyse/survival.csv")
    ta_, tb_ = pair_csv("analyse/tests.csv")
    fa, fb = pair_csv("analyse/flow.csv")
    ca, cb = pair_csv("analyse/cox.csv")
    return {
        "study": study,
        "a": str(ta),
        "b": str(tb),
        "missing": missing,
        "patients": patients,
        "risk_groups": risk,
        "estimates": _diff_table(sa, sb, SURVIVAL_KEY, SURVIVAL_FIELDS),
        "tests": _diff_table(ta_, tb_, TEST_KEY, TEST_FIELDS),
        "flow": _diff_table(fa, fb, FLOW_KEY, ("n",)),
        "cox": _diff_table(ca, cb, COX_KEY, COX_FIELDS),
    }


def _md_cell(v: Any) -> str:
    return _text(v).replace("|", "\\|").replace("\n", " ")


def _md_table(head: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(_md_cell(x) for x in r) + " |" for r in rows]
    return out


def _delta(v: float | None) -> str:
    return "" if v is None else f"{v:+.6g}"


def _rows_only(title: str, d: dict[str, Any], head: list[str]) -> list[str]:
    out = []
    if d["only_a"]:
        out += ["", f"{title} only in A (gone in B):", ""]
        out += _md_table(head, d["only_a"])
    if d["only_b"]:
        out += ["", f"{title} only in B (new):", ""]
        out += _md_table(head, d["only_b"])
    return out


def _section(
    title: str,
    part: dict[str, Any],
    head: list[str],
    rows: list[list[Any]],
    only: tuple[str, list[str]],
) -> list[str]:
    """One compared output: its changed fields, then the rows only one run has."""
    out = ["", f"## {title}", ""]
    if part["changed"]:
        out += _md_table(head, rows)
    else:
        out.append("No changes." if part["available"] else "Not compared.")
    return out + _rows_only(only[0], part, only[1])


def _summary(d: dict[str, Any]) -> list[str]:
    """The title and the counts of every kind of difference."""
    p, est = d["patients"], d["estimates"]
    n_val_pat = len({v["study_id"] for v in p["values"]})
    p_changes = [c for c in d["tests"]["changed"] if c["field"] == "p"]
    out = [
        f"# Differences between two runs of {d['study']}",
        "",
        f"- A (old): `{d['a']}`",
        f"- B (new): `{d['b']}`",
        "",
        "## Summary",
        "",
        f"- patients added: {len(p['added'])}, removed: {len(p['removed'])}",
        f"- changed values: {len(p['values'])} in {n_val_pat} patient(s)",
        "- source file changed, values unchanged: "
        + (
            ", ".join(f"{x['site']} ({len(x['study_ids'])} patients)" for x in p["lineage_only"])
            or "none"
        ),
        f"- changed risk-group rows: {len({tuple(c['key']) for c in d['risk_groups']['changed']})}",
        f"- changed survival estimates: {len({tuple(c['key']) for c in est['changed']})} rows"
        + (
            f" (+{len(est['only_b'])} new, -{len(est['only_a'])} gone)"
            if est["only_a"] or est["only_b"]
            else ""
        ),
        f"- changed test p-values: {len(p_changes)}",
        f"- changed flow counts: {len(d['flow']['changed'])}",
        f"- changed Cox model results: {len(d['cox']['changed'])}",
    ]
    if d["missing"]:
        out.append(f"- not compared (missing in A or B): {', '.join(d['missing'])}")
    return out


def _patient_sections(p: dict[str, Any]) -> list[str]:
    """Patients added and removed, changed values, source files changed with values unchanged."""
    out = ["", "## Patients added and removed", ""]
    if p["by_site"]:
        out += _md_table(
            ["site", "added", "removed"],
            [
                [s, ", ".join(x["added"]) or "-", ", ".join(x["removed"]) or "-"]
                for s, x in p["by_site"].items()
            ],
        )
        for sid, why in p["set_aside_in_b"].items():
            out.append(f"\n{sid} is set aside in B (quarantine: {why}).")
    else:
        out.append("None.")
    out += ["", "## Changed values", ""]
    if p["values"]:
        out += _md_table(
            ["study ID", "site", "column", "A", "B", "source file"],
            [
                [
                    v["study_id"],
                    v["site"],
                    v["column"],
                    v["old"],
                    v["new"],
                    "changed" if v["source_changed"] else "same",
                ]
                for v in p["values"]
            ],
        )
    else:
        out.append("None.")
    if p["columns_only_in_a"] or p["columns_only_in_b"]:
        out.append(
            f"\nColumns only in A: {p['columns_only_in_a'] or '-'}; "
            f"only in B: {p['columns_only_in_b'] or '-'}."
        )
    out += ["", "## Source file changed, values unchanged", ""]
    if p["lineage_only"]:
        out += _md_table(
            ["site", "A SHA-256", "B SHA-256", "patients"],
            [
                [x["site"], x["old_sha256"], x["new_sha256"], len(x["study_ids"])]
                for x in p["lineage_only"]
            ],
        )
    else:
        out.append("None.")
    return out


def format_diff(d: dict[str, Any]) -> str:
    """The comparison as a Markdown report."""
    est, tests, flow, risk, cox = (
        d[k] for k in ("estimates", "tests", "flow", "risk_groups", "cox")
    )
    out = _summary(d) + _patient_sections(d["patients"])
    out += _section(
        "Risk groups",
        risk,
        ["study ID", "scheme", "field", "A", "B"],
        [[*c["key"][:2], c["field"], c["old"], c["new"]] for c in risk["changed"]],
        ("Rows", ["study ID", "scheme"]),
    )
    out += _section(
        "Survival estimates (analyse/survival.csv)",
        est,
        ["analysis", "stratum", "years", "field", "A", "B", "difference"],
        [
            [*c["key"][:3], c["field"], c["old"], c["new"], _delta(c["delta"])]
            for c in est["changed"]
        ],
        ("Rows", ["analysis", "stratum", "years"]),
    )
    out += _section(
        "Tests (analyse/tests.csv)",
        tests,
        ["analysis", "test", "groups", "field", "A", "B", "difference"],
        [
            [
                c["key"][0],
                c["key"][2],
                c["key"][3],
                c["field"],
                c["old"],
                c["new"],
                _delta(c["delta"]),
            ]
            for c in tests["changed"]
        ],
        ("Tests", ["analysis", "endpoint", "test", "groups"]),
    )
    out += _section(
        "Patient flow (analyse/flow.csv)",
        flow,
        ["site", "step", "A", "B", "difference"],
        [[*c["key"][:2], c["old"], c["new"], _delta(c["delta"])] for c in flow["changed"]],
        ("Steps", ["site", "step"]),
    )
    out += _section(
        "Cox models (analyse/cox.csv)",
        cox,
        ["model", "covariate", "field", "A", "B", "difference"],
        [
            [*c["key"][:2], c["field"], c["old"], c["new"], _delta(c["delta"])]
            for c in cox["changed"]
        ],
        ("Terms", ["model", "covariate"]),
    )
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    """`diff`: write the Markdown comparison of two result trees to stdout or ``--out``."""
    parser = argparse.ArgumentParser(
        prog="cohortflow diff",
        description="Compare two result trees of a study (runs or data freezes).",
    )
    parser.add_argument("a", help="old tree: results/, results/<study>/ or a release folder")
    parser.add_argument("b", help="new tree (same forms)")
    parser.add_argument("--study", required=True)
    parser.add_argument("--out", help="write the Markdown report here instead of stdout")
    args = parser.parse_args(argv)
    try:
        text = format_diff(diff_runs(Path(args.a), Path(args.b), args.study))
    except CohortflowError as exc:
        print(f"cohortflow diff: {exc}", file=sys.stderr)
        return 1
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
