"""Run report: one self-contained HTML file per study run, checked in headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from cohortflow.core.config import load_study
from cohortflow.render.runreport import build_run_report, figure_caption, figure_order

from .browser import BrowserError, ensure_chromium, ensure_hangul_font, inspect_page

STUDIES = ("infant_all", "rr_all")
DATA_URL = "data:image/png;base64,"
#: Where the browser test keeps its screenshots of the report pages (git-ignored).
SCREENSHOTS = Path(__file__).parent / "artifacts" / "screenshots"


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Headless Chromium, installed with apt-get when missing (the suite runs as root)."""
    try:
        ensure_hangul_font()  # Korean labels in the screenshots
        return ensure_chromium()
    except BrowserError as exc:
        pytest.fail(f"headless Chromium is needed for the run-report check: {exc}")


def _build(work: Path, study_id: str, out_dir: Path) -> tuple[dict, Path, Path]:
    """(study, results dir, report) with the report written away from the results."""
    study = load_study(study_id, root=work)
    results = work / "results" / study_id
    report = build_run_report(study, results, out_dir / study_id / "report.html")
    return study, results, report


@pytest.mark.parametrize("study_id", STUDIES)
def test_run_report_renders_in_chromium(workflow_run, chromium, tmp_path, study_id):
    study, results, report = _build(workflow_run, study_id, tmp_path)
    pngs = sorted(p.stem for p in (results / "figures").glob("*.png"))
    assert pngs, f"the run produced no PNG figures for {study_id}"

    # a full-page screenshot kept as a test artefact, for a reviewer to look at
    shot = SCREENSHOTS / f"{study_id}_report.png"
    shot.unlink(missing_ok=True)
    page = inspect_page(report, timeout_s=120, screenshot=shot)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = (
        int.from_bytes(shot.read_bytes()[16:20], "big"),
        int.from_bytes(shot.read_bytes()[20:24], "big"),
    )
    assert width == 1200 and height > 2000  # the whole page, not one screen

    assert page.errors == [], "\n".join(page.errors)
    assert len(page.images) == len(pngs)
    broken = [i.caption or i.src_prefix for i in page.images if not i.rendered]
    assert broken == [], f"images that did not render: {broken}"
    assert all(i.src_prefix.startswith(DATA_URL) for i in page.images)
    assert all(i.natural_width > 0 and i.natural_height > 0 for i in page.images)

    # Every figure has its caption, in reading order, and the captions carry the titles.
    captions = [i.caption for i in page.images]
    for caption, stem in zip(captions, figure_order(study, pngs), strict=True):
        assert figure_caption(study, stem) in caption
        assert f"figures/{stem}.png" in caption
    text = page.text
    for a in study["analyses"]:
        assert a["title"] in text, a["id"]
    for item in [*study.get("cif_analyses", []), *study.get("cox_models", [])]:
        assert item["title"] in text, item["id"]
    if study.get("swimmer"):
        assert any(c.startswith("Figure") and "Swimmer plot" in c for c in captions)
    assert any("CONSORT" in c for c in captions)

    # Title, data label and the other sections a reader expects.
    assert study["title"] in page.title
    assert study["data_label"] and study["data_label"] in text
    for heading in ("Run manifest", "Data quality", "Patient flow", "Tables", "Figures"):
        assert heading in text
    manifest = json.loads((results / "manifest.json").read_text(encoding="utf-8"))
    for entry in manifest["inputs"]:
        assert entry["sha256"] in text
        assert entry["reader"] in text
    assert manifest["code"]["code_sha256"] in text
    assert (manifest["code"].get("git_commit") or "not recorded") in text
    for package, version in manifest["packages"].items():
        assert package in text and version in text


@pytest.mark.parametrize("study_id", STUDIES)
def test_run_report_is_deterministic_and_self_contained(workflow_run, tmp_path, study_id):
    study, results, first = _build(workflow_run, study_id, tmp_path / "a")
    data = first.read_bytes()
    _, _, second = _build(workflow_run, study_id, tmp_path / "b")
    assert second.read_bytes() == data

    # The same results copied elsewhere give the same bytes: no absolute paths inside.
    moved = shutil.copytree(results, tmp_path / "elsewhere" / study_id)
    third = build_run_report(study, moved, tmp_path / "c" / "report.html")
    assert third.read_bytes() == data
    html = data.decode("utf-8")
    assert str(workflow_run) not in html and str(tmp_path) not in html
    srcs = re.findall(r"""\ssrc=["']([^"']*)""", html)
    assert srcs and all(s.startswith(DATA_URL) for s in srcs)
    assert len(srcs) == len(list((results / "figures").glob("*.png")))
    assert all(h.startswith("#") for h in re.findall(r"""\shref=["']([^"']*)""", html))
    assert "url(" not in html and "@import" not in html


