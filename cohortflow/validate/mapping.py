"""Apply a site mapping (config/sites/...) to a raw all-text submission."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cohortflow.core import dictionary, values
from cohortflow.core.findings import FINDING_COLUMNS
from cohortflow.core.identifiers import detect_kind, marker
from cohortflow.core.pseudonym import study_id
from cohortflow.core.vectors import join_parts
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
        if values.comma_reading(t) == "decimal":
            x = values.parse_decimal_comma(t)
        else:  # an ambiguous `1,234` is read as 1234 here; apply_mapping then judges it
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
        shown = {str(c).strip() for c in rule.get("codes") or {}} | {str(a) for a in allowed}
        listed = ", ".join(sorted(shown))
        raise ValueError(f"value not in the code list (allowed: {listed})")
    # str
    sep = rule.get("separator")
    if sep:
        out = []
        for token in (x.strip() for x in t.replace(";", sep).split(sep)):
            if not token:
                continue
            if codes:
                if token.lower() not in codes:
                    raise ValueError(
                        "an item is not in the code list (allowed: "
                        f"{', '.join(sorted(str(c).strip() for c in rule.get('codes') or {}))})"
                    )
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


class _Collector:
    """Findings gathered column by column with (record position, variable position, order),
    sorted at the end so they come out in the order of a record-by-record pass."""

    def __init__(self, site: str, sids: np.ndarray, rows: np.ndarray) -> None:
        self.site, self.sids, self.rows = site, sids, rows
        self.found: list[pd.DataFrame] = []

    def add(self, mask: np.ndarray, order: tuple[int, int], **cols: Any) -> None:
        """One finding per record ``mask`` holds; array columns are indexed by record."""
        if not np.asarray(mask).any():
            return
        pos = np.flatnonzero(mask)
        frame = pd.DataFrame(
            {
                "site": self.site,
                "study_id": self.sids[pos],
                "source_row": self.rows[pos],
                **{k: (v[pos] if isinstance(v, np.ndarray) else v) for k, v in cols.items()},
            }
        )
        frame["_pos"], frame["_var"], frame["_sub"] = pos, order[0], order[1]
        self.found.append(frame)

    def frame(self) -> pd.DataFrame:
        """The findings in FINDING_COLUMNS, in record order."""
        if not self.found:
            return pd.DataFrame(columns=FINDING_COLUMNS)
        f = pd.concat(self.found, ignore_index=True)
        f = f.sort_values(["_pos", "_var", "_sub"], kind="stable")
        f["source_row"] = f["source_row"].astype(int)
        return f.drop(columns=["_pos", "_var", "_sub"])[FINDING_COLUMNS].reset_index(drop=True)


def _pseudonymise(
    local: np.ndarray, id_col: str, site: str, key: bytes, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray, _Collector]:
    """Study IDs of the local IDs (None where empty), the empty mask and a finding collector
    holding the empty and repeated ID findings."""
    id_missing = _per_distinct(local, values.is_missing).astype(bool)
    sids = np.array(
        [None if m else study_id(key, site, v) for v, m in zip(local, id_missing, strict=True)],
        dtype=object,
    )
    found = _Collector(site, sids, rows)
    sid_series = pd.Series(sids)
    repeat = (sid_series.duplicated(keep="first") & sid_series.notna()).to_numpy(dtype=bool)
    repeat_messages = None
    if repeat.any():
        first_row = pd.Series(rows[~repeat], index=sids[~repeat]).dropna()
        first_row = first_row[first_row.index.notna()]
        repeat_messages = _repeat_messages(sid_series, repeat, first_row)
    for sub, (mask, check, category, message) in enumerate(
        (
            (id_missing, "local_id_present", "completeness", "local patient ID is empty"),
            (repeat, "local_id_unique", "plausibility", repeat_messages),
        )
    ):
        found.add(
            mask,
            (-1, sub),
            source_column=id_col,
            variable="study_id",
            value=None,
            check=check,
            category=category,
            severity="fatal",
            message=message,
        )
    return sids, id_missing, found


def _convert_column(
    texts: np.ndarray, spec: dict[str, Any], rule: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Typed values, date notes and errors of one source column (each distinct text converted
    once), and which cells are missing-value tokens."""
    missing = set(rule.get("missing", []))
    absent = _per_distinct(texts, lambda t, m=missing: values.is_missing(t, m)).astype(bool)
    converted: dict[Any, tuple[Any, Any, Any]] = {}
    for t in pd.unique(texts[~absent]):
        try:
            value, note = convert_value(t, spec, rule)
            converted[t] = (value, note, None)
        except ValueError as exc:
            converted[t] = (None, None, withhold_value(str(exc), t))
    vals, notes, errors = (_lookup(texts, ~absent, converted, i) for i in range(3))
    return vals, notes, errors, absent


