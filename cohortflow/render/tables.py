"""Descriptive tables (Table 1 style) and their human-readable renderings."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
import pandas as pd

from cohortflow.core.cellsafe import html_text, md_cell
from cohortflow.core.defaults import TableItem
from cohortflow.core.expr import evaluate

TABLE_COLUMNS = [
    "item", "level", "n", "N", "percent", "mean", "sd", "median", "min", "max", "display",
    "published_n", "published_percent", "published_N", "published_note",
]  # fmt: skip


def _pct(k: int, n: int) -> float:
    return 100.0 * k / n if n else float("nan")


def pct1(k: int, n: int) -> str:
    """Percentage with one decimal, rounded half up as journals print (4/64 -> 6.3)."""
    if not n:
        return "NA"
    return str((Decimal(100 * k) / Decimal(n)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def compare_published(
    row: dict[str, Any], published: list[float] | None, published_N: int | None = None
) -> dict[str, Any]:
    """Published n and % beside the data's, with the reason for any difference.

    A printed percentage is checked against the published count over the PUBLISHED
    denominator ``published_N`` (configured beside the published values), never over our
    N: when a site is added our N changes, the paper's arithmetic does not. Without a
    published N the percentage is shown but not checked.
    """
    if not published:
        return {}
    pn = int(published[0])
    pp = published[1] if len(published) > 1 else None
    notes = []
    if pn != row["n"]:
        notes.append(f"count differs: data {row['n']}, published {pn}")
    if pp is not None and published_N:
        expected = pct1(pn, int(published_N))
        if f"{pp:.1f}" != expected:
            notes.append(
                f"printed {pp:.1f} % is not {pn}/{int(published_N)} = {expected} %: the "
                "paper's percentage is inconsistent with its own count and N"
            )
    return {
        "published_n": pn,
        "published_percent": pp,
        "published_N": int(published_N) if published_N else None,
        "published_note": "; ".join(notes),
    }


def describe(
    df: pd.DataFrame, items: list[dict[str, Any]], published_N: int | None = None
) -> pd.DataFrame:
    """Machine-readable descriptive table: one row per item level (n, N, %) or continuous
    summary (N with data, mean, SD, median, range). ``published_N`` is the paper's
    denominator for the published values (an item's own ``published_n`` overrides it)."""
    rows = []
    n_all = len(df)
    for it in items:
        start = len(rows)
        _describe_item(df, it, rows, n_all)
        pub_n = it.get("published_n", published_N)
        for r in rows[start:]:
            r.update(compare_published(r, (it.get("published") or {}).get(r["level"]), pub_n))
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def _describe_item(
    df: pd.DataFrame, it: dict[str, Any], rows: list[dict[str, Any]], n_all: int
) -> None:
    """Append the rows of one table item (see describe)."""
    item_rows = {
        "continuous": _continuous_rows,
        "categorical": _categorical_rows,
        "cut": _categorical_rows,
        "flag": _flag_rows,
        "multi": _multi_rows,
    }.get(it["kind"])
    if item_rows is not None:
        rows += item_rows(df, it, n_all)


def _continuous_rows(df: pd.DataFrame, it: dict[str, Any], n_all: int) -> list[dict[str, Any]]:
    """Mean ± SD; median (min-max) of a continuous item, with its N when some are missing."""
    x = pd.to_numeric(df[it.get("variable")], errors="coerce").dropna().astype(float)
    d = TableItem.of(it).digits
    disp = (
        f"{x.mean():.{d}f} ± {x.std(ddof=1):.{d}f}; {x.median():.{d}f} "
        f"({x.min():.{d}f}-{x.max():.{d}f})"
        if len(x)
        else "NA"
    )
    return [
        dict(
            item=it["label"],
            level=CONTINUOUS_LEVEL,
            n=len(x),
            N=len(x),
            mean=x.mean() if len(x) else np.nan,
            sd=x.std(ddof=1) if len(x) > 1 else np.nan,
            median=x.median() if len(x) else np.nan,
            min=x.min() if len(x) else np.nan,
            max=x.max() if len(x) else np.nan,
            display=f"{disp} [N={len(x)}]" if len(x) != n_all else disp,
        )
    ]


def _categorical_rows(df: pd.DataFrame, it: dict[str, Any], n_all: int) -> list[dict[str, Any]]:
    """n (%) per level of a categorical item or of a numeric item cut in two (kind "cut"):
    configured levels first, then unconfigured ones, then NA when any is missing."""
    var = it.get("variable")
    if it["kind"] == "cut":
        x = pd.to_numeric(df[var], errors="coerce")
        lo, hi = it["cut_labels"]
        s = pd.Series(np.where(x.isna(), "NA", np.where(x < it["cut"], lo, hi)), index=df.index)
        levels = {lo: lo, hi: hi}
    else:
        s = df[var].astype(object).where(df[var].notna(), "NA").astype(str)
        levels = it.get("levels") or {v: v for v in sorted(s.unique()) if v != "NA"}
    seen = list(levels)
    extra = [v for v in sorted(s.unique()) if v not in seen and v != "NA"]
    out = []
    for code in [*seen, *extra, "NA"]:
        k = int((s == code).sum())
        if code == "NA" and k == 0:
            continue
        out.append(_count_row(it["label"], str(levels.get(code, code)), k, n_all))
    return out


def _count_row(item: str, level: str, k: int, n: int) -> dict[str, Any]:
    """One 'k (%)' row of ``k`` patients out of ``n``."""
    return dict(item=item, level=level, n=k, N=n, percent=_pct(k, n), display=f"{k} ({pct1(k, n)})")


def _flag_rows(df: pd.DataFrame, it: dict[str, Any], n_all: int) -> list[dict[str, Any]]:
    """How many have a yes/no flag (a column or an expression), over those known."""
    if "expr" in it:
        r = evaluate(it["expr"], df)
        k, known = int((r.value & r.known).sum()), int(r.known.sum())
    else:
        col = df[it.get("variable")]
        k, known = int((col == True).sum()), int(col.notna().sum())  # noqa: E712
    row = _count_row(it["label"], "yes", k, known)
    row["display"] += "" if known == n_all else f" [N={known}]"
    return [row]


def _multi_rows(df: pd.DataFrame, it: dict[str, Any], n_all: int) -> list[dict[str, Any]]:
    """n (%) per value of a multi-valued item ("a;b"), most frequent first."""
    tokens = df[it.get("variable")].dropna().astype(str).str.split(";").explode()
    tokens = tokens[tokens != ""]
    counts = tokens.value_counts()
    order = sorted(counts.index, key=lambda v: (-counts[v], v))
    return [_count_row(it["label"], v, int(counts[v]), n_all) for v in order]


def published_text(r: dict[str, Any]) -> str:
    """'n (%)' as published, '' when not given."""
    if r.get("published_n") is None or pd.isna(r.get("published_n")):
        return ""
    pp = r.get("published_percent")
    return f"{int(r['published_n'])}" + ("" if pp is None or pd.isna(pp) else f" ({pp:.1f})")


def difference_notes(table: pd.DataFrame) -> list[str]:
    """Footnotes on the published comparison: once, when our N differs from the paper's
    (not a discrepancy: each percentage is over its own N), then one per row whose count
    or printed percentage differs from the publication."""
    out = []
    if "published_N" in table:
        pub = table[table["published_n"].notna() & table["published_N"].notna()]
        pairs = sorted(
            {(int(a), int(b)) for a, b in zip(pub["N"], pub["published_N"], strict=True)}
        )
        diff = [(a, b) for a, b in pairs if a != b]
        if diff:
            ours = ", ".join(sorted({str(a) for a, _ in diff}))
            theirs = ", ".join(sorted({str(b) for _, b in diff}))
            out.append(
                f"Our N ({ours}) differs from the published N ({theirs}): each percentage "
                "is over its own column's N; published percentages are checked against the "
                "published count over the published N."
            )
    for r in table.to_dict("records"):
        note = r.get("published_note")
        if isinstance(note, str) and note:
            out.append(f"{r['item']}, {r['level']}: {note}.")
    return out


def published_header(table: pd.DataFrame) -> str:
    """Header of the published column: 'Published' with the paper's N when it has one."""
    if "published_N" not in table:
        return "Published"
    ns = sorted({int(v) for v in table["published_N"].dropna()})
    return f"Published (N = {ns[0]})" if len(ns) == 1 else "Published"


CONTINUOUS_LEVEL = "mean ± SD; median (range)"


def display_rows(table: pd.DataFrame) -> list[dict[str, str]]:
    """Rows for people, in the layout of a journal's Table 1: a continuous item as two rows
    ("Mean ± SD", "Median (range)") under its label, with "(N=k)" in the label when fewer
    patients than the column total have data."""
    out = []
    for r in table.to_dict("records"):
        if r["level"] != CONTINUOUS_LEVEL:
            out.append(
                {
                    "item": r["item"],
                    "level": r["level"],
                    "value": r["display"],
                    "published": published_text(r),
                }
            )
            continue
        if pd.isna(r["mean"]):
            out.append({"item": r["item"], "level": "Mean ± SD", "value": "NA", "published": ""})
            continue
        mean_text = str(r["display"]).split(" ± ")[0]  # as formatted with the item's digits
        d = len(mean_text.split(".")[1]) if "." in mean_text else 0
        item = r["item"] + (f" (N={int(r['n'])})" if "[N=" in str(r["display"]) else "")
        sd = "NA" if pd.isna(r["sd"]) else f"{r['sd']:.{d}f}"
        out.append(
            {
                "item": item,
                "level": "Mean ± SD",
                "value": f"{r['mean']:.{d}f} ± {sd}",
                "published": "",
            }
        )
        out.append(
            {
                "item": item,
                "level": "Median (range)",
                "value": f"{r['median']:.{d}f} ({r['min']:.{d}f}-{r['max']:.{d}f})",
                "published": "",
            }
        )
    return out


def to_markdown(table: pd.DataFrame, title: str, head: str, footnotes: list[str]) -> str:
    """Markdown rendering: item, level, value (and the published value where configured)."""
    has_pub = table["published_n"].notna().any()
    cols = ["Characteristic", "", md_cell(head)] + (
        [md_cell(published_header(table))] if has_pub else []
    )
    lines = [f"## {title}", "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    last = None
    for r in display_rows(table):
        item = r["item"] if r["item"] != last else ""
        last = r["item"]
        cells = [item, r["level"], r["value"]] + ([r["published"]] if has_pub else [])
        lines.append("| " + " | ".join(md_cell(c) for c in cells) + " |")
    diffs = difference_notes(table)
    if diffs:
        footnotes = [*footnotes, "Differences from the publication:", *[f"- {d}" for d in diffs]]
    lines += [""] + [f"{f}  " for f in footnotes if f]
    return "\n".join(lines) + "\n"


def _html_table(df: pd.DataFrame) -> str:
    head = "".join(f"<th>{html_text(str(c))}</th>" for c in df.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html_text(str(v))}</td>" for v in row) + "</tr>"
        for row in df.astype(object).where(df.notna(), "").itertuples(index=False)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def blank_repeats(df: pd.DataFrame, column: str) -> pd.DataFrame:
    """A copy of ``df`` in which ``column`` is blank where it repeats the row above (a row
    label is printed once, on the first line of its group, as journals lay tables out)."""
    out = df.copy()
    col = out[column].astype(object)
    out[column] = col.where(col.ne(col.shift()), "")
    return out


def frame_to_html(
    df: pd.DataFrame,
    title: str,
    footnotes: list[str],
    more: list[tuple[str, pd.DataFrame]] | None = None,
) -> str:
    """A standalone, styled HTML page holding one table (and, after it, the ``more``
    tables, each under its own heading)."""
    extra = "".join(f"<h3>{html_text(heading)}</h3>{_html_table(t)}" for heading, t in more or [])
    notes = "".join(f"<p class='fn'>{html_text(f)}</p>" for f in footnotes if f)
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>"
        f"{html_text(title)}</title><style>body{{font-family:sans-serif;margin:2em}}"
        "table{border-collapse:collapse}td,th{border-bottom:1px solid #ccc;padding:4px 10px;"
        "text-align:left}th{border-bottom:2px solid #333}.fn{font-size:90%;color:#444}"
        f"</style></head><body><h2>{html_text(title)}</h2>{_html_table(df)}{extra}{notes}"
        "</body></html>\n"
    )


def md_table(df: pd.DataFrame) -> str:
    """A DataFrame as a GitHub-flavoured Markdown table (no extra dependency)."""
    cols = list(df.columns)
    lines = ["| " + " | ".join(map(md_cell, cols)) + " |", "|" + "---|" * len(cols)]
    for row in df.astype(object).where(df.notna(), "").itertuples(index=False):
        lines.append("| " + " | ".join(md_cell(v) for v in row) + " |")
    return "\n".join(lines) + "\n"
