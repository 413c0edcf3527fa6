"""The package's architecture, checked on its static import graph (docs/architecture.md).

Layers only point down, no import cycles, no private name used across modules, imports at
module top (a function-level import needs a ``# lazy:`` comment saying why, e.g. a measured
start-up cost).
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from cohortflow.core.codehash import ImportGraph

from .conftest import REPO

#: Bottom to top; a module may import its own package and any package before it.
LAYERS = [
    "core",
    "stats",
    "ingest",
    "harmonise",
    "validate",
    "classify",
    "analyse",
    "render",
    "provenance",
    "onboard",
    "demo",
    "__main__",
]


def layer(module: str) -> int:
    """Index of a module's layer (``cohortflow`` itself, the root package, is below all)."""
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 else -1


def upward_imports(g: ImportGraph) -> list[str]:
    return sorted(
        f"{m} -> {d}"
        for m, mod in g.modules.items()
        for d in mod.imports
        if d in g.modules and layer(d) > layer(m)
    )


def cycles(g: ImportGraph) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(g.modules[v].imports & set(g.modules)):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g.modules):
        if v not in index:
            visit(v)
    return out


def private_imports(g: ImportGraph) -> list[str]:
    """``from x import _name`` or ``x._name`` of another package module, and private modules
    imported from outside their package."""
    out = []
    for m, mod in g.modules.items():
        pkg = m.rsplit(".", 1)[0]
        for node in ast.walk(mod.tree):
            if isinstance(node, ast.ImportFrom):
                for bound, targets in g._targets(m, node):
                    del bound
                    for t in targets:
                        if any(p.startswith("_") and p != "__main__" for p in t.split(".")):
                            if t.rsplit(".", 1)[0] != pkg:
                                out.append(f"{m}: imports private module {t}")
                names = [a.name for a in node.names]
                mod_name = g._resolve(m, node)
                if mod_name.startswith("cohortflow") and mod_name != m:
                    out += [f"{m}: {mod_name}.{n}" for n in names if n.startswith("_")]
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                target = mod.bindings.get(node.value.id, set())
                if node.attr.startswith("_") and target and m not in target:
                    out.append(f"{m}: {node.value.id}.{node.attr}")
    return sorted(set(out))


def function_level_imports(g: ImportGraph) -> list[str]:
    """Import statements inside functions without a ``# lazy:`` comment on them or in the three
    lines above."""
    out = []
    for m, mod in g.modules.items():
        lines = mod.path.read_text(encoding="utf-8").splitlines()
        for fn in ast.walk(mod.tree):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    here = "".join(lines[max(node.lineno - 4, 0) : node.lineno])
                    if "# lazy:" not in here:
                        out.append(f"{m}:{node.lineno}: {ast.unparse(node)}")
    return sorted(set(out))


def reached(g: ImportGraph, package: str, target: str) -> list[str]:
    """Modules of ``target`` (a subpackage name) that the modules of ``package`` reach in the
    import graph, directly or through the modules they import."""
    start = [m for m in g.modules if m.startswith(f"cohortflow.{package}.")]
    return sorted(m for m in g.closure(start) if m.startswith(f"cohortflow.{target}."))


@pytest.fixture(scope="module")
def graph() -> ImportGraph:
    return ImportGraph(REPO)


def test_every_package_has_a_layer(graph: ImportGraph):
    packages = {m.split(".")[1] for m in graph.modules if "." in m}
    assert packages <= set(LAYERS), packages - set(LAYERS)


def test_layers_only_point_down(graph: ImportGraph):
    assert upward_imports(graph) == []


def test_stats_knows_nothing_of_studies(graph: ImportGraph):
    deps = {
        d
        for m in graph.modules
        if m.startswith("cohortflow.stats.")
        for d in graph.modules[m].imports
    }
    assert {d.split(".")[1] for d in deps if "." in d} <= {"core", "stats"}


def test_render_computes_no_statistics(graph: ImportGraph):
    """render/ draws what the analyse stage wrote (curves.parquet, the time-dependent tables):
    none of its modules reaches stats/, even through another package, and of analyse/ it
    reaches only the constants naming the analyse outputs."""
    assert reached(graph, "render", "stats") == []
    assert reached(graph, "render", "analyse") == ["cohortflow.analyse.outputs"]


def test_no_import_cycles(graph: ImportGraph):
    assert cycles(graph) == []


def test_no_private_names_across_modules(graph: ImportGraph):
    assert private_imports(graph) == []


def test_imports_at_module_top(graph: ImportGraph):
    assert function_level_imports(graph) == []


def _toy(tmp_path: Path, files: dict[str, str]) -> ImportGraph:
    for rel, text in {"cohortflow/__init__.py": "", **files}.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text), encoding="utf-8")
    return ImportGraph(tmp_path)


def test_the_checks_catch_what_they_forbid(tmp_path: Path):
    g = _toy(
        tmp_path,
        {
            "cohortflow/core/__init__.py": "",
            "cohortflow/stats/__init__.py": "",
            "cohortflow/core/a.py": "from cohortflow.stats import b\n",
            "cohortflow/stats/b.py": """
                from cohortflow.core import a
                from cohortflow.core.a import _hidden

                def f():
                    import cohortflow.core.c
                    return a._secret

                def g():
                    # lazy: measured, see the docstring
                    import cohortflow.core.c
            """,
            "cohortflow/core/c.py": "",
        },
    )
    assert upward_imports(g) == ["cohortflow.core.a -> cohortflow.stats.b"]
    assert cycles(g) == [["cohortflow.core.a", "cohortflow.stats.b"]]
    assert private_imports(g) == [
        "cohortflow.stats.b: a._secret",
        "cohortflow.stats.b: cohortflow.core.a._hidden",
    ]
    assert function_level_imports(g) == ["cohortflow.stats.b:6: import cohortflow.core.c"]


def test_reached_follows_imports_through_other_packages(tmp_path: Path):
    """A render module reaching stats through an analyse module counts, as a direct import
    does; one importing only the analyse constants does not."""
    files = {f"cohortflow/{p}/__init__.py": "" for p in ("stats", "analyse", "render")} | {
        "cohortflow/stats/km.py": "",
        "cohortflow/analyse/outputs.py": "COLUMNS = []\n",
        "cohortflow/analyse/analysis.py": "from cohortflow.stats import km\n",
        "cohortflow/render/clean.py": "from cohortflow.analyse.outputs import COLUMNS\n",
    }
    g = _toy(tmp_path, files)
    assert reached(g, "render", "stats") == []
    g = _toy(tmp_path, {"cohortflow/render/dirty.py": "from cohortflow.analyse import analysis\n"})
    assert reached(g, "render", "stats") == ["cohortflow.stats.km"]
