"""Declarative, versioned risk schemes applied per patient with an explanation."""

from __future__ import annotations

from typing import Any

import pandas as pd

from cohortflow.core.expr import evaluate, names

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
    group = pd.Series(pd.NA, index=idx, dtype="string")
    fired = pd.Series([[] for _ in idx], index=idx, dtype=object)
    rejected = pd.Series([[] for _ in idx], index=idx, dtype=object)
    missing = pd.Series([[] for _ in idx], index=idx, dtype=object)
    undecided = pd.Series(True, index=idx)
    for g in scheme["groups"]:
        crit = g.get("any_of") or g.get("all_of")
        results = {c["name"]: evaluate(c["expr"], df) for c in crit}
        for c in crit:
            r = results[c["name"]]
            for i in idx[~r.known & undecided]:
                miss = [
                    n
                    for n in names(c["expr"])
                    if n in df.columns and (pd.isna(df.at[i, n]) or str(df.at[i, n]) == "unknown")
                ]
                missing[i] = sorted(set(missing[i]) | set(miss))
        vals = [results[c["name"]] for c in crit]
        if "any_of" in g:
            holds = pd.concat([v.value & v.known for v in vals], axis=1).any(axis=1)
            known = holds | pd.concat([v.known for v in vals], axis=1).all(axis=1)
        else:
            holds = pd.concat([v.value & v.known for v in vals], axis=1).all(axis=1)
            known = holds | pd.concat([~v.value & v.known for v in vals], axis=1).any(axis=1)
        group[undecided & holds] = g["group"]
        for i in idx[undecided & holds]:  # only the assigned group's criteria are reported
            fired[i] = [c["name"] for c in crit if results[c["name"]].value[i]]
        group[undecided & ~known] = UNCLASSIFIABLE
        for i in idx[undecided & known & ~holds]:  # why an earlier group did not apply
            state = [
                f"{c['name']}="
                + (
                    ("true" if results[c["name"]].value[i] else "false")
                    if results[c["name"]].known[i]
                    else "unknown"
                )
                for c in crit
            ]
            rule = "any of" if "any_of" in g else "all of"
            rejected[i].append(f"{g['group']} not met ({rule}: {', '.join(state)})")
        undecided &= known & ~holds
    group[undecided] = scheme["otherwise"]
    flags = [[] for _ in idx]
    for f in scheme.get("flags", []):
        r = evaluate(f["expr"], df)
        for k, hit in enumerate(r.value & r.known):
            if hit:
                flags[k].append(f["name"])
    out = pd.DataFrame(
        {
            "study_id": df["study_id"].to_numpy(),
            "scheme": scheme["id"],
            "scheme_version": scheme["version"],
            "group": group.to_numpy(),
            "criteria_fired": [";".join(f) for f in fired],
            "flags": [";".join(f) for f in flags],
            "groups_not_met": [
                "; ".join(r) if g != UNCLASSIFIABLE else ""
                for r, g in zip(rejected, group, strict=True)
            ],
            "missing_inputs": [
                ";".join(m) if g == UNCLASSIFIABLE else ""
                for m, g in zip(missing, group, strict=True)
            ],
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
