"""Descriptive tables (Table 1 style) and their human-readable renderings."""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pandas as pd

from .expr import evaluate

TABLE_COLUMNS = [
    "item",
    "level",
    "n",
    "N",
    "percent",
    "mean",
    "sd",
    "median",
    "min",
    "max",
    "display",
]


def _pct(k: int, n: int) -> float:
    return 100.0 * k / n if n else float("nan")


def describe(df: pd.DataFrame, items: list[dict[str, Any]]) -> pd.DataFrame:
    """Machine-readable descriptive table: one row per item level (n, N, %) or continuous
    summary (N with data, mean, SD, median, range)."""
    rows = []
    n_all = len(df)
    for it in items:
        kind, label = it["kind"], it["label"]
        var = it.get("variable")
        if kind == "continuous":
            x = pd.to_numeric(df[var], errors="coerce").dropna().astype(float)
            d = it.get("digits", 1)
            disp = (
                f"{x.mean():.{d}f} ± {x.std(ddof=1):.{d}f}; {x.median():.{d}f} "
                f"({x.min():.{d}f}-{x.max():.{d}f})"
                if len(x)
                else "NA"
            )
            rows.append(
                dict(
                    item=label,
                    level="mean ± SD; median (range)",
                    n=len(x),
                    N=len(x),
                    mean=x.mean() if len(x) else np.nan,
                    sd=x.std(ddof=1) if len(x) > 1 else np.nan,
                    median=x.median() if len(x) else np.nan,
                    min=x.min() if len(x) else np.nan,
                    max=x.max() if len(x) else np.nan,
                    display=f"{disp} [N={len(x)}]" if len(x) != n_all else disp,
                )
            )
        elif kind in ("categorical", "cut"):
            if kind == "cut":
                x = pd.to_numeric(df[var], errors="coerce")
                lo, hi = it["cut_labels"]
                s = pd.Series(
                    np.where(x.isna(), "NA", np.where(x < it["cut"], lo, hi)), index=df.index
                )
                levels = {lo: lo, hi: hi}
            else:
                s = df[var].astype(object).where(df[var].notna(), "NA").astype(str)
                levels = it.get("levels") or {v: v for v in sorted(s.unique()) if v != "NA"}
            seen = list(levels)
            extra = [v for v in sorted(s.unique()) if v not in seen and v != "NA"]
            for code in [*seen, *extra, "NA"]:
                k = int((s == code).sum())
                if code == "NA" and k == 0:
                    continue
                rows.append(
                    dict(
                        item=label,
                        level=str(levels.get(code, code)),
                        n=k,
                        N=n_all,
                        percent=_pct(k, n_all),
                        display=f"{k} ({_pct(k, n_all):.1f})",
                    )
                )
        elif kind == "flag":
            if "expr" in it:
                r = evaluate(it["expr"], df)
                k, known = int((r.value & r.known).sum()), int(r.known.sum())
            else:
                col = df[var]
                k, known = int((col == True).sum()), int(col.notna().sum())  # noqa: E712
            rows.append(
                dict(
                    item=label,
                    level="yes",
                    n=k,
                    N=known,
                    percent=_pct(k, known),
                    display=f"{k} ({_pct(k, known):.1f})"
                    + ("" if known == n_all else f" [N={known}]"),
                )
            )
        elif kind == "multi":
            tokens = df[var].dropna().astype(str).str.split(";").explode()
            tokens = tokens[tokens != ""]
            counts = tokens.value_counts()
            order = sorted(counts.index, key=lambda v: (-counts[v], v))
            for v in order:
                k = int(counts[v])
                rows.append(
                    dict(
                        item=label,
                        level=v,
                        n=k,
                        N=n_all,
                        percent=_pct(k, n_all),
                        display=f"{k} ({_pct(k, n_all):.1f})",
                    )
                )
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def to_markdown(table: pd.DataFrame, title: str, head: str, footnotes: list[str]) -> str:
    """Markdown rendering: item, level, value."""
    lines = [f"## {title}", "", f"| Characteristic | | {head} |", "|---|---|---|"]
    last = None
    for r in table.to_dict("records"):
        item = r["item"] if r["item"] != last else ""
        last = r["item"]
        lines.append(f"| {item} | {r['level']} | {r['display']} |")
    lines += [""] + [f"{f}  " for f in footnotes if f]
    return "\n".join(lines) + "\n"


def frame_to_html(df: pd.DataFrame, title: str, footnotes: list[str]) -> str:
    """A standalone, styled HTML page holding one table."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
        for row in df.astype(object).where(df.notna(), "").itertuples(index=False)
    )
    notes = "".join(f"<p class='fn'>{html.escape(f)}</p>" for f in footnotes if f)
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>"
        f"{html.escape(title)}</title><style>body{{font-family:sans-serif;margin:2em}}"
        "table{border-collapse:collapse}td,th{border-bottom:1px solid #ccc;padding:4px 10px;"
        "text-align:left}th{border-bottom:2px solid #333}.fn{font-size:90%;color:#444}"
        f"</style></head><body><h2>{html.escape(title)}</h2><table><thead><tr>{head}</tr>"
        f"</thead><tbody>{body}</tbody></table>{notes}</body></html>\n"
    )


def md_table(df: pd.DataFrame) -> str:
    """A DataFrame as a GitHub-flavoured Markdown table (no extra dependency)."""
    cols = list(df.columns)
    lines = ["| " + " | ".join(map(str, cols)) + " |", "|" + "---|" * len(cols)]
    for row in df.astype(object).where(df.notna(), "").itertuples(index=False):
        lines.append("| " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(lines) + "\n"