def _judge_commas(
    found: _Collector,
    order: tuple[int, int],
    src: str,
    var: str,
    spec: dict[str, Any],
    rule: dict[str, Any],
    cells: tuple[np.ndarray, np.ndarray, np.ndarray],
    column: list[Any],
    unit: tuple[Any, Any],
) -> list[Any]:
    """A number column after judging its commas (``values.comma_reading``): a decimal comma
    is a warning; an ambiguous ``a,bcd`` the unit makes implausible is left unread (fatal).
    ``cells`` holds the texts, the missing-token mask and the thousands readings; ``unit`` the
    factor to the canonical unit and where the submitted unit counts whole things."""
    texts, absent, vals = cells
    coded = {str(c).strip().lower() for c in rule.get("codes") or {}}
    reading = _per_distinct(
        texts,
        lambda t, c=coded: None if str(t).strip().lower() in c else values.comma_reading(t),
    )
    read = ~absent & pd.notna(np.asarray(column, dtype=object))
    common = {"source_column": src, "variable": var, "category": "conformance"}
    found.add(
        read & (reading == "decimal"),
        order,
        **common,
        value=None,
        check="decimal_comma",
        severity="warning",
        message="comma read as a decimal point (a thousands group has three digits)",
    )
    amb = read & (reading == "ambiguous")
    if not amb.any():
        return column
    bad, why = _ambiguous_numbers(vals, amb, unit[0], unit[1], spec)
    cleared = np.asarray(column, dtype=object)
    cleared[bad] = None
    found.add(
        bad,
        order,
        **common,
        value=pd.Series(texts, dtype=object).astype(str).to_numpy(object),
        check="number_unambiguous",
        severity="fatal",
        message=why,
    )
    return cleared.tolist()


def _map_column(
    raw: pd.DataFrame, k: int, var: str, rule: dict[str, Any], found: _Collector
) -> tuple[dict[str, list[Any]], np.ndarray]:
    """The canonical column(s) one mapping rule gives (a cell count also ``wbc_raw`` and
    ``wbc_unit``) and its ``dates_imputed`` part; findings go to ``found``."""
    n = len(raw)
    spec = dictionary.spec_of(var)
    src = rule["source"]
    texts = raw[src].to_numpy(object) if src in raw.columns else np.full(n, None, object)
    vals, notes, errors, absent = _convert_column(texts, spec, rule)
    has_note = pd.notna(notes) & (notes != "")
    imputed = np.where(has_note, f"{var}: " + pd.Series(notes, dtype=object).fillna(""), "").astype(
        object
    )
    coded = rule.get("codes") or spec["type"] in ("bool", "category")
    cell_text = pd.Series(texts, dtype=object).astype(str).to_numpy(object)
    common = {"source_column": src, "variable": var}
    found.add(
        has_note,
        (k, 0),
        **common,
        category="completeness",
        value=None,
        check="date_imputed",
        severity="warning",
        message=notes,
    )
    found.add(
        pd.notna(errors),
        (k, 0),
        **common,
        category="conformance",
        value=cell_text,
        check="code_in_list" if coded else "type_conformance",
        severity="fatal",
        message=errors,
    )
    out: dict[str, list[Any]] = {var: vals.tolist()}
    factor: Any = 1.0
    whole: Any = spec["type"] == "int" or spec.get("unit") == "/uL"
    if var in CELL_COUNTS:
        # values.cell_count_unit, for every row at once
        units = (
            raw[rule["unit_source"]].to_numpy(object)
            if rule.get("unit_source") in raw.columns
            else np.full(n, None if "unit_source" in rule else rule.get("unit"), dtype=object)
        )
        counts, canon_units, unit_errors = _cell_count_values(vals, units)
        out[var] = counts.tolist()
        factor = pd.Series(canon_units, dtype=object).map(values.TO_10E9_PER_L).to_numpy(float)
        whole = canon_units == "/uL"
        if var == "wbc":
            out["wbc_raw"] = np.where(absent, None, cell_text).tolist()
            out["wbc_unit"] = canon_units.tolist()
        found.add(
            pd.notna(unit_errors),
            (k, 1),
            **common,
            category="conformance",
            value=pd.Series(units, dtype=object).fillna("").astype(str).to_numpy(object),
            check="unit_known",
            severity="fatal",
            message=unit_errors,
        )
    if spec["type"] in ("int", "float"):
        out[var] = _judge_commas(
            found, (k, 2), src, var, spec, rule, (texts, absent, vals), out[var], (factor, whole)
        )
    return out, imputed


