"""Reader for REDCap raw data exports: flattened to one all-text row per record.

Flattening rules (see ``read_redcap``):

* choice fields (radio, dropdown) carry their labels, yesno "Yes"/"No", truefalse
  "True"/"False"; checkbox ``field___code`` columns are kept (0/1) and a ``field`` column
  lists the labels of the checked choices, joined by "; " in dictionary order;
* a field with values in more than one event becomes ``field[event]`` columns;
* a field with values in repeating rows becomes ``field#n`` columns (``field[event]#n``
  when those rows lie in more than one event).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from cohortflow.core.errors import SubmissionError
from cohortflow.ingest.readers import ReadResult, clean_header, csv_records, decode_text, text_frame

EVENT_COL = "redcap_event_name"
INSTRUMENT_COL = "redcap_repeat_instrument"
INSTANCE_COL = "redcap_repeat_instance"
#: Export columns that describe the record as a whole (one value per record).
RECORD_LEVEL_COLS = ("redcap_data_access_group", "redcap_survey_identifier")
CHECKBOX_SEP = "; "
CHOICE_TYPES = ("radio", "dropdown", "checkbox")
FIXED_CHOICES = {
    "yesno": (("1", "Yes"), ("0", "No")),
    "truefalse": (("1", "True"), ("0", "False")),
}

#: Dictionary header (lower case, single-spaced) prefixes -> attribute.
_DICT_HEADERS = {
    "name": "variable / field name",
    "form": "form name",
    "type": "field type",
    "label": "field label",
    "choices": "choices",
    "identifier": "identifier",
}

Slot = tuple[str | None, int | None]  # (event name or None, repeat instance or None)


@dataclass(frozen=True)
class RedcapField:
    """One data dictionary entry."""

    name: str
    form: str
    type: str
    label: str
    choices: tuple[tuple[str, str], ...] = ()
    identifier: bool = False
    line: int = 0

    def code_labels(self) -> dict[str, str] | None:
        """Code -> label for fields whose raw values are codes (None for free fields)."""
        if self.type in FIXED_CHOICES:
            return dict(FIXED_CHOICES[self.type])
        if self.type in ("radio", "dropdown"):
            return dict(self.choices)
        return None


def _decode(path: Path, *, site: str | None) -> tuple[str, str]:
    """Text of a CSV file and its detected encoding."""
    if not path.exists():
        raise SubmissionError("file not found", site=site, file=path.name)
    return decode_text(path.read_bytes(), site=site, file=path.name)


def _records(text: str, *, site: str | None, file: str) -> list[list[str]]:
    """Comma-separated records of a decoded CSV text."""
    return csv_records(text, ",", site=site, file=file)


def _checkbox_suffix(code: str) -> str:
    """How REDCap spells a checkbox choice code in the export column name."""
    return re.sub(r"[^a-z0-9_]", "_", code.strip().lower())


def _parse_choices(
    text: str, *, ftype: str, name: str, line: int, site: str | None, file: str
) -> tuple[tuple[str, str], ...]:
    if ftype not in CHOICE_TYPES or not text.strip():
        return ()
    out: list[tuple[str, str]] = []
    for item in text.split("|"):
        if not item.strip():
            continue
        code, sep, label = item.partition(",")
        if not sep or not code.strip():
            raise SubmissionError(
                "choice is not written as 'code, label'",
                site=site,
                file=file,
                row=line,
                column=name,
            )
        out.append((code.strip(), label.strip()))
    return tuple(out)


def load_redcap_dictionary(dictionary: Path, *, site: str | None = None) -> list[RedcapField]:
    """The fields of a REDCap data dictionary CSV, in dictionary order."""
    dictionary = Path(dictionary)
    text, _ = _decode(dictionary, site=site)
    records = _records(text, site=site, file=dictionary.name)
    if not records:
        raise SubmissionError("data dictionary is empty", site=site, file=dictionary.name)
    norm = [" ".join(h.strip().lower().split()) for h in records[0]]
    pos: dict[str, int] = {}
    for key, prefix in _DICT_HEADERS.items():
        for i, h in enumerate(norm):
            if h.startswith(prefix):
                pos[key] = i
                break
    missing = [_DICT_HEADERS[k] for k in ("name", "form", "type") if k not in pos]
    if missing:
        raise SubmissionError(
            f"data dictionary lacks the column(s) {missing}", site=site, file=dictionary.name
        )

    def cell(rec: list[str], key: str) -> str:
        i = pos.get(key)
        return rec[i].strip() if i is not None and i < len(rec) else ""

    fields: list[RedcapField] = []
    seen: set[str] = set()
    for line, rec in enumerate(records[1:], start=2):
        name = cell(rec, "name")
        if not name:
            if any(x.strip() for x in rec):
                raise SubmissionError(
                    "data dictionary row has no variable name",
                    site=site,
                    file=dictionary.name,
                    row=line,
                )
            continue
        if name in seen:
            raise SubmissionError(
                "variable defined twice in the data dictionary",
                site=site,
                file=dictionary.name,
                row=line,
                column=name,
            )
        seen.add(name)
        ftype = cell(rec, "type").lower()
        fields.append(
            RedcapField(
                name=name,
                form=cell(rec, "form"),
                type=ftype,
                label=cell(rec, "label"),
                choices=_parse_choices(
                    cell(rec, "choices"),
                    ftype=ftype,
                    name=name,
                    line=line,
                    site=site,
                    file=dictionary.name,
                ),
                identifier=cell(rec, "identifier").lower() == "y",
                line=line,
            )
        )
    if not fields:
        raise SubmissionError("data dictionary has no fields", site=site, file=dictionary.name)
    return fields


def redcap_identifier_fields(dictionary: Path) -> list[str]:
    """Fields flagged ``Identifier? = y`` in the data dictionary, in dictionary order."""
    return [f.name for f in load_redcap_dictionary(dictionary) if f.identifier]


def redcap_field_labels(dictionary: Path) -> dict[str, str]:
    """Variable name -> field label, in dictionary order."""
    return {f.name: f.label for f in load_redcap_dictionary(dictionary)}


@dataclass
class _Row:
    """One export row after value conversion."""

    line: int
    record: str
    event: str | None
    instrument: str | None
    instance: int | None
    values: dict[str, str | None]
    forms_with_data: set[str] = field(default_factory=set)

    @property
    def slot(self) -> Slot:
        return (self.event, self.instance)


@dataclass
class _Unit:
    """A field (or an unknown export column) and the export columns it owns."""

    name: str
    form: str | None
    columns: list[str]
    checkbox: RedcapField | None = None
    placeholder_zero: bool = False  # "0" means "nothing entered" unless the form has data


def _build_units(
    header: list[str], by_name: dict[str, RedcapField], special: set[str]
) -> tuple[dict[str, _Unit], dict[str, str]]:
    """Which unit (field) each data column belongs to: the units by name, the column -> unit."""
    forms = {f.form for f in by_name.values() if f.form}
    units: dict[str, _Unit] = {}
    col_unit: dict[str, str] = {}
    for col in header:
        if col in special or col in RECORD_LEVEL_COLS:
            continue
        f = by_name.get(col)
        if f is not None and f.type != "checkbox":
            units[col] = _Unit(col, f.form, [col])
            col_unit[col] = col
            continue
        base, sep, suffix = col.rpartition("___")
        cb = by_name.get(base) if sep else None
        if (
            cb is not None
            and cb.type == "checkbox"
            and suffix in {_checkbox_suffix(c) for c, _ in cb.choices}
        ):
            unit = units.setdefault(base, _Unit(base, cb.form, [], checkbox=cb))
            unit.columns.append(col)
            col_unit[col] = base
            continue
        form, is_complete = None, False
        for tail in ("_complete", "_timestamp"):
            if col.endswith(tail) and col[: -len(tail)] in forms:
                form, is_complete = col[: -len(tail)], tail == "_complete"
        units[col] = _Unit(col, form, [col], placeholder_zero=is_complete)
        col_unit[col] = col
    for unit in units.values():
        if unit.checkbox is not None:
            unit.placeholder_zero = True
            order = [_checkbox_suffix(c) for c, _ in unit.checkbox.choices]
            unit.columns.sort(key=lambda c: order.index(c.rpartition("___")[2]))
    return units, col_unit


def _mark_forms_with_data(
    rows: list[_Row], units: dict[str, _Unit], col_unit: dict[str, str]
) -> None:
    """Per row: forms holding real data (so that their checkbox/complete zeros count too)."""
    for r in rows:
        for col, v in r.values.items():
            unit = units.get(col_unit.get(col, ""))
            if unit is None or unit.form is None or v is None:
                continue
            if not (unit.placeholder_zero and v == "0"):
                r.forms_with_data.add(unit.form)


OutColumn = tuple[str, _Unit, str | None, Slot | None]


def _output_columns(header: list[str], ordered: list[_Unit], rows: list[_Row]) -> list[OutColumn]:
    """Output columns after the record id: (name, unit, source column or None for the
    checkbox label, slot or None for a record-level column); the units ``ordered`` as
    ``_unit_order`` puts them."""
    event_order: dict[str | None, int] = {}
    for r in rows:
        event_order.setdefault(r.event, len(event_order))

    def slot_key(s: Slot) -> tuple[int, int]:
        return (event_order.get(s[0], -1), 0 if s[1] is None else s[1])

    out_cols: list[OutColumn] = []
    for col in header:
        if col in RECORD_LEVEL_COLS:
            out_cols.append((col, _Unit(col, None, [col]), col, None))
    for unit in ordered:
        slots = _unit_slots(unit, rows)
        split_event = len({s[0] for s in slots}) > 1
        for slot in sorted(slots, key=slot_key):
            suffix = (f"[{slot[0]}]" if split_event else "") + (
                f"#{slot[1]}" if slot[1] is not None else ""
            )
            for col in unit.columns:
                out_cols.append((col + suffix, unit, col, slot))
            if unit.checkbox is not None:
                out_cols.append((unit.name + suffix, unit, None, slot))
    return out_cols


def _flatten(
    rows: list[_Row], out_cols: list[OutColumn], *, site: str, file: str
) -> list[tuple[int, list[str | None]]]:
    """One all-text row per record (at the line of its first export row)."""
    by_record: dict[str, list[_Row]] = {}
    for r in rows:
        by_record.setdefault(r.record, []).append(r)
    table: list[tuple[int, list[str | None]]] = []
    for record, recrows in by_record.items():
        cells: list[str | None] = [record]
        for name, unit, col, slot in out_cols:
            if slot is None:  # record-level column
                cells.append(_record_level(recrows, col or name, site=site, file=file))
            elif col is None:
                cells.append(_checkbox_labels(unit, recrows, slot, site=site, file=file))
            else:
                cells.append(_slot_value(unit, col, recrows, slot, site=site, file=file))
        table.append((recrows[0].line, cells))
    return table


def read_redcap(path: Path, *, site: str, dictionary: Path) -> ReadResult:
    """Read a REDCap raw data export with its data dictionary as one all-text row per record.

    ``_source_row`` is the row number (header = 1) of the record's first export row;
    columns are the record id, then the fields in dictionary order with their derived
    columns (see the module docstring for the flattening rules).
    """
    path, dictionary = Path(path), Path(dictionary)
    file = path.name
    fields = load_redcap_dictionary(dictionary, site=site)
    by_name = {f.name: f for f in fields}
    rid = fields[0].name

    text, enc = _decode(path, site=site)
    records = _records(text, site=site, file=file)
    if not records:
        raise SubmissionError("export is empty", site=site, file=file)
    header = clean_header(records[0], site=site, file=file)
    if rid not in header:
        raise SubmissionError(
            f"record id column {rid!r} (first field of the data dictionary) not in the export",
            site=site,
            file=file,
        )
    longitudinal = EVENT_COL in header
    special = {rid, EVENT_COL, INSTRUMENT_COL, INSTANCE_COL}
    units, col_unit = _build_units(header, by_name, special)

    rows, blank = _parse_rows(records, header, rid, by_name, col_unit, units, site, file)
    if not longitudinal:
        for r in rows:
            r.event = None
    _check_duplicates(rows, site=site, file=file)
    _mark_forms_with_data(rows, units, col_unit)

    ordered = _unit_order(header, fields, units, col_unit, special)
    out_cols = _output_columns(header, ordered, rows)
    names = [rid, *(c[0] for c in out_cols)]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise SubmissionError(
            "flattened export would have a duplicate column; rename the field",
            site=site,
            file=file,
            column=dup,
        )
    data, _ = text_frame(names, _flatten(rows, out_cols, site=site, file=file), None)
    return ReadResult(
        data, "redcap", encoding=enc, delimiter=",", header_row=1, blank_rows_skipped=blank
    )


def _row_keys(
    cells: list[str | None], idx: dict[str, int], rid: str, line: int, *, site: str, file: str
) -> tuple[str, str | None, str | None, int | None]:
    """Record id, event, repeat instrument and repeat instance of one export row."""
    record = cells[idx[rid]]
    if record is None:
        raise SubmissionError("record id is empty", site=site, file=file, row=line, column=rid)
    event = cells[idx[EVENT_COL]] if EVENT_COL in idx else None
    if EVENT_COL in idx and event is None:
        raise SubmissionError(
            "event name is empty", site=site, file=file, row=line, column=EVENT_COL
        )
    instrument = cells[idx[INSTRUMENT_COL]] if INSTRUMENT_COL in idx else None
    inst_text = cells[idx[INSTANCE_COL]] if INSTANCE_COL in idx else None
    instance: int | None = None
    if inst_text is not None:
        if not inst_text.isdigit() or int(inst_text) < 1:
            raise SubmissionError(
                "repeat instance is not a positive whole number",
                site=site,
                file=file,
                row=line,
                column=INSTANCE_COL,
            )
        instance = int(inst_text)
    elif instrument is not None:
        raise SubmissionError(
            "repeat instrument given without a repeat instance",
            site=site,
            file=file,
            row=line,
            column=INSTANCE_COL,
        )
    return record, event, instrument, instance


def _cell_label(
    v: str, col: str, unit: _Unit, f: RedcapField | None, line: int, *, site: str, file: str
) -> str:
    """A data cell with its choice code replaced by the label (checkbox cells stay 0/1)."""
    if unit.checkbox is not None:
        if v not in ("0", "1"):
            raise SubmissionError(
                "checkbox column holds a value other than 0 or 1",
                site=site,
                file=file,
                row=line,
                column=col,
            )
        return v
    labels = f.code_labels() if f is not None else None
    if labels is None:
        return v
    if v not in labels:
        raise SubmissionError(
            f"value is not a code of this {f.type} field (raw export with codes expected)",
            site=site,
            file=file,
            row=line,
            column=col,
        )
    return labels[v]


def _parse_rows(
    records: list[list[str]],
    header: list[str],
    rid: str,
    by_name: dict[str, RedcapField],
    col_unit: dict[str, str],
    units: dict[str, _Unit],
    site: str,
    file: str,
) -> tuple[list[_Row], list[int]]:
    """Export rows with choice codes replaced by labels; blank rows listed apart."""
    idx = {c: i for i, c in enumerate(header)}
    rows: list[_Row] = []
    blank: list[int] = []
    for line, rec in enumerate(records[1:], start=2):
        if len(rec) > len(header) and any(x.strip() for x in rec[len(header) :]):
            raise SubmissionError(
                f"row has {len(rec)} cells but the header has {len(header)}",
                site=site,
                file=file,
                row=line,
            )
        cells = [(x.strip() or None) for x in (rec + [""] * len(header))[: len(header)]]
        if all(c is None for c in cells):
            blank.append(line)
            continue
        keys = _row_keys(cells, idx, rid, line, site=site, file=file)
        values: dict[str, str | None] = {}
        for col, uname in col_unit.items():
            v = cells[idx[col]]
            values[col] = (
                None
                if v is None
                else _cell_label(v, col, units[uname], by_name.get(col), line, site=site, file=file)
            )
        for col in RECORD_LEVEL_COLS:
            if col in idx:
                values[col] = cells[idx[col]]
        rows.append(_Row(line, *keys, values))
    return rows, blank


def _check_duplicates(rows: list[_Row], *, site: str, file: str) -> None:
    """One export row per record, event, repeat instrument and instance."""
    seen: dict[tuple[str, str | None, str | None, int | None], int] = {}
    for r in rows:
        key = (r.record, r.event, r.instrument, r.instance)
        if key in seen:
            raise SubmissionError(
                f"same record, event and repeat instance as row {seen[key]}",
                site=site,
                file=file,
                row=r.line,
            )
        seen[key] = r.line


def _unit_order(
    header: list[str],
    fields: list[RedcapField],
    units: dict[str, _Unit],
    col_unit: dict[str, str],
    special: set[str],
) -> list[_Unit]:
    """Units in dictionary order; columns unknown to the dictionary follow their export
    neighbour on the left (or come first when none)."""
    dict_rank = {f.name: i for i, f in enumerate(fields)}
    followers: dict[str | None, list[str]] = {}
    anchor: str | None = None
    for col in header:
        if col in special or col in RECORD_LEVEL_COLS:
            continue
        uname = col_unit[col]
        if uname in dict_rank:
            anchor = uname
        elif uname not in followers.get(anchor, []):
            followers.setdefault(anchor, []).append(uname)
    ordered: list[str] = list(followers.get(None, []))
    for f in fields:
        if f.name in units:
            ordered.append(f.name)
            ordered.extend(followers.get(f.name, []))
    return [units[u] for u in ordered]


def _meaningful(unit: _Unit, row: _Row, value: str | None) -> bool:
    """Whether a value is data rather than REDCap's "0" filler for an untouched form."""
    if value is None:
        return False
    if unit.placeholder_zero and value == "0":
        return unit.form is not None and unit.form in row.forms_with_data
    return True


