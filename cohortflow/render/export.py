"""Tables for people as Markdown and HTML files, byte-for-byte reproducible.

They reuse the renderings of ``cohortflow.render.tables``; Excel workbooks are written by
``cohortflow.core.xlsx``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from cohortflow.core.io import atomic_write
from cohortflow.render.tables import frame_to_html, md_table


def write_markdown_table(
    df: pd.DataFrame, path: Path | str, title: str, footnotes: Sequence[str] = ()
) -> Path:
    """Write ``df`` as a Markdown file: ``## title``, the table, then the footnotes.

    Values are printed as ``str`` gives them (missing values empty); format numbers
    beforehand. Returns the path; parent directories are created.
    """
    lines = [f"## {title}", "", md_table(df).rstrip("\n")]
    notes = [f"{note}  " for note in footnotes if note]
    text = "\n".join(lines + ([""] + notes if notes else [])) + "\n"
    path = Path(path)
    atomic_write(path, text.encode("utf-8"))
    return path


def write_html_table(
    df: pd.DataFrame, path: Path | str, title: str, footnotes: Sequence[str] = ()
) -> Path:
    """Write ``df`` as a standalone, styled HTML page with ``title`` and ``footnotes``.

    Returns the path; parent directories are created.
    """
    path = Path(path)
    atomic_write(path, frame_to_html(df, title, list(footnotes)).encode("utf-8"))
    return path
