"""Declarative, versioned risk schemes applied per patient with an explanation."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from cohortflow.core.expr import evaluate, names
from cohortflow.core.vectors import join_parts, label_where

UNCLASSIFIABLE = "unclassifiable"


def scheme_inputs(scheme: dict[str, Any]) -> list[str]:
    """Every canonical variable a scheme reads."""
    out: list[str] = []
    for g in scheme["groups"]:
        for c in g.get("any_of", []) + g.get("all_of", []):
            out += [n for n in names(c["expr"]) if n not in out]
    return out


def classify(df: pd.DataFrame, scheme: dict[str, Any]) -> pd.DataFrame:
    """One row per patient: group, fired criteria, the earlier groups that did not apply (each
    criterion true/false/unknown), missing inputs, scheme id and version.

    Groups are tried in order; a group is assigned when its criteria hold. If a group's
    criteria are unknown (inputs missing) before any group holds, the patient is
    'unclassifiable' with the missing inputs named. 'otherwise' applies only when every
    group is known not to hold.
    """
    idx = df.index
    n = len(df)
    group = pd.Series(pd.NA, index=idx, dtype="string")
    fired = np.full(n, "", dtype=object)
    rejected = np.full(n, "", dtype=object)
    missing: dict[str, np.ndarray] = {}
    undecided = np.ones(n, dtype=bool)
    absent_cache: dict[str, np.ndarray] = {}

    def absent(name: str) -> np.ndarray:
        if name not in absent_cache:
            col = df[name]
            absent_cache[name] = (col.isna() | (col.astype("string") == "unknown")).to_numpy(
                dtype=bool, na_value=True
            )
        return absent_cache[name]

    for g in scheme["groups"]:
        crit = g.get("any_of") or g.get("all_of")
        results = {c["name"]: evaluate(c["expr"], df) for c in crit}
        value = {k: _bools(r.value) for k, r in results.items()}
        known = {k: _bools(r.known) for k, r in results.items()}
        for c in crit:
            unknown_now = ~known[c["name"]] & undecided
            for name in names(c["expr"]):
                if name in df.columns:
                    hit = unknown_now & absent(name)
                    missing[name] = missing.get(name, np.zeros(n, dtype=bool)) | hit
        vals = [c["name"] for c in crit]
        if "any_of" in g:
            holds = np.logical_or.reduce([value[v] & known[v] for v in vals])
            known_g = holds | np.logical_and.reduce([known[v] for v in vals])
        else:
            holds = np.logical_and.reduce([value[v] & known[v] for v in vals])
            known_g = holds | np.logical_or.reduce([~value[v] & known[v] for v in vals])
        assign = undecided & holds
        group[assign] = g["group"]
        # only the assigned group's criteria are reported
        names_fired = join_parts([label_where(assign & value[v], v) for v in vals], n)
        fired = np.where(assign, names_fired, fired)
        group[undecided & ~known_g] = UNCLASSIFIABLE
        not_met = undecided & known_g & ~holds  # why an earlier group did not apply
        if not_met.any():
            state = join_parts(
                [
                    np.where(
                        known[v], np.where(value[v], f"{v}=true", f"{v}=false"), f"{v}=unknown"
                    ).astype(object)
                    for v in vals
                ],
                n,
                sep=", ",
            )
            rule = "any of" if "any_of" in g else "all of"
            text = f"{g['group']} not met ({rule}: " + state + ")"
            rejected = join_parts([rejected, np.where(not_met, text, "")], n, sep="; ")
        undecided &= known_g & ~holds
    group[undecided] = scheme["otherwise"]
    flags = []
    for f in scheme.get("flags", []):
        r = evaluate(f["expr"], df)
        flags.append(label_where(_bools(r.value) & _bools(r.known), f["name"]))
    grp = group.to_numpy()
    unclassifiable = np.asarray(grp == UNCLASSIFIABLE, dtype=bool)
    missing_str = join_parts([label_where(missing[k], k) for k in sorted(missing)], n)
    out = pd.DataFrame(
        {
            "study_id": df["study_id"].to_numpy(),
            "scheme": scheme["id"],
            "scheme_version": scheme["version"],
            "group": grp,
            "criteria_fired": fired,
            "flags": join_parts(flags, n),
            "groups_not_met": np.where(unclassifiable, "", rejected).astype(object),
            "missing_inputs": np.where(unclassifiable, missing_str, "").astype(object),
        }
    )
    return out


def classify_all(patients: pd.DataFrame, schemes: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """Long table: one row per patient and scheme with group and explanation."""
    frames = [classify(patients, s) for s in schemes.values()]
    if not frames:
        return pd.DataFrame(
            columns=[
                "study_id",
                "scheme",
                "scheme_version",
                "group",
                "criteria_fired",
                "flags",
                "groups_not_met",
                "missing_inputs",
            ]
        )
    return pd.concat(frames, ignore_index=True)


def _bools(s: pd.Series) -> np.ndarray:
    """A three-valued result's booleans (missing as False) as a numpy array."""
    return np.asarray(pd.Series(s).fillna(False).to_numpy(), dtype=bool)
