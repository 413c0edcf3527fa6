"""One self-contained HTML report of a study run: manifest, data quality, flow, tables, figures.

The report gathers what a run wrote under ``results/<study>/`` into a single file that can be
mailed or archived on its own: styles are inline, figures are embedded as base64 PNG data URLs,
and nothing refers to another file. The same inputs always give the same bytes (no timestamps,
no absolute paths, fixed ordering). Only aggregate results and pseudonymous study IDs appear.
"""

from __future__ import annotations

import base64
import csv
import html
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from cohortflow.core.defaults import Swimmer
from cohortflow.render.figure_names import (
    FigureName,
    figure_order,
    read_figure_name,
    swimmer_subset_text,
)

__all__ = [
    "REPORT_NAME",
    "build_run_report",
    "figure_caption",
    "figure_order",
    "render_run_report",
]

REPORT_NAME = "report.html"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Tables written by the report stage besides the study's own (``study["tables"]``), in the
# order a reader expects them; anything else found under tables/ follows, sorted by name.
_STANDARD_TITLES = {
    "flow": "Patient flow",
    "survival": "Survival estimates and tests",
    "response_rates": "Response rates",
    "cox": "Cox proportional hazards models",
    "competing_risks": "Competing risks: cumulative incidence",
}
_STANDARD_TABLES = ("survival", "response_rates", "cox", "competing_risks")
_TABLE_SUFFIXES = (".html", ".md", ".csv")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_MONO = ' class="mono"'

_CSS = """
:root{--ink:#1d2430;--muted:#5b6472;--rule:#d5dae1;--head:#eef1f5;--accent:#234e8c}
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Sans CJK KR",
"NanumGothic",sans-serif;color:var(--ink);margin:0;line-height:1.45;font-size:15px;background:#fff}
main{max-width:1100px;margin:0 auto;padding:1.5em 2em 3em}
header.report{border-bottom:3px solid var(--accent);padding-bottom:.8em;margin-bottom:1em}
h1{font-size:1.6em;margin:.2em 0 .3em}
h2{font-size:1.3em;margin:2em 0 .6em;border-bottom:1px solid var(--rule);padding-bottom:.2em;
color:var(--accent)}
h3{font-size:1.08em;margin:1.6em 0 .4em}
.data-label{display:inline-block;background:#fff4d6;border:1px solid #e0b84a;border-radius:4px;
padding:.25em .7em;font-weight:600}
.meta{color:var(--muted);margin:.4em 0 0}
nav.toc ol{margin:.3em 0;padding-left:1.4em}
nav.toc a{color:var(--accent);text-decoration:none}
table{border-collapse:collapse;margin:.5em 0 .8em;font-size:.92em;max-width:100%}
th,td{border:1px solid var(--rule);padding:4px 9px;text-align:left;vertical-align:top}
thead th{background:var(--head);border-bottom:2px solid #8a94a3}
tbody tr:nth-child(even){background:#f8f9fb}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.mono{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:.86em;
word-break:break-all}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:.25em 1.2em;margin:.5em 0}
dl.kv dt{color:var(--muted)}
dl.kv dd{margin:0}
.fn{font-size:.88em;color:#444;margin:.25em 0}
.empty,.missing{color:var(--muted);font-style:italic}
.source{color:var(--muted);font-size:.82em}
figure{margin:1.2em 0 2em;page-break-inside:avoid}
figure img{display:block;max-width:100%;height:auto;border:1px solid var(--rule)}
figcaption{margin-top:.4em;font-size:.95em}
.fig-no{font-weight:600}
details summary{cursor:pointer;color:var(--accent)}
footer.report{margin-top:3em;border-top:1px solid var(--rule);padding-top:.6em;
color:var(--muted);font-size:.88em}
@media print{main{max-width:none;padding:0}h2{page-break-after:avoid}}
"""
# Only inline styles and embedded (data:) images may load: a stray external reference
# shows up as a console error instead of silently depending on another file.
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def _esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _title(study: dict[str, Any]) -> str:
    return str(study.get("title") or study.get("id") or "Study")