def test_run_report_before_the_manifest(workflow_run, tmp_path):
    study = load_study("infant_all", root=workflow_run)
    results = shutil.copytree(workflow_run / "results" / "infant_all", tmp_path / "infant_all")
    manifest = json.loads((results / "manifest.json").read_text(encoding="utf-8"))
    with_file = build_run_report(study, results, tmp_path / "with_file.html").read_bytes()
    (results / "manifest.json").unlink()

    without = build_run_report(study, results, tmp_path / "without.html").read_text("utf-8")
    assert "manifest.json) was not available" in without
    passed = build_run_report(study, results, tmp_path / "passed.html", manifest=manifest)
    assert passed.read_bytes() == with_file


def test_browser_check_sees_errors_and_broken_images(chromium, tmp_path):
    """The Chromium helper is not vacuous: it reports what a reader would see go wrong."""
    pixel = (
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDw"
        "ADhgGAWjR9awAAAABJRU5ErkJggg=="
    )
    page_file = tmp_path / "page.html"
    page_file.write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>probe</title></head><body>"
        f"<figure><img src='{DATA_URL}{pixel}'><figcaption>one pixel</figcaption></figure>"
        "<img src='figures/missing.png'>"
        "<script>console.error('probe error'); throw new Error('probe exception');</script>"
        "</body></html>",
        encoding="utf-8",
    )
    page = inspect_page(page_file, timeout_s=60)
    assert page.title == "probe"
    assert [(i.rendered, i.caption) for i in page.images] == [(True, "one pixel"), (False, "")]
    assert page.images[0].src_prefix.startswith(DATA_URL)
    assert any("probe error" in e for e in page.errors)
    assert any("probe exception" in e for e in page.errors)
    assert any("missing.png" in e for e in page.errors)


def test_figure_captions_follow_the_study_definition():
    study = {
        "title": "T",
        "analyses": [
            {"id": "os", "title": "Overall survival"},
            {"id": "os_by_hsct", "title": "OS by HSCT", "landmarks_months": [6, 12]},
        ],
        "cif_analyses": [{"id": "rel", "title": "Relapse incidence"}],
        "cox_models": [{"id": "cox1", "title": "Cox of OS"}],
        "swimmer": {"title": "Timelines"},
    }
    assert figure_caption(study, "km_os") == "Kaplan-Meier curves: Overall survival"
    assert figure_caption(study, "km_os_by_hsct").endswith(": OS by HSCT")
    assert figure_caption(study, "km_os_by_hsct_landmark_12m") == (
        "Landmark analysis from 12 months: OS by HSCT"
    )
    assert "Simon-Makuch" in figure_caption(study, "km_os_by_hsct_simon_makuch")
    assert figure_caption(study, "cif_rel") == "Cumulative incidence: Relapse incidence"
    assert figure_caption(study, "forest_cox1").endswith(": Cox of OS")
    assert figure_caption(study, "swimmer") == "Swimmer plot: Timelines"
    assert "CONSORT" in figure_caption(study, "consort")
    assert figure_caption(study, "extra_plot") == "Extra plot"
    stems = [
        "swimmer",
        "extra_plot",
        "forest_cox1",
        "km_os_by_hsct_simon_makuch",
        "km_os_by_hsct_landmark_12m",
        "km_os_by_hsct_landmark_6m",
        "cif_rel",
        "km_os",
        "consort",
    ]
    assert figure_order(study, stems) == [
        "consort",
        "km_os",
        "km_os_by_hsct_landmark_6m",
        "km_os_by_hsct_landmark_12m",
        "km_os_by_hsct_simon_makuch",
        "cif_rel",
        "forest_cox1",
        "swimmer",
        "extra_plot",
    ]
