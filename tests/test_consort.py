"""Tests for cohortflow.render.consort: CONSORT diagram content, layout and reproducible files."""

from __future__ import annotations

import itertools
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from cohortflow.render.consort import MAX_SITE_COLUMNS, SITE_NOTE, consort_figure, save_consort

LONG = (
    "Relapsed or refractory disease after two or more prior regimens including at least "
    "one anthracycline-containing induction and one salvage course given at a study centre"
)
CRITERIA = (
    ("Marrow blasts >= 25 % (FAB)", (1, 1, 0)),  # 2
    ("Age 1-21 years at initial diagnosis", (0, 0, 1)),  # 1
    (LONG, (0, 1, 0)),  # 1
    ("Any clofarabine", (1, 0, 1)),  # 2
    ("Consent withdrawn", (0, 0, 0)),  # 0
)
REASON = "No treatment/follow-up data after R/R diagnosis"
SITES = {  # site: (screened, not analysed)
    "S01": (30, 1),
    "S02": (25, 0),
    "S03": (15, 0),
}


def _rows(site: str, screened: int, excl: list[tuple[str, int]], not_an: int) -> list[dict]:
    eligible = screened - sum(n for _, n in excl)
    return [
        {"site": site, "step": "screened", "n": screened},
        *({"site": site, "step": f"excluded: {label}", "n": n} for label, n in excl),
        {"site": site, "step": "eligible", "n": eligible},
        {"site": site, "step": f"not analysed: {REASON}", "n": not_an},
        {"site": site, "step": "analysed", "n": eligible - not_an},
    ]


def _flow() -> pd.DataFrame:
    """All + 3 sites: 70 screened, 6 excluded (2/1/1/2/0), 64 eligible, 1 not analysed."""
    totals = [(label, sum(by_site)) for label, by_site in CRITERIA]
    rows = _rows("All", 70, totals, 1)
    for k, (site, (screened, not_an)) in enumerate(SITES.items()):
        rows += _rows(site, screened, [(label, ns[k]) for label, ns in CRITERIA], not_an)
    flow = pd.DataFrame(rows)
    flow["data_label"] = "SYNTHETIC DATA"
    return flow


def _many_sites(n_sites: int) -> pd.DataFrame:
    rows = _rows("All", 10 * n_sites, [("Any clofarabine", n_sites)], 0)
    for i in range(n_sites):
        rows += _rows(f"S{i + 1:02d}", 10, [("Any clofarabine", 1)], 0)
    return pd.DataFrame(rows)


def _texts(fig: Figure) -> list[Text]:
    return [t for t in fig.texts if t.get_visible() and t.get_text().strip()]


def _flat(s: str) -> str:
    return " ".join(s.split())


def _extents(fig: Figure) -> list[tuple[Text, Bbox]]:
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    return [(t, t.get_window_extent(renderer)) for t in _texts(fig)]


def _box(fig: Figure, gid: str) -> Bbox:
    (patch,) = [a for a in fig.artists if isinstance(a, FancyBboxPatch) and a.get_gid() == gid]
    return patch.get_window_extent(fig.canvas.get_renderer())


def _by_gid(fig: Figure, gid: str) -> Text:
    (text,) = [t for t in fig.texts if t.get_gid() == gid]
    return text


def _overlap(a: Bbox, b: Bbox) -> bool:
    return min(a.x1, b.x1) > max(a.x0, b.x0) and min(a.y1, b.y1) > max(a.y0, b.y0)


def _inside(inner: Bbox, outer: Bbox, tol: float = 0.5) -> bool:
    return (
        inner.x0 >= outer.x0 - tol
        and inner.x1 <= outer.x1 + tol
        and inner.y0 >= outer.y0 - tol
        and inner.y1 <= outer.y1 + tol
    )


@pytest.fixture(scope="module")
def fig() -> Figure:
    return consort_figure(_flow(), title="Test study: patient flow", footnote="SYNTHETIC DATA")


# --------------------------------------------------------------------------- content


def test_main_boxes_and_counts(fig: Figure):
    assert isinstance(fig, Figure)
    width, height = fig.get_size_inches()
    assert width == 8.0 and 6.0 <= height <= 8.0
    texts = [_flat(t.get_text()) for t in _texts(fig)]
    for expected in ("Screened (n = 70)", "Eligible (n = 64)", "Analysed (n = 63)"):
        assert expected in texts
    assert "Excluded (n = 6)" in texts
    assert "Not analysed (n = 1)" in texts
    assert "Test study: patient flow" in texts
    assert "SYNTHETIC DATA" in texts


def test_every_criterion_listed_with_its_n(fig: Figure):
    texts = [_flat(t.get_text()) for t in _texts(fig)]
    for label, by_site in CRITERIA:
        assert f"{label} (n = {sum(by_site)})" in texts
    assert "Consent withdrawn (n = 0)" in texts  # zero counts are kept
    assert f"{REASON} (n = 1)" in texts
    # listed in flow order
    items = [_flat(_by_gid(fig, f"consort:excluded:{i}").get_text()) for i in range(5)]
    assert [i.rsplit(" (n =", 1)[0] for i in items] == [label for label, _ in CRITERIA]


