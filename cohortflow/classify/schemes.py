"""Declarative, versioned risk schemes applied per patient with an explanation."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from cohortflow.classify.distinct import absent_distinct, distinct_bits, evaluate_distinct
from cohortflow.core.expr import names
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
    codes, table = classify_coded(df, scheme)
    return expand(df["study_id"], codes, table, scheme)


#: Columns of a classification, after the study ID.
EXPLANATION = (
    "scheme",
    "scheme_version",
    "group",
    "criteria_fired",
    "flags",
    "groups_not_met",
    "missing_inputs",
)


def classify_coded(df: pd.DataFrame, scheme: dict[str, Any]) -> tuple[np.ndarray, pd.DataFrame]:
    """``classify`` in two parts: per patient, the row of ``table`` that holds its group and
    explanation (``table`` has the columns of ``EXPLANATION``, one row per distinct
    explanation). Criteria are evaluated on the distinct input values and the explanations
    written once per distinct pattern of criteria, flags and missing inputs."""
    signals = _signals(df, scheme)
    codes, first = distinct_bits(list(signals.values()), len(df))
    text = _explain({k: v[first] for k, v in signals.items()}, scheme, len(first))
    table = pd.DataFrame({"scheme": scheme["id"], "scheme_version": scheme["version"], **text})
    return codes, table


def expand(
    study_id: pd.Series, codes: np.ndarray, table: pd.DataFrame, scheme: dict[str, Any]
) -> pd.DataFrame:
    """The one-row-per-patient classification from the parts ``classify_coded`` gives."""
    return pd.DataFrame(
        {
            "study_id": study_id.to_numpy(),
            "scheme": scheme["id"],
            "scheme_version": scheme["version"],
            **{c: table[c].to_numpy()[codes] for c in EXPLANATION[2:]},
        }
    )


def _signals(df: pd.DataFrame, scheme: dict[str, Any]) -> dict[str, np.ndarray]:
    """Everything an explanation depends on, per patient: each criterion's value and whether
    it is known, whether each input is missing, each flag."""
    out: dict[str, np.ndarray] = {}
    cache: dict[str, np.ndarray | None] = {}  # each column factorised once
    for g in scheme["groups"]:
        for c in g.get("any_of") or g.get("all_of"):
            r = evaluate_distinct(c["expr"], df, cache)
            out[f"value:{c['name']}"] = _bools(r.value)
            out[f"known:{c['name']}"] = _bools(r.known)
            for name in names(c["expr"]):
                if name in df.columns and f"absent:{name}" not in out:
                    out[f"absent:{name}"] = absent_distinct(df[name], cache)
    for i, f in enumerate(scheme.get("flags", [])):
        r = evaluate_distinct(f["expr"], df, cache)
        out[f"flag:{i}"] = _bools(r.value) & _bools(r.known)
    return out


def _explain(sig: dict[str, np.ndarray], scheme: dict[str, Any], n: int) -> dict[str, Any]:
    """Group and explanation columns of ``n`` rows of ``_signals``."""
    group = pd.Series(pd.NA, index=range(n), dtype="string")
    fired = np.full(n, "", dtype=object)
    rejected = np.full(n, "", dtype=object)
    missing: dict[str, np.ndarray] = {}
    undecided = np.ones(n, dtype=bool)

    for g in scheme["groups"]:
        crit = g.get("any_of") or g.get("all_of")
        value = {c["name"]: sig[f"value:{c['name']}"] for c in crit}
        known = {c["name"]: sig[f"known:{c['name']}"] for c in crit}
        for c in crit:
            unknown_now = ~known[c["name"]] & undecided
            for name in names(c["expr"]):
                if f"absent:{name}" in sig:
                    hit = unknown_now & sig[f"absent:{name}"]
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
    flags = [
        label_where(sig[f"flag:{i}"], f["name"]) for i, f in enumerate(scheme.get("flags", []))
    ]
    grp = group.to_numpy()
    unclassifiable = np.asarray(grp == UNCLASSIFIABLE, dtype=bool)
    missing_str = join_parts([label_where(missing[k], k) for k in sorted(missing)], n)
    return {
        "group": grp,
        "criteria_fired": fired,
        "flags": join_parts(flags, n),
        "groups_not_met": np.where(unclassifiable, "", rejected).astype(object),
        "missing_inputs": np.where(unclassifiable, missing_str, "").astype(object),
    }


def classify_all(patients: pd.DataFrame, schemes: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """Long table: one row per patient and scheme with group and explanation."""
    return classify_all_coded(patients, schemes)[0]


def classify_all_coded(
    patients: pd.DataFrame, schemes: dict[str, dict[str, Any]]
) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    """``classify_all`` with, per row, the row of a table of distinct classifications that it
    repeats but for the study ID: ``(long, codes, distinct)`` where ``long`` equals
    ``distinct.iloc[codes]`` in every column but ``study_id``."""
    coded = [(classify_coded(patients, s), s) for s in schemes.values()]
    if not coded:
        empty = pd.DataFrame(columns=["study_id", *EXPLANATION])
        return empty, np.zeros(0, dtype=np.int64), empty
    long = pd.concat(
        [expand(patients["study_id"], c, t, s) for (c, t), s in coded], ignore_index=True
    )
    offsets = np.cumsum([0] + [len(t) for (_, t), _ in coded])
    codes = np.concatenate([c + off for ((c, _), _), off in zip(coded, offsets, strict=False)])
    distinct = pd.concat(
        [
            expand(pd.Series([""] * len(t), dtype=object), np.arange(len(t)), t, s)
            for (_, t), s in coded
        ],
        ignore_index=True,
    )
    return long, codes, distinct


def _bools(s: pd.Series) -> np.ndarray:
    """A three-valued result's booleans (missing as False) as a numpy array."""
    return np.asarray(pd.Series(s).fillna(False).to_numpy(), dtype=bool)