# --- figures -------------------------------------------------------------------------------


def _titled(items: list[dict[str, Any]] | None) -> dict[str, str]:
    return {str(i["id"]): str(i.get("title") or i["id"]) for i in items or [] if "id" in i}


def figure_caption(study: dict[str, Any], stem: str) -> str:
    """The caption of figure ``stem`` (file name without ``.png``) of ``study``.

    Kaplan-Meier, landmark and Simon-Makuch figures take the title of their analysis
    (``study["analyses"]``), cumulative incidence figures that of ``cif_analyses``, forest plots
    that of ``cox_models`` (of a Fine-Gray model: its ``fine_gray`` title); the swimmer plot
    and the CONSORT diagram have fixed wording. Other names are turned into words. The name is
    read by ``figure_names.read_figure_name``.
    """
    f = read_figure_name(study, stem)
    if f is None:
        for c in study.get("cif_analyses") or []:  # Fine-Gray model of a cumulative incidence
            if c.get("fine_gray") and stem == FigureName("forest", f"{c['id']}_fine_gray").stem:
                title = c["fine_gray"].get("title") or c.get("title") or c["id"]
                return f"Forest plot of the Fine-Gray model: {title}"
        words = stem.replace("_", " ").strip()
        return words[:1].upper() + words[1:]
    if f.kind == "consort":
        return "CONSORT diagram: patient flow from screening to analysis"
    if f.kind == "swimmer":
        swimmer = study.get("swimmer") or {}
        return f"Swimmer plot: {swimmer.get('title') or 'patient timelines'}"
    key = {"cif": "cif_analyses", "forest": "cox_models"}.get(f.kind, "analyses")
    title = _titled(study.get(key))[f.id]
    if f.kind == "landmark":
        return f"Landmark analysis from {f.months:g} months: {title}"
    return {
        "km": "Kaplan-Meier curves",
        "simon_makuch": "Simon-Makuch curves (time-dependent exposure)",
        "cif": "Cumulative incidence",
        "forest": "Forest plot of the Cox model",
    }[f.kind] + f": {title}"


def _png_size(data: bytes) -> tuple[int, int] | None:
    if data[:8] != _PNG_SIGNATURE or data[12:16] != b"IHDR":
        return None
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _figure_html(path: Path, number: int, caption: str, rel: str) -> str:
    data = path.read_bytes()
    size = _png_size(data)
    dims = f' width="{size[0]}" height="{size[1]}"' if size else ""
    src = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    return (
        f'<figure id="figure-{_esc(path.stem)}"><img src="{src}" alt="{_esc(caption)}"{dims}>'
        f'<figcaption><span class="fig-no">Figure {number}.</span> {_esc(caption)} '
        f'<span class="source">({_esc(rel)})</span></figcaption></figure>'
    )


# --- tables --------------------------------------------------------------------------------


