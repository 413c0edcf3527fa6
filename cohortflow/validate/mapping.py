"""Apply a site mapping (config/sites/...) to a raw all-text submission."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from cohortflow.core import dictionary, values
from cohortflow.core.findings import FINDING_COLUMNS
from cohortflow.core.identifiers import detect_kind, marker
from cohortflow.core.pseudonym import study_id
from cohortflow.ingest.readers import ROW_COL, SHEET_COL

DEFAULT_BOOL_CODES = {
    "y": True,
    "yes": True,
    "1": True,
    "true": True,
    "+": True,
    "예": True,
    "유": True,
    "n": False,
    "no": False,
    "0": False,
    "false": False,
    "-": False,
    "아니오": False,
    "무": False,
}

#: Cell counts given in a site's unit (`unit` or `unit_source`), stored in x10^9/L.
CELL_COUNTS = ("wbc", "platelets")


@dataclass
class Mapped:
    """Typed canonical rows of one site plus the findings raised while mapping them."""

    data: pd.DataFrame
    findings: pd.DataFrame
    local_ids: list[str | None]  # aligned with data rows; for the site's restricted query listing


class _Findings:
    def __init__(self, site: str) -> None:
        self.site = site
        self.rows: list[dict[str, Any]] = []

    def add(
        self,
        sid: str | None,
        row: int,
        source: str | None,
        variable: str,
        check: str,
        message: str,
        *,
        category: str = "conformance",
        severity: str = "fatal",
        value: str | None = None,
    ) -> None:
        self.rows.append(
            dict(
                site=self.site,
                study_id=sid,
                source_row=row,
                source_column=source,
                variable=variable,
                value=value,
                check=check,
                category=category,
                severity=severity,
                message=message,
            )
        )

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=FINDING_COLUMNS)


def _codes_lookup(codes: dict[Any, Any]) -> dict[str, Any]:
    return {str(k).strip().lower(): v for k, v in (codes or {}).items()}


def convert_value(text: str, spec: dict[str, Any], rule: dict[str, Any]) -> tuple[Any, str | None]:
    """Typed value of one cell under a dictionary spec and mapping rule; (value, note).

    Raises ValueError with a message fit for a site query when the cell cannot be read.
    """
    kind = spec["type"]
    codes = _codes_lookup(rule.get("codes", {}))
    t = str(text).strip()
    if kind == "date":
        return values.parse_date(t, partial=rule.get("partial_dates"))
    if kind in ("int", "float"):
        if t.lower() in codes:
            return codes[t.lower()], None
        x = values.parse_number(t)
        if kind == "int":
            if not float(x).is_integer():
                raise ValueError("expected a whole number")
            return int(x), None
        return x, None
    if kind == "bool":
        lookup = codes or DEFAULT_BOOL_CODES
        if t.lower() in lookup:
            return bool(lookup[t.lower()]), None
        raise ValueError(f"value not in the code list {sorted(lookup)}")
    if kind == "category":
        allowed = spec.get("allowed", [])
        if t.lower() in codes:
            return codes[t.lower()], None
        for a in allowed:
            if t.lower() == str(a).lower():
                return a, None
        raise ValueError("value not in the code list")
    # str
    sep = rule.get("separator")
    if sep:
        out = []
        for token in (x.strip() for x in t.replace(";", sep).split(sep)):
            if not token:
                continue
            if codes:
                if token.lower() not in codes:
                    raise ValueError("an item is not in the code list")
                out.append(str(codes[token.lower()]))
            else:
                out.append(token)
        return ";".join(sorted(set(out))), None
    if codes and t.lower() in codes:
        return str(codes[t.lower()]), None
    return t, None


def withhold_value(message: str, value: Any) -> str:
    """``message`` without the cell value it quotes (findings are shareable; the value is
    shown only in the site's restricted query listing)."""
    if value is None:
        return message
    text = str(value)
    for form in (repr(text), repr(text.strip()), text.strip()):
        if form and form not in ("''", '""'):
            message = message.replace(form, "the value")
    return message


def apply_mapping(
    raw: pd.DataFrame, mapping: dict[str, Any], *, key: bytes, source_sha256: str
) -> Mapped:
    """Canonical typed rows (pseudonymised) and conformance findings for one site.

    Local IDs are replaced by study IDs and never copied; unreadable cells become missing and
    raise a fatal finding naming row and column (the value itself is not echoed for identifiers).
    """
    site = mapping["site"]
    findings = _Findings(site)
    id_col = mapping["local_id"]
    if id_col not in raw.columns:
        raise KeyError(f"local ID column {id_col!r} missing from the submission")
    out: dict[str, list[Any]] = {"study_id": [], "site": [], "dates_imputed": []}
    for var in mapping["columns"]:
        out[var] = []
        if var == "wbc":
            out["wbc_raw"], out["wbc_unit"] = [], []
    seen: dict[str, int] = {}
    for rec in raw.to_dict("records"):
        row = int(rec[ROW_COL])
        local = rec.get(id_col)
        if values.is_missing(local):
            sid = None
            findings.add(
                None,
                row,
                id_col,
                "study_id",
                "local_id_present",
                "local patient ID is empty",
                category="completeness",
            )
        else:
            sid = study_id(key, site, local)
            if sid in seen:
                findings.add(
                    sid,
                    row,
                    id_col,
                    "study_id",
                    "local_id_unique",
                    f"same local patient ID as row {seen[sid]}",
                    category="plausibility",
                )
            seen.setdefault(sid, row)
        out["study_id"].append(sid)
        out["site"].append(site)
        imputed: list[str] = []
        for var, rule in mapping["columns"].items():
            spec = dictionary.spec_of(var)
            src = rule["source"]
            text = rec.get(src)
            missing = set(rule.get("missing", []))
            value = None
            if not values.is_missing(text, missing):
                try:
                    value, note = convert_value(text, spec, rule)
                    if note:
                        imputed.append(f"{var}: {note}")
                        findings.add(
                            sid,
                            row,
                            src,
                            var,
                            "date_imputed",
                            note,
                            category="completeness",
                            severity="warning",
                        )
                except ValueError as exc:
                    findings.add(
                        sid,
                        row,
                        src,
                        var,
                        "code_in_list"
                        if rule.get("codes") or spec["type"] in ("bool", "category")
                        else "type_conformance",
                        withhold_value(str(exc), text),
                        value=str(text),
                    )
            if var in CELL_COUNTS:
                unit = values.cell_count_unit(rule, rec.get(rule.get("unit_source", "")))
                canon = None
                if value is not None:
                    try:
                        value, canon = values.convert_cell_count(value, unit)
                    except ValueError as exc:
                        findings.add(
                            sid,
                            row,
                            src,
                            var,
                            "unit_known",
                            withhold_value(str(exc), unit),
                            value=str(unit or ""),
                        )
                        value = None
                if var == "wbc":
                    raw_text = None if values.is_missing(text, missing) else str(text)
                    out["wbc_raw"].append(raw_text)
                    out["wbc_unit"].append(canon)
            out[var].append(value)
        out["dates_imputed"].append("; ".join(imputed) or None)
    df = pd.DataFrame(out)
    df["source_sha256"] = source_sha256
    df["source_sheet"] = raw[SHEET_COL].to_numpy() if len(raw) else []
    df["source_row"] = raw[ROW_COL].to_numpy() if len(raw) else []
    patients = dictionary.conform(df)
    extras = {
        var: dictionary.cast(df[var], dictionary.spec_of(var))
        for var in mapping["columns"]
        if "." in var
    }
    if extras:
        patients = pd.concat([patients, pd.DataFrame(extras).reset_index(drop=True)], axis=1)
    locals_ = [None if values.is_missing(v) else str(v).strip() for v in raw[id_col]]
    return Mapped(patients, findings.frame(), locals_)


def _field_context(var: str, rule: dict[str, Any]) -> str:
    """How a mapped field is scanned for identifiers (see ``identifiers.CONTEXTS``)."""
    kind = dictionary.spec_of(var)["type"]
    if kind == "date":
        return "date"
    if kind in ("int", "float"):
        return "number"
    if kind in ("bool", "category") or rule.get("codes") or rule.get("separator"):
        return "coded"
    return "free"


#: Order in which the contexts of several fields fed by one column are preferred (the first
#: looks for the most kinds).
_CONTEXT_ORDER = ("free", "coded", "label", "number", "date")


def remove_identifiers(raw: pd.DataFrame, mapped: Mapped, mapping: dict[str, Any]) -> Mapped:
    """``mapped`` with every cell that holds an identifier removed, plus one finding per cell.

    Every source cell that reaches a canonical variable (free text, coded, numeric, date; the
    local ID is pseudonymised and exempt) is scanned by ``identifiers.detect_kind``. In the
    mapped rows a text variable fed by such a cell becomes a marker such as
    ``[removed: phone number]`` and any other variable becomes missing (``wbc_raw`` too). The
    finding (check ``identifier_removed``) names row, column and kind; its ``value`` holds the
    raw cell for the site's restricted query listing only.
    """
    site = mapping["site"]
    sources: dict[str, list[str]] = {}
    contexts: dict[str, str] = {}
    for var, rule in mapping["columns"].items():
        for col, ctx in ((rule["source"], _field_context(var, rule)),) + (
            ((rule["unit_source"], "coded"),) if "unit_source" in rule else ()
        ):
            if col == mapping["local_id"] or col not in raw.columns:
                continue
            sources.setdefault(col, []).append(var)
            old = contexts.get(col, ctx)
            contexts[col] = min(old, ctx, key=_CONTEXT_ORDER.index)
    data = mapped.data.copy()
    found = []
    for col, variables in sources.items():
        kinds = detect_kind(raw[col].reset_index(drop=True), contexts[col])
        hit = kinds.notna().to_numpy()
        if not hit.any():
            continue
        marks = kinds[hit].map(marker).to_numpy()
        for var in dict.fromkeys(variables):
            is_unit = mapping["columns"][var].get("unit_source") == col
            targets = ["wbc_unit"] if is_unit and var == "wbc" else [var]
            if var == "wbc" and not is_unit:
                targets.append("wbc_raw")
            for t in targets:
                if t not in data.columns:
                    continue
                spec = dictionary.spec_of(t)
                if spec["type"] == "str" and "allowed" not in spec:
                    data[t] = data[t].astype(object)
                    data.loc[hit, t] = marks
                    data[t] = dictionary.cast(data[t], dictionary.spec_of(t))
                else:
                    data.loc[hit, t] = None
        found.append(
            pd.DataFrame(
                {
                    "site": site,
                    "study_id": data.loc[hit, "study_id"].to_numpy(),
                    "source_row": data.loc[hit, "source_row"].to_numpy(),
                    "source_column": col,
                    "variable": ";".join(dict.fromkeys(variables)),
                    "value": raw[col].to_numpy()[hit],
                    "check": "identifier_removed",
                    "category": "conformance",
                    "severity": "warning",
                    "message": [
                        f"identifier in the cell ({k}): removed from every shareable output; "
                        "delete it at source"
                        for k in kinds[hit]
                    ],
                },
                columns=FINDING_COLUMNS,
            )
        )
    sheets = detect_kind(data["source_sheet"].astype(object), "label")
    if sheets.notna().any():
        data["source_sheet"] = data["source_sheet"].astype(object)
        data.loc[sheets.notna(), "source_sheet"] = sheets[sheets.notna()].map(marker)
    findings = pd.concat([mapped.findings, *found], ignore_index=True) if found else mapped.findings
    return Mapped(data, findings, mapped.local_ids)