def apply_mapping(
    raw: pd.DataFrame, mapping: dict[str, Any], *, key: bytes, source_sha256: str
) -> Mapped:
    """Canonical typed rows (pseudonymised) and conformance findings for one site.

    Local IDs are replaced by study IDs and never copied; unreadable cells become missing and
    raise a fatal finding naming row and column (the value itself is not echoed for identifiers).
    Column by column, each distinct cell text is converted once (no per-record loop).
    """
    site = mapping["site"]
    id_col = mapping["local_id"]
    if id_col not in raw.columns:
        raise KeyError(f"local ID column {id_col!r} missing from the submission")
    n = len(raw)
    rows = raw[ROW_COL].astype(int).to_numpy() if n else np.zeros(0, dtype=int)
    local = raw[id_col].to_numpy(object)
    sids, id_missing, found = _pseudonymise(local, id_col, site, key, rows)
    out: dict[str, list[Any]] = {"study_id": sids.tolist(), "site": [site] * n}
    imputed_parts: list[np.ndarray] = []
    for k, (var, rule) in enumerate(mapping["columns"].items()):
        cols, imputed = _map_column(raw, k, var, rule, found)
        out |= cols
        imputed_parts.append(imputed)
    dates_imputed = [x or None for x in join_parts(imputed_parts, n, sep="; ")] if n else []
    out = {
        "study_id": out.pop("study_id"),
        "site": out.pop("site"),
        "dates_imputed": dates_imputed,
        **out,
    }
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
    locals_ = [None if m else str(v).strip() for v, m in zip(local, id_missing, strict=True)]
    return Mapped(patients, found.frame(), locals_)


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


def _per_distinct(col: np.ndarray, fn: Any) -> np.ndarray:
    """``fn`` of every cell, computed once per distinct value."""
    if not len(col):
        return np.zeros(0, dtype=object)
    ser = pd.Series(col, dtype=object)
    uniq = pd.unique(ser)
    return ser.map(dict(zip(uniq, (fn(u) for u in uniq), strict=True))).to_numpy(object)


def _lookup(texts: np.ndarray, where: np.ndarray, table: dict[Any, tuple], i: int) -> np.ndarray:
    """Element ``i`` of ``table[text]`` for the cells ``where`` holds (None elsewhere)."""
    out = np.full(len(texts), None, dtype=object)
    if table and where.any():
        keys = list(table)
        mapper = pd.Series([table[k][i] for k in keys], index=keys, dtype=object)
        out[where] = pd.Series(texts[where], dtype=object).map(mapper).to_numpy(object)
    return out


def _cell_count_values(
    vals: np.ndarray, units: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A cell count in x10^9/L, the canonical unit and the unit error of each record (a value
    without a known unit is set to missing and raises ``unit_known``)."""
    canon_of: dict[Any, tuple[str | None, str | None]] = {}
    factor_of: dict[Any, float] = {}
    for u in pd.unique(pd.Series(units, dtype=object)):
        try:  # the one conversion (values.convert_cell_count), once per distinct unit
            factor_of[u], c = values.convert_cell_count(1.0, u)
            canon_of[u] = (c, None)
        except ValueError as exc:
            canon_of[u] = (None, withhold_value(str(exc), u))
    has = pd.notna(vals)
    canon = _lookup(units, np.ones(len(units), dtype=bool), canon_of, 0)
    errors = np.where(has, _lookup(units, np.ones(len(units), dtype=bool), canon_of, 1), None)
    ok = has & pd.notna(canon)
    factor = pd.Series(units, dtype=object).map(factor_of)
    wbc = np.full(len(vals), None, dtype=object)
    if ok.any():
        wbc[ok] = (vals[ok].astype(float) * factor[ok].to_numpy(float)).tolist()
    return wbc, np.where(ok, canon, None), errors.astype(object)


def _ambiguous_numbers(
    vals: np.ndarray, amb: np.ndarray, factor: Any, whole: Any, spec: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray]:
    """Which ambiguous ``a,bcd`` cells stay unread, and why (``values.thousands_plausible``).

    ``vals`` holds the thousands readings in the submitted unit, ``factor`` the conversion to
    the canonical unit and ``whole`` where the submitted unit counts whole things.
    """
    x = np.where(amb, pd.to_numeric(pd.Series(vals, dtype=object), errors="coerce"), np.nan)
    low, high = spec.get("min"), spec.get("max")
    keep = values.thousands_plausible(x, factor, low, high, whole=whole)
    bad = amb & ~keep
    f = np.broadcast_to(np.asarray(factor, dtype=float), x.shape)
    lo = -np.inf if low is None else float(low)
    hi = np.inf if high is None else float(high)
    t_ok = (x * f >= lo) & (x * f <= hi)
    unit = f" {spec['unit']}" if spec.get("unit") else ""
    span = f"{low if low is not None else '-inf'}-{high if high is not None else 'inf'}{unit}"
    why = np.where(
        t_ok,
        "the comma may be a thousands separator or a decimal comma and both readings are "
        f"plausible ({span})",
        f"the comma may be a thousands separator or a decimal comma, and read as thousands the "
        f"number is outside the plausible range ({span})",
    ).astype(object)
    why = why + "; write the number without thousands separators, with a decimal point"
    return bad, np.where(bad, why, None)


def _repeat_messages(sids: pd.Series, repeat: np.ndarray, first_row: pd.Series) -> np.ndarray:
    """'same local patient ID as row <first>' for each repeated ID (None elsewhere)."""
    out = np.full(len(sids), None, dtype=object)
    first = sids[repeat].map(first_row).astype(int).astype(str)
    out[repeat] = ("same local patient ID as row " + first).to_numpy(object)
    return out
