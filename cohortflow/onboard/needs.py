"""The canonical variables a study needs from every site, computed from its definition.

A study reads canonical variables in its eligibility rules, the endpoints its analyses use, the
groupings and subsets of its analyses, its Cox covariates, response rates and tables, and the
risk schemes its groupings classify by. Derived variables (``from`` / ``from_any`` /
``from_if_missing`` in schemas/dictionary.yaml) are traced back to what a site maps.

A *required* variable is one an analysis, table or eligibility rule of the study depends on; a
*recommended* one is only read by a risk scheme listed for information or an endpoint no
analysis uses. The onboarding assistant aims at both; ``check-mapping`` refuses a mapping
that lacks a required one and warns about a recommended one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cohortflow.classify.schemes import scheme_inputs
from cohortflow.core import dictionary
from cohortflow.core.expr import names

#: Names a study definition uses that are not patient columns a site maps.
_NOT_MAPPED = {"site", "study_id", "source_sha256", "source_sheet", "source_row"}
#: Study-level names computed from a mapped variable outside the dictionary.
_COMPUTED = {"best_response": ["induction_response"]}


@dataclass
class Need:
    """One thing a site must map: any one of ``any_of`` satisfies it."""

    any_of: tuple[str, ...]
    level: str  # "required" or "recommended"
    used_by: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        """The variable, or 'a | b' for alternatives."""
        return " | ".join(self.any_of)

    def met(self, mapped: set[str]) -> bool:
        """Whether a mapping with these canonical variables satisfies the need."""
        return any(v in mapped for v in self.any_of)


def _uses(study: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(variable as written, level, where) for every use in the study definition."""
    out: list[tuple[str, str, str]] = []

    def add(exprs: list[str], level: str, where: str) -> None:
        for e in exprs:
            out.extend((n, level, where) for n in names(e))

    elig = study.get("eligibility", {})
    for part in ("inclusion", "exclusion", "analysed"):
        for c in elig.get(part, []):
            add([c["expr"]], "required", f"eligibility {c['name']}")
    groupings = study.get("groupings", {})
    used_endpoints: dict[str, str] = {}
    used_groupings: dict[str, str] = {}
    for a in study.get("analyses", []):
        used_endpoints.setdefault(a["endpoint"], f"analysis {a['id']}")
        if a.get("by"):
            used_groupings.setdefault(a["by"], f"analysis {a['id']}")
        if a.get("subset"):
            add([a["subset"]["expr"]], "required", f"analysis {a['id']} subset")
    for c in study.get("cif_analyses", []):
        used_endpoints.setdefault(c["endpoint"], f"cif {c['id']}")
        if c.get("by"):
            used_groupings.setdefault(c["by"], f"cif {c['id']}")
    for m in study.get("cox_models", []):
        used_endpoints.setdefault(m["endpoint"], f"cox {m['id']}")
        for cov in m.get("covariates", []):
            where = f"cox {m['id']} covariate {cov['label']!r}"
            add([cov["expr"]] if "expr" in cov else [cov["variable"]], "required", where)
        for td in m.get("time_dependent", []):
            add([td["date"]], "required", f"cox {m['id']} time-dependent")
    if study.get("swimmer"):
        used_endpoints.setdefault(study["swimmer"]["endpoint"], "swimmer plot")
        if study["swimmer"].get("by"):
            used_groupings.setdefault(study["swimmer"]["by"], "swimmer plot")
    for name, ep in study.get("endpoints", {}).items():
        level = "required" if name in used_endpoints else "recommended"
        where = f"endpoint {name}" + (
            f" ({used_endpoints[name]})" if name in used_endpoints else ""
        )
        srcs = [ep["origin"], ep["censor"], *(e["source"] for e in ep["events"])]
        srcs += [e["source"] for e in ep.get("competing", [])]
        add(srcs, level, where)
        if ep.get("induction_failure"):
            add([ep["induction_failure"]["expr"]], level, where)
    schemes = study.get("schemes", {})
    scheme_level = {s: "recommended" for s in study.get("risk_schemes", [])}
    for gname, g in groupings.items():
        level = "required" if gname in used_groupings else "recommended"
        if g.get("scheme"):
            if level == "required" or g["scheme"] not in scheme_level:
                scheme_level[g["scheme"]] = level
            continue
        add([lv["expr"] for lv in g.get("levels", [])], level, f"grouping {gname}")
        if g.get("time_dependent"):
            add([g["time_dependent"]], level, f"grouping {gname}")
    for sid, level in scheme_level.items():
        if sid in schemes:
            add(scheme_inputs(schemes[sid]), level, f"risk scheme {sid}")
    if study.get("responses"):
        add([study["responses"]["variable"]], "required", "response rates")
    for tname, t in study.get("tables", {}).items():
        for it in t.get("items", []):
            where = f"table {tname} item {it['label']!r}"
            add([it["expr"]] if "expr" in it else [it["variable"]], "required", where)
    return out


def _sources(var: str, seen: frozenset[str] = frozenset()) -> list[tuple[str, ...]]:
    """What a site maps to obtain ``var``: a list of needs, each a tuple of alternatives."""
    if var in _NOT_MAPPED or var in seen:
        return []
    if var in _COMPUTED:
        return [n for v in _COMPUTED[var] for n in _sources(v, seen | {var})]
    try:
        spec = dictionary.spec_of(var)
    except KeyError:
        return []
    if "from" in spec:
        return [n for v in spec["from"] for n in _sources(v, seen | {var})]
    if "from_any" in spec:
        return [tuple(spec["from_any"])]
    if "from_if_missing" in spec:
        return [(var, *spec["from_if_missing"])]
    return [(var,)]


def study_needs(study: dict[str, Any]) -> list[Need]:
    """Every need of a study (a validated definition from ``config.load_study``), required
    first, each with the places of the definition that use it."""
    needs: dict[tuple[str, ...], Need] = {}
    for var, level, where in _uses(study):
        for alts in _sources(var):
            need = needs.setdefault(alts, Need(alts, level))
            if level == "required":
                need.level = "required"
            if where not in need.used_by:
                need.used_by.append(where)
    order = {"required": 0, "recommended": 1}
    return sorted(needs.values(), key=lambda n: order[n.level])


def required_variables(study: dict[str, Any]) -> list[str]:
    """Labels of the required needs of a study (alternatives shown as 'a | b')."""
    return [n.label for n in study_needs(study) if n.level == "required"]