class _TableBody(HTMLParser):
    """The body of a generated table page, reduced to table and paragraph markup.

    Headings become the title; style, script and head content are dropped; every text is
    re-escaped; only ``class``, ``colspan`` and ``rowspan`` attributes survive. A table without
    any cell is replaced by a short note.
    """

    KEEP = frozenset(
        (
            "table thead tbody tfoot tr th td caption p br span em strong b i sub sup ul ol li code"
        ).split()
    )
    VOID = frozenset({"br"})
    DROP = frozenset({"style", "script", "title", "head", "template", "noscript"})
    ATTRS = frozenset({"class", "colspan", "rowspan"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.out: list[list[str]] = [[]]
        self.cells: list[int] = []
        self.skip = 0
        self.heading = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.DROP:
            self.skip += 1
        elif tag in ("h1", "h2", "h3", "h4"):
            self.heading += 1
        elif tag in self.KEEP and not self.skip:
            kept = "".join(
                f' {k}="{_esc(v)}"'
                for k, v in attrs
                if k in self.ATTRS and v is not None and re.fullmatch(r"[\w -]{1,64}", v)
            )
            if tag == "table":
                self.out.append([])
                self.cells.append(0)
            elif tag in ("td", "th") and self.cells:
                self.cells[-1] += 1
            self.out[-1].append(f"<{tag}{kept}>")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.DROP:
            self.skip = max(0, self.skip - 1)
        elif tag in ("h1", "h2", "h3", "h4"):
            self.heading = max(0, self.heading - 1)
        elif tag in self.KEEP and tag not in self.VOID and not self.skip:
            self.out[-1].append(f"</{tag}>")
            if tag == "table" and len(self.out) > 1:
                body, cells = self.out.pop(), self.cells.pop()
                self.out[-1].append(
                    "".join(body) if cells else '<p class="empty">No rows for this study.</p>'
                )

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if self.heading:
            self.title += data
        else:
            self.out[-1].append(html.escape(data, quote=False))

    def result(self) -> str:
        """The kept markup (unclosed tables are flushed as they are)."""
        while len(self.out) > 1:
            body = self.out.pop()
            self.out[-1].extend(body)
        return "".join(self.out[0])


def _cells(row: list[str], tag: str) -> str:
    return "<tr>" + "".join(f"<{tag}>{_esc(c.strip())}</{tag}>" for c in row) + "</tr>"


def _table(header: list[str], rows: list[list[str]], mono: tuple[str, ...] = ()) -> str:
    """An HTML table; columns named in ``mono`` are set in a fixed-width font."""
    if not header:
        return '<p class="empty">No rows for this study.</p>'
    cls = [_MONO if h in mono else "" for h in header]

    def cell(c: str, v: Any) -> str:
        if not c and _NUMBER.fullmatch(str(v)):
            c = ' class="num"'
        return f"<td{c}>{_esc(v)}</td>"

    head = "".join(f"<th>{_esc(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(cell(c, v) for c, v in zip(cls, r, strict=False)) + "</tr>" for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _md_to_html(text: str) -> tuple[str, str]:
    """(title, body) of a generated Markdown table file: headings, pipe tables, paragraphs."""
    title, parts, para, rows = "", [], [], []

    def flush() -> None:
        if para:
            parts.append(f'<p class="fn">{_esc(" ".join(para))}</p>')
            para.clear()
        if rows:
            body = [r for r in rows[1:] if not all(re.fullmatch(r":?-+:?", c) for c in r)]
            parts.append(_table(rows[0], body))
            rows.clear()

    for line in text.splitlines():
        s = line.strip()
        if s.startswith("|"):
            if para:
                flush()
            rows.append([c.strip() for c in s.strip("|").split("|")])
        elif s.startswith("#"):
            flush()
            if not title:
                title = s.lstrip("#").strip()
            else:
                parts.append(f"<h4>{_esc(s.lstrip('#').strip())}</h4>")
        elif not s:
            flush()
        else:
            if rows:
                flush()
            para.append(s)
    flush()
    return title, "".join(parts)


def _csv_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    if not path.is_file():
        return [], []
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        return [], []
    keep = [i for i, h in enumerate(rows[0]) if h != "data_label"]
    return [rows[0][i] for i in keep], [
        [r[i] if i < len(r) else "" for i in keep] for r in rows[1:]
    ]


def _load_table(stem: str, files: dict[str, Path]) -> tuple[str, str, str]:
    """(title, body html, source file name) of one table, from HTML, Markdown or CSV."""
    if ".html" in files:
        parser = _TableBody()
        parser.feed(files[".html"].read_text(encoding="utf-8"))
        parser.close()
        return parser.title.strip(), parser.result(), files[".html"].name
    if ".md" in files:
        title, body = _md_to_html(files[".md"].read_text(encoding="utf-8"))
        return title, body, files[".md"].name
    header, rows = _csv_rows(files[".csv"])
    return "", _table(header, rows), files[".csv"].name


def _table_title(study: dict[str, Any], stem: str, found: str) -> str:
    """The heading of table ``stem``: the study's own title, a fixed name for the standard
    tables, else the title found in the file (without the study title in front)."""
    spec = (study.get("tables") or {}).get(stem) or {}
    title = str(spec.get("title") or _STANDARD_TITLES.get(stem) or found or "")
    prefix = f"{_title(study)}: "
    if title.startswith(prefix):
        title = title[len(prefix) :]
    if not title:
        title = stem.replace("_", " ")
    return title[:1].upper() + title[1:]


def _table_files(tables_dir: Path) -> dict[str, dict[str, Path]]:
    found: dict[str, dict[str, Path]] = {}
    if tables_dir.is_dir():
        for p in sorted(tables_dir.iterdir()):
            if p.is_file() and p.suffix in _TABLE_SUFFIXES:
                found.setdefault(p.stem, {})[p.suffix] = p
    return found


def _table_order(study: dict[str, Any], stems: list[str]) -> list[str]:
    expected = [*(study.get("tables") or {}), *_STANDARD_TABLES]
    rank = {s: i for i, s in reversed(list(enumerate(expected)))}
    return sorted(stems, key=lambda s: (rank.get(s, len(rank)), s))


def _table_block(study: dict[str, Any], stem: str, files: dict[str, Path]) -> str:
    title, body, source = _load_table(stem, files)
    return (
        f'<section class="table-block" id="table-{_esc(stem)}">'
        f"<h3>{_esc(_table_title(study, stem, title))}</h3>{body}"
        f'<p class="source">Source: tables/{_esc(source)}</p></section>'
    )


# --- manifest and data quality -------------------------------------------------------------


def _kv(pairs: list[tuple[str, Any]], mono: tuple[str, ...] = ()) -> str:
    items = "".join(
        f"<dt>{_esc(k)}</dt><dd{_MONO if k in mono else ''}>{_esc(v)}</dd>"
        for k, v in pairs
        if v is not None and v != ""
    )
    return f'<dl class="kv">{items}</dl>'


def _yes_no(value: Any) -> str:
    return "" if value is None else ("yes" if value else "no")


def _manifest_html(manifest: dict[str, Any] | None) -> str:
    """The run-manifest section: summary, inputs, reconciliation, versions, outputs."""
    if not manifest:
        return (
            '<p class="missing">The run manifest (manifest.json) was not available when this '
            "report was built.</p>"
        )
    return "".join(
        [
            _manifest_summary(manifest),
            _inputs_html(manifest.get("inputs") or []),
            _superseded_html(manifest.get("superseded_submissions") or []),
            _reconciliation_html(manifest.get("reconciliation") or []),
            _packages_html(manifest.get("packages") or {}),
            _config_files_html((manifest.get("config") or {}).get("files") or []),
            _outputs_html(manifest.get("outputs") or []),
        ]
    )


def _manifest_summary(manifest: dict[str, Any]) -> str:
    """Versions, cut-off, code commit and hash, and the number of outputs, as a list."""
    code = manifest.get("code") or {}
    commit = code.get("git_commit") or "not recorded (not a git checkout)"
    if code.get("git_dirty"):
        commit += " (working tree had uncommitted changes)"
    return _kv(
        [
            ("Manifest version", manifest.get("manifest_version")),
            ("Data cut-off", manifest.get("cutoff_date")),
            ("Dictionary version", manifest.get("dictionary_version")),
            ("Public demo key", _yes_no(manifest.get("demo_key"))),
            ("Git commit", commit),
            ("Code SHA-256", code.get("code_sha256")),
            ("Code files hashed", code.get("files")),
            ("Python", manifest.get("python")),
            ("Outputs listed", len(manifest.get("outputs") or [])),
        ],
        mono=("Git commit", "Code SHA-256"),
    )


def _inputs_html(inputs: list[dict[str, Any]]) -> str:
    """The input files with their reader, encoding, rows and SHA-256, by site and path."""
    keys = ("site", "path", "reader", "encoding", "sheet", "rows_read", "bytes", "sha256")
    rows = [
        [(i.get(k) or "") if k in ("encoding", "sheet") else i.get(k, "") for k in keys]
        for i in sorted(inputs, key=lambda i: (str(i.get("site")), str(i.get("path"))))
    ]
    header = ["Site", "File", "Reader", "Encoding", "Sheet", "Rows read", "Bytes", "SHA-256"]
    return "<h3>Input files</h3>" + _table(header, rows, mono=("SHA-256",))


def _superseded_html(superseded: list[dict[str, Any]]) -> str:
    """Earlier submissions of a site, kept but not used (nothing without any)."""
    if not superseded:
        return ""
    rows = [
        [
            s.get("site", ""),
            s.get("date", ""),
            s.get("path", ""),
            _yes_no(s.get("used")),
            s.get("bytes", ""),
            s.get("sha256", ""),
        ]
        for s in sorted(superseded, key=lambda s: (str(s.get("site")), str(s)))
    ]
    header = ["Site", "Date", "File", "Used", "Bytes", "SHA-256"]
    return "<h3>Earlier submissions (kept, not used)</h3>" + _table(header, rows, mono=("SHA-256",))


def _reconciliation_html(recon: list[dict[str, Any]]) -> str:
    """Rows read, harmonised and set aside per site and file, with the reasons."""
    rows = [
        [
            r.get("site", ""),
            r.get("file", ""),
            r.get("rows_read", ""),
            r.get("rows_harmonised", ""),
            r.get("rows_quarantined", ""),
            r.get("policy", ""),
            "; ".join(f"{k}: {v}" for k, v in sorted((r.get("quarantine_reasons") or {}).items())),
        ]
        for r in sorted(recon, key=lambda r: (str(r.get("site")), str(r.get("file"))))
    ]
    header = ["Site", "File", "Rows read", "Harmonised", "Set aside", "Policy", "Reasons"]
    return (
        "<h3>Row reconciliation</h3>"
        '<p class="fn">For every site and file: rows read = rows harmonised + rows set aside. '
        "Records set aside are named by pseudonymous study ID only.</p>" + _table(header, rows)
    )


def _packages_html(packages: dict[str, Any]) -> str:
    """Package versions, by name."""
    rows = [[k, packages[k]] for k in sorted(packages)]
    return "<h3>Package versions</h3>" + _table(["Package", "Version"], rows)


def _config_files_html(cfg: list[dict[str, Any]]) -> str:
    """Configuration files with their size and SHA-256 (nothing without any)."""
    if not cfg:
        return ""
    rows = [[c.get("path", ""), c.get("bytes", ""), c.get("sha256", "")] for c in cfg]
    return "<h3>Configuration files</h3>" + _table(
        ["File", "Bytes", "SHA-256"], rows, mono=("SHA-256",)
    )


def _outputs_html(outputs: list[dict[str, Any]]) -> str:
    """Every output with its size and SHA-256, folded (nothing without any)."""
    if not outputs:
        return ""
    rows = [
        [o.get("path", ""), o.get("bytes", ""), o.get("sha256", "")]
        for o in sorted(outputs, key=lambda o: str(o.get("path")))
    ]
    return (
        f"<details><summary>All {len(outputs)} outputs with SHA-256</summary>"
        f"{_table(['File', 'Bytes', 'SHA-256'], rows, mono=('SHA-256',))}</details>"
    )


def _dq_html(results_dir: Path) -> str:
    study_csv = results_dir / "dq" / "study.csv"
    if not study_csv.is_file():
        return '<p class="missing">No data-quality summary (dq/study.csv) was found.</p>'
    header, rows = _csv_rows(study_csv)
    sites = sorted(
        p.stem for p in (results_dir / "dq").glob("*.html") if p.is_file() and p.stem != "study"
    )
    note = (
        f'<p class="source">Source: dq/study.csv. Per-site reports: '
        f"{_esc(', '.join(f'dq/{s}.html' for s in sites))}.</p>"
        if sites
        else '<p class="source">Source: dq/study.csv.</p>'
    )
    return (
        '<p class="fn">Rows read, harmonised and set aside per site; fatal findings set a '
        "record aside (quarantine policy), warnings are reported and kept.</p>"
        f"{_table(header, rows)}{note}"
    )


# --- the report ----------------------------------------------------------------------------


def _analysed_count(results_dir: Path) -> int | None:
    """Patients analysed overall (``analyse/flow.csv``), or None without the file."""
    header, rows = _csv_rows(results_dir / "analyse" / "flow.csv")
    if not header or "step" not in header:
        return None
    i_site, i_step, i_n = header.index("site"), header.index("step"), header.index("n")
    for r in rows:
        if r[i_site] == "All" and r[i_step] == "analysed":
            return int(float(r[i_n]))
    return None


def _not_drawn(study: dict[str, Any], results_dir: Path) -> list[tuple[str, str]]:
    """(figure stem, reason) of configured figures that were deliberately not drawn: forest
    plots of Cox models that were refused (``analyse/cox.csv`` says why)."""
    header, rows = _csv_rows(results_dir / "analyse" / "cox.csv")
    if not header or "model" not in header or "status" not in header:
        return []
    i_model, i_status = header.index("model"), header.index("status")
    status: dict[str, set[str]] = {}
    for r in rows:
        status.setdefault(r[i_model], set()).add(r[i_status])
    return [
        (f"forest_{m}", f"the model was not estimable ({'; '.join(sorted(st))})")
        for m, st in sorted(status.items())
        if "fitted" not in st
    ]


def _read_manifest(results_dir: Path) -> dict[str, Any] | None:
    path = results_dir / "manifest.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


#: The report's sections in order (anchor, heading): results first, the run's provenance
#: (hashes, versions) after them.
_SECTIONS = [
    ("flow", "Patient flow"),
    ("tables", "Tables"),
    ("figures", "Figures"),
    ("data-quality", "Data quality"),
    ("manifest", "Run manifest"),
]


def render_run_report(
    study: dict[str, Any], results_dir: Path | str, manifest: dict[str, Any] | None = None
) -> str:
    """The run report of ``study`` as one HTML document (see ``build_run_report``)."""
    results_dir = Path(results_dir)
    if manifest is None:
        manifest = _read_manifest(results_dir)
    label = str(study.get("data_label") or (manifest or {}).get("data_label") or "")
    figures = _Figures(study, results_dir)
    tables = _table_files(results_dir / "tables")
    flow = tables.pop("flow", None)
    parts = [
        _report_head(study, results_dir, manifest, label),
        '<nav class="toc"><strong>Contents</strong><ol>',
        "".join(f'<li><a href="#{a}">{_esc(t)}</a></li>' for a, t in _SECTIONS),
        "</ol></nav>",
        _flow_section(study, figures, flow),
        _tables_section(study, tables),
        _figures_section(study, figures, results_dir),
        f'<section id="data-quality"><h2>4. Data quality</h2>{_dq_html(results_dir)}</section>',
        f'<section id="manifest"><h2>5. Run manifest</h2>{_manifest_html(manifest)}</section>',
        '<footer class="report">',
        f"<p>{_esc(label)}</p>" if label else "",
        "<p>Self-contained report: figures are embedded, nothing refers to other files. "
        "Shareable results only; the restricted area (local patient IDs) is never read.</p>",
        "</footer></main></body></html>\n",
    ]
    return "".join(parts)


def _report_head(
    study: dict[str, Any], results_dir: Path, manifest: dict[str, Any] | None, label: str
) -> str:
    """The document head (styles, content policy) and the report's header: title, data
    label, study, cut-off and number of sites."""
    title = _title(study)
    sid = str(study.get("id") or (manifest or {}).get("study") or results_dir.name)
    cutoff = study.get("cutoff_date") or (manifest or {}).get("cutoff_date")
    meta = f"Study {sid}" + (f"; data cut-off {cutoff}" if cutoff else "")
    sites = study.get("sites") or {}
    if sites:
        meta += f"; {len(sites)} site{'s' if len(sites) != 1 else ''}"
    return "".join(
        [
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<meta name="generator" content="cohortflow run report">',
            f"<title>{_esc(title)}: run report</title><style>{_CSS}</style></head><body><main>",
            f'<header class="report"><h1>{_esc(title)}</h1>',
            f'<p class="data-label">{_esc(label)}</p>' if label else "",
            f'<p class="meta">{_esc(meta)}. Run report built from results/{_esc(sid)}/.</p>'
            "</header>",
        ]
    )


class _Figures:
    """The PNG figures of a run in reading order, numbered, each as a captioned block."""

    def __init__(self, study: dict[str, Any], results_dir: Path) -> None:
        self.study = study
        fig_dir = results_dir / "figures"
        self.pngs = {p.stem: p for p in sorted(fig_dir.glob("*.png")) if p.is_file()}
        self.order = figure_order(study, list(self.pngs))
        self.numbers = {stem: i for i, stem in enumerate(self.order, start=1)}
        self.n_analysed = _analysed_count(results_dir)

    def html(self, stem: str) -> str:
        """Figure ``stem`` embedded with its number and caption."""
        caption = figure_caption(self.study, stem)
        if stem == "swimmer" and self.n_analysed is not None:
            spec = self.study.get("swimmer") or {}
            limit = int(Swimmer.of(spec).max_patients)
            caption += f". {swimmer_subset_text(self.n_analysed, limit)}"
        png = self.pngs[stem]
        return _figure_html(png, self.numbers[stem], caption, f"figures/{png.name}")


def _flow_section(study: dict[str, Any], figures: _Figures, flow: dict[str, Path] | None) -> str:
    """Section 1: the CONSORT diagram and the flow table."""
    parts = ['<section id="flow"><h2>1. Patient flow</h2>']
    if "consort" in figures.pngs:
        parts.append(figures.html("consort"))
    if flow:
        parts.append(_table_block(study, "flow", flow))
    if "consort" not in figures.pngs and not flow:
        parts.append('<p class="missing">No patient flow was produced.</p>')
    return "".join([*parts, "</section>"])


def _tables_section(study: dict[str, Any], tables: dict[str, dict[str, Path]]) -> str:
    """Section 2: every table but the flow, the study's own first."""
    stems = _table_order(study, list(tables))
    parts = ['<section id="tables"><h2>2. Tables</h2>']
    parts += [_table_block(study, stem, tables[stem]) for stem in stems]
    if not stems:
        parts.append('<p class="missing">No tables were produced.</p>')
    return "".join([*parts, "</section>"])


def _figures_section(study: dict[str, Any], figures: _Figures, results_dir: Path) -> str:
    """Section 3: every figure but CONSORT, then the figures deliberately not drawn."""
    others = [s for s in figures.order if s != "consort"]
    parts = ['<section id="figures"><h2>3. Figures</h2>']
    parts += [figures.html(stem) for stem in others]
    not_drawn = _not_drawn(study, results_dir)
    parts += [
        f'<p class="not-drawn" id="not-drawn-{_esc(stem)}"><strong>'
        f"{_esc(figure_caption(study, stem))}</strong>: no figure, {_esc(why)}</p>"
        for stem, why in not_drawn
    ]
    if not others and not not_drawn:
        parts.append('<p class="missing">No figures were produced.</p>')
    return "".join([*parts, "</section>"])


def build_run_report(
    study: dict[str, Any],
    results_dir: Path | str,
    out: Path | str,
    manifest: dict[str, Any] | None = None,
) -> Path:
    """Write the self-contained HTML run report of ``study`` to ``out`` and return ``out``.

    The report holds the title and data label, the manifest summary (inputs with reader,
    encoding and SHA-256, code version, package versions, row reconciliation), the
    data-quality summary, the CONSORT diagram and flow table, every table under ``tables/`` and
    every PNG figure under ``figures/`` (embedded, captioned). ``manifest`` is used when given,
    otherwise ``results_dir/manifest.json`` if it exists (the report may be built before it).
    Identical inputs give identical bytes.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(render_run_report(study, results_dir, manifest).encode("utf-8"))
    return out