def test_long_label_wraps_inside_its_box(fig: Figure):
    _extents(fig)
    long_item = _by_gid(fig, "consort:excluded:2")
    assert "\n" in long_item.get_text()
    box = _box(fig, "consort:box:excluded")
    renderer = fig.canvas.get_renderer()
    for i in range(len(CRITERIA)):
        item = _by_gid(fig, f"consort:excluded:{i}").get_window_extent(renderer)
        assert _inside(item, box)
    assert _inside(
        _by_gid(fig, "consort:not-analysed:0").get_window_extent(renderer),
        _box(fig, "consort:box:not-analysed"),
    )
    for step in ("screened", "eligible", "analysed"):
        text = _by_gid(fig, f"consort:{step}").get_window_extent(renderer)
        assert _inside(text, _box(fig, f"consort:box:{step}"))


def test_site_table(fig: Figure):
    texts = {t.get_gid(): t.get_text() for t in _texts(fig) if t.get_gid()}
    assert texts["consort:site:S01:screened"] == "30"
    assert texts["consort:site:S01:analysed"] == "27"
    assert texts["consort:site:S02:eligible"] == "23"
    assert texts["consort:site:S03:eligible"] == "13"
    assert texts["consort:site:All:screened"] == "70"
    assert texts["consort:site:All:analysed"] == "63"
    assert not any(SITE_NOTE in t.get_text() for t in _texts(fig))


# --------------------------------------------------------------------------- layout


def _box_of(gid: str) -> str | None:
    """The gid of the box a text belongs in, if any."""
    parts = gid.split(":")
    if parts[1] in ("screened", "eligible", "analysed", "excluded", "not-analysed"):
        return f"consort:box:{parts[1]}"
    return None


def _assert_clean_layout(fig: Figure) -> None:
    """No overlapping texts, all inside the figure and boxed texts inside their box, at the
    screen dpi and at the PNG dpi."""
    dpi = fig.dpi
    try:
        for render_dpi in (dpi, 200):
            fig.set_dpi(render_dpi)
            extents = _extents(fig)
            for (ta, a), (tb, b) in itertools.combinations(extents, 2):
                assert not _overlap(a, b), f"{ta.get_text()!r} overlaps {tb.get_text()!r}"
            for t, bb in extents:
                assert _inside(bb, fig.bbox, tol=0.0), f"{t.get_text()!r} outside the figure"
                box = _box_of(t.get_gid() or "consort:")
                if box is not None:
                    assert _inside(bb, _box(fig, box)), f"{t.get_text()!r} overflows {box}"
    finally:
        fig.set_dpi(dpi)


def test_no_text_overlaps_and_all_inside(fig: Figure):
    _assert_clean_layout(fig)


def test_layout_without_site_detail():
    fig = consort_figure(_flow(), title="No sites", site_detail=False)
    texts = [_flat(t.get_text()) for t in _texts(fig)]
    assert not any(t.startswith("consort:site") for t in map(str, (x.get_gid() for x in fig.texts)))
    assert "Screened (n = 70)" in texts
    _assert_clean_layout(fig)


def test_many_sites_switch_to_note():
    fig = consort_figure(_many_sites(15), title="Fifteen sites", footnote="x " * 200)
    texts = [_flat(t.get_text()) for t in _texts(fig)]
    assert any(SITE_NOTE in t for t in texts)
    assert not any((t.get_gid() or "").startswith("consort:site:") for t in fig.texts)
    _assert_clean_layout(fig)


def test_twelve_sites_still_tabled():
    fig = consort_figure(_many_sites(MAX_SITE_COLUMNS), title="Twelve sites")
    assert not any(SITE_NOTE in t.get_text() for t in _texts(fig))
    assert _by_gid(fig, "consort:site:S12:screened").get_text() == "10"
    _assert_clean_layout(fig)


def test_long_title_and_many_reasons_fit():
    rows = _rows("All", 100, [(f"{LONG} ({i})", 1) for i in range(8)], 2)
    fig = consort_figure(pd.DataFrame(rows), title="A very long title " * 12)
    assert fig.get_size_inches()[1] > 7.0  # grown to fit
    _assert_clean_layout(fig)


def test_malformed_flow_rejected():
    flow = _flow()
    with pytest.raises(ValueError, match="no 'All'"):
        consort_figure(flow[flow["site"] != "All"], title="t")
    with pytest.raises(ValueError, match="lacks step"):
        consort_figure(flow[flow["step"] != "eligible"], title="t")
    with pytest.raises(ValueError, match="unknown step"):
        bad = flow.copy()
        bad.loc[0, "step"] = "randomised"
        consort_figure(bad, title="t")
    with pytest.raises(ValueError, match="lacks column"):
        consort_figure(flow.drop(columns="n"), title="t")


# --------------------------------------------------------------------------- files


def test_save_consort_is_byte_deterministic(tmp_path: Path):
    fig = consort_figure(_flow(), title="Flow", footnote="SYNTHETIC DATA")
    first = save_consort(fig, tmp_path / "a" / "consort")
    assert [p.name for p in first] == ["consort.png", "consort.pdf", "consort.svg"]
    png, pdf, svg = (p.read_bytes() for p in first)
    assert png.startswith(b"\x89PNG") and pdf.startswith(b"%PDF") and b"<svg" in svg[:1000]
    assert b"CreationDate" not in pdf and b"<dc:date>" not in svg
    second = save_consort(fig, tmp_path / "b" / "consort")
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
    rebuilt = consort_figure(_flow(), title="Flow", footnote="SYNTHETIC DATA")
    third = save_consort(rebuilt, tmp_path / "c" / "consort")
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in third]