def _unit_slots(unit: _Unit, rows: list[_Row]) -> set[Slot]:
    """Slots (event, instance) in which the unit has data anywhere in the file."""
    data: set[Slot] = set()
    filled: set[Slot] = set()
    for r in rows:
        for col in unit.columns:
            v = r.values.get(col)
            if v is not None:
                filled.add(r.slot)
                if _meaningful(unit, r, v):
                    data.add(r.slot)
    return data or filled or {(None, None)}


def _slot_value(
    unit: _Unit, col: str, recrows: list[_Row], slot: Slot, *, site: str, file: str
) -> str | None:
    """The record's value of one export column in one slot."""
    found: list[tuple[bool, str, int]] = []
    for r in recrows:
        if r.slot != slot:
            continue
        v = r.values.get(col)
        if v is not None:
            found.append((_meaningful(unit, r, v), v, r.line))
    if not found:
        return None
    best = [x for x in found if x[0]] or found
    if len({v for _, v, _ in best}) > 1:
        raise SubmissionError(
            f"conflicting values for the same record, event and instance (also row {best[0][2]})",
            site=site,
            file=file,
            row=best[1][2],
            column=col,
        )
    return best[0][1]


def _checkbox_labels(
    unit: _Unit, recrows: list[_Row], slot: Slot, *, site: str, file: str
) -> str | None:
    """Labels of the checked choices, in dictionary order; None when none is checked."""
    assert unit.checkbox is not None
    present = {c.rpartition("___")[2]: c for c in unit.columns}
    checked = []
    for code, label in unit.checkbox.choices:
        col = present.get(_checkbox_suffix(code))
        if col and _slot_value(unit, col, recrows, slot, site=site, file=file) == "1":
            checked.append(label)
    return CHECKBOX_SEP.join(checked) if checked else None


def _record_level(recrows: list[_Row], col: str, *, site: str, file: str) -> str | None:
    """A column that holds one value per record (e.g. the data access group)."""
    found = [(r.values.get(col), r.line) for r in recrows if r.values.get(col) is not None]
    if len({v for v, _ in found}) > 1:
        raise SubmissionError(
            f"record has different values in its rows (also row {found[0][1]})",
            site=site,
            file=file,
            row=next(line for v, line in found if v != found[0][0]),
            column=col,
        )
    return found[0][0] if found else None


__all__ = [
    "RedcapField",
    "load_redcap_dictionary",
    "read_redcap",
    "redcap_field_labels",
    "redcap_identifier_fields",
]
