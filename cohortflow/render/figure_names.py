"""The figure-name grammar, in one place: which figures a study has, what a name means and
the order a reader meets them in.

``km_<analysis>`` (Kaplan-Meier), ``km_<analysis>_landmark_<L>m`` and
``km_<analysis>_simon_makuch`` (time-dependent groupings), ``cif_<id>`` (cumulative
incidence), ``forest_<model>`` (Cox model; ``forest_<cif>_fine_gray`` for a Fine-Gray model
of a cumulative-incidence analysis) and ``swimmer``; the CONSORT diagram is
``consort``. ``rules/common.smk`` builds the figure rules from ``figure_stems``,
``render.study_figures.build_figure`` dispatches on ``parse_figure`` and the run report orders by
``figure_order``. Light on purpose (no plotting imports): the Snakefile imports it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from cohortflow.core.defaults import Analysis, Study, Swimmer


@dataclass(frozen=True)
class FigureName:
    """One figure of a study: its ``kind`` (km, landmark, simon_makuch, cif, forest, swimmer,
    consort), the configured ``id`` it draws and, for a landmark figure, its ``months``."""

    kind: str
    id: str = ""
    months: float | None = None

    @property
    def stem(self) -> str:
        """File name without extension."""
        if self.kind == "landmark":
            return f"km_{self.id}_landmark_{self.months:g}m"
        if self.kind == "simon_makuch":
            return f"km_{self.id}_simon_makuch"
        if self.kind in ("swimmer", "consort"):
            return self.kind
        return f"{self.kind}_{self.id}"

    @property
    def analysis(self) -> str:
        """The analysis its rows carry in the analyse stage's outputs (``survival.csv``,
        ``tests.csv``, ``landmark.parquet`` ...): the configured ID, or for a landmark or
        Simon-Makuch figure the derived analysis ``<id>_landmark_<L>m`` / ``<id>_simon_makuch``.
        """
        if self.kind in ("landmark", "simon_makuch"):
            return self.stem.removeprefix("km_")
        return self.id


def study_figures(study: dict[str, Any]) -> list[FigureName]:
    """The figures a study's configuration asks for (CONSORT aside), in reading order.

    Per analysis: its Kaplan-Meier figure (unless its grouping is time-dependent and naive
    curves are not allowed), then for a time-dependent grouping its landmark figures and
    its Simon-Makuch figure; then cumulative incidence, forest plots and the swimmer plot.
    """
    out = []
    for a in study.get("analyses") or []:
        g = Study.of(study).groupings.get(Analysis.of(a).by, {})
        if not g.get("time_dependent") or a.get("allow_naive"):
            out.append(FigureName("km", a["id"]))
        if g.get("time_dependent"):
            months = Analysis.of(a).landmarks_months
            out += [FigureName("landmark", a["id"], m) for m in months]
            out.append(FigureName("simon_makuch", a["id"]))
    out += [FigureName("cif", c["id"]) for c in study.get("cif_analyses") or []]
    out += [FigureName("forest", m["id"]) for m in study.get("cox_models") or []]
    out += [  # Fine-Gray models of cumulative-incidence analyses (model id <cif>_fine_gray)
        FigureName("forest", f"{c['id']}_fine_gray")
        for c in study.get("cif_analyses") or []
        if c.get("fine_gray")
    ]
    if study.get("swimmer"):
        out.append(FigureName("swimmer"))
    return out


def figure_stems(study: dict[str, Any]) -> list[str]:
    """File stems of a study's figures besides the CONSORT diagram (the figure rule's names)."""
    return [f.stem for f in study_figures(study)]


def parse_figure(study: dict[str, Any], stem: str) -> FigureName:
    """What figure ``stem`` of ``study`` is; ValueError for a name the study does not have.

    >>> study = {"analyses": [{"id": "os", "by": "hsct"}],
    ...          "groupings": {"hsct": {"time_dependent": "hsct_date"}}}
    >>> parse_figure(study, "km_os_landmark_6m")
    FigureName(kind='landmark', id='os', months=6)
    """
    for f in study_figures(study) + [FigureName("consort")]:
        if f.stem == stem:
            return f
    raise ValueError(f"figure {stem!r} is not configured for this study")


def read_figure_name(study: dict[str, Any], stem: str) -> FigureName | None:
    """What ``stem`` means by the grammar alone, for the analyses, cumulative-incidence
    analyses and Cox models ``study`` names, whether or not it configures that figure (a
    landmark the configuration no longer lists, say); None for a name outside the grammar.

    >>> study = {"analyses": [{"id": "os"}, {"id": "os_all"}]}
    >>> read_figure_name(study, "km_os_all_landmark_12m")
    FigureName(kind='landmark', id='os_all', months=12.0)
    """
    if stem in ("swimmer", "consort"):
        return FigureName(stem)
    ids = {
        kind: [str(i["id"]) for i in study.get(key) or [] if "id" in i]
        for kind, key in (("km", "analyses"), ("cif", "cif_analyses"), ("forest", "cox_models"))
    }
    for aid in sorted(ids["km"], key=len, reverse=True):
        if stem == FigureName("km", aid).stem:
            return FigureName("km", aid)
        if stem == FigureName("simon_makuch", aid).stem:
            return FigureName("simon_makuch", aid)
        m = re.fullmatch(rf"{re.escape(landmark_prefix(aid))}(\d+(?:\.\d+)?)m", stem)
        if m:
            return FigureName("landmark", aid, float(m.group(1)))
    for kind in ("cif", "forest"):
        for i in ids[kind]:
            if stem == FigureName(kind, i).stem:
                return FigureName(kind, i)
    return None


def landmark_prefix(analysis_id: str) -> str:
    """What every landmark figure stem of an analysis starts with."""
    return f"km_{analysis_id}_landmark_"


def figure_order(study: dict[str, Any], stems: list[str]) -> list[str]:
    """``stems`` in reading order: CONSORT, per analysis its KM, landmark and Simon-Makuch
    figures (landmarks the configuration does not list after those it does, by name), then
    cumulative incidence, forest plots, the swimmer plot, then others by name."""
    expected = [FigureName("consort").stem]
    for a in study.get("analyses") or []:
        aid = a.get("id", "")
        expected.append(FigureName("km", aid).stem)
        expected += [FigureName("landmark", aid, m).stem for m in a.get("landmarks_months") or []]
        expected += [
            s for s in sorted(stems) if s.startswith(landmark_prefix(aid)) and s not in expected
        ]
        expected.append(FigureName("simon_makuch", aid).stem)
    expected += [FigureName("cif", c.get("id", "")).stem for c in study.get("cif_analyses") or []]
    expected += [FigureName("forest", m.get("id", "")).stem for m in study.get("cox_models") or []]
    expected.append(FigureName("swimmer").stem)
    rank = {s: i for i, s in reversed(list(enumerate(expected)))}
    return sorted(set(stems), key=lambda s: (rank.get(s, len(rank)), s))


#: Default number of patients above which the swimmer plot shows a stated subset.
SWIMMER_MAX_PATIENTS = Swimmer().max_patients


def swimmer_subset_text(n_patients: int, max_patients: int = SWIMMER_MAX_PATIENTS) -> str:
    """Which patients the swimmer plot shows: all, or the stated reproducible subset."""
    if n_patients <= max_patients:
        return f"All {n_patients} analysed patients are shown."
    return (
        f"{max_patients} of {n_patients} analysed patients are shown: those with the "
        f"{max_patients} smallest study IDs (pseudonyms, so a reproducible sample unrelated to "
        f"outcome); the plot is limited to {max_patients} patients (swimmer: max_patients)."
    )
