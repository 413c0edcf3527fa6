"""Which package modules a pipeline stage runs, read from the static import graph, and their hash.

Snakemake reruns a job when its script changes, not when a package module the script calls
changes. Each rule therefore passes ``code=code_hash("<script>")`` as a param: the hash of every
package module the script's stage function can reach, so editing a module reruns exactly the
jobs whose stage imports it, and nothing else.

How the modules are found (statically, with ``ast``; nothing is imported):

1. the script's ``from cohortflow.<pkg>.<module> import <function>`` lines name the entry
   function(s) and the module defining them;
2. inside that module, the names the entry function uses (following the module's own helper
   functions and constants) select which of the module's imports it needs, so a stage module
   holding several stage functions does not tie its rules together;
3. from there, every package-internal import of every reached module counts (wherever in the
   file it sits), transitively, plus the ``__init__.py`` of each package on the way.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

PACKAGE = "cohortflow"

#: Files outside the package that every stage reads (their edits rerun every stage).
SHARED_FILES = ("schemas/dictionary.yaml",)
#: Files outside the package read by one module: hashed for the stages that run it (so an edit
#: of the check catalogue reruns validation and what follows, never ingestion).
MODULE_FILES = {"cohortflow.validate.checks": ("config/checks.yaml",)}


def module_name(path: Path, root: Path) -> str:
    """Dotted name of a package file (``cohortflow/core/io.py`` -> ``cohortflow.core.io``)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@dataclass
class _Module:
    """One parsed module: its file, its imports by bound name, and its top-level definitions."""

    path: Path
    tree: ast.Module
    #: name bound at module level -> package modules that binding comes from
    bindings: dict[str, set[str]] = field(default_factory=dict)
    #: every package module imported anywhere in the file
    imports: set[str] = field(default_factory=set)
    #: top-level function/class/assignment name -> the AST node defining it
    definitions: dict[str, ast.AST] = field(default_factory=dict)


class ImportGraph:
    """Static import graph of the ``cohortflow`` package under ``root`` (the repository).

    With ``cache`` (a JSON file), script hashes are kept there keyed by the SHA-256 of every
    file they depend on (package modules, the shared files, the script), so the many short
    Snakemake processes of a cluster run (one per job and per rule inside a grouped job) skip
    parsing the package; any edit of any of those files misses the cache.
    """

    def __init__(self, root: Path | str, cache: Path | str | None = None) -> None:
        self.root = Path(root)
        self.cache = Path(cache) if cache is not None else None

    @cached_property
    def modules(self) -> dict[str, _Module]:
        """Every module of the package, parsed once."""
        out = {}
        for path in sorted((self.root / PACKAGE).rglob("*.py")):
            name = module_name(path, self.root)
            out[name] = self._parse(name, path)
        return out

    def _resolve(self, name: str, node: ast.ImportFrom) -> str:
        """Absolute module named by a ``from ... import`` (relative imports included)."""
        if not node.level:
            return node.module or ""
        is_pkg = self.root.joinpath(*name.split(".")).is_dir()
        base = name.split(".")
        base = base if is_pkg else base[:-1]
        base = base[: len(base) - node.level + 1]
        return ".".join(base + ([node.module] if node.module else []))

    def _is_module(self, dotted: str) -> bool:
        path = self.root.joinpath(*dotted.split("."))
        return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()

    def _targets(self, name: str, node: ast.AST) -> list[tuple[str, set[str]]]:
        """(bound name, package modules) for each name an import statement binds."""
        out = []
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name == PACKAGE or a.name.startswith(PACKAGE + "."):
                    bound = a.asname or a.name.split(".")[0]
                    out.append((bound, {a.name}))
        elif isinstance(node, ast.ImportFrom):
            mod = self._resolve(name, node)
            if mod == PACKAGE or mod.startswith(PACKAGE + "."):
                for a in node.names:
                    sub = f"{mod}.{a.name}"
                    out.append((a.asname or a.name, {sub if self._is_module(sub) else mod}))
        return out

    def _parse(self, name: str, path: Path) -> _Module:
        tree = ast.parse(path.read_bytes(), filename=str(path))
        mod = _Module(path, tree)
        for node in ast.walk(tree):
            for _, targets in self._targets(name, node):
                mod.imports |= targets
        for node in tree.body:
            for bound, targets in self._targets(name, node):
                mod.bindings.setdefault(bound, set()).update(targets)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                mod.definitions[node.name] = node
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    for n in ast.walk(t):
                        if isinstance(n, ast.Name):
                            mod.definitions[n.id] = node
        return mod

    def _package_inits(self, name: str) -> set[str]:
        """The packages containing ``name`` (their ``__init__`` runs before it)."""
        parts = name.split(".")
        return {".".join(parts[:i]) for i in range(1, len(parts))}

    def closure(self, start: Iterable[str]) -> set[str]:
        """Every package module reachable from ``start`` (itself included), with their packages."""
        seen: set[str] = set()
        todo = [m for m in start if m in self.modules]
        while todo:
            m = todo.pop()
            if m in seen:
                continue
            seen.add(m)
            for dep in self.modules[m].imports | self._package_inits(m):
                if dep in self.modules and dep not in seen:
                    todo.append(dep)
        return seen

    def function_imports(self, module: str, function: str) -> set[str]:
        """Package modules the top-level ``function`` of ``module`` uses, directly or through
        the module's own helpers and constants (imports inside it included)."""
        mod = self.modules[module]
        needed: set[str] = set()
        seen: set[str] = set()
        todo = [function]
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            if name in mod.bindings:
                needed |= mod.bindings[name]
            node = mod.definitions.get(name)
            if node is None:
                continue
            for n in ast.walk(node):
                if isinstance(n, ast.Name):
                    todo.append(n.id)
                for _, targets in self._targets(module, n):
                    needed |= targets
        return needed

    def entry_points(self, script: Path) -> list[tuple[str, str]]:
        """(module, name) of each package name a script imports."""
        tree = ast.parse(script.read_bytes(), filename=str(script))
        out = []
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(PACKAGE):
                out += [(node.module, a.name) for a in node.names]
        return out

    def script_modules(self, script: Path | str) -> set[str]:
        """Package modules a stage script runs: see the module docstring."""
        out: set[str] = set()
        for module, name in self.entry_points(self.root / script):
            if f"{module}.{name}" in self.modules:  # a module imported whole
                out |= self.closure([f"{module}.{name}"])
                continue
            # the entry module's file counts, but only the imports its function uses
            out |= {module} | self.closure(self._package_inits(module))
            out |= self.closure(self.function_imports(module, name))
        return out

    @cached_property
    def sources_digest(self) -> str:
        """SHA-256 of every file a script hash can depend on, except the script itself."""
        h = hashlib.sha256()
        files = sorted((self.root / PACKAGE).rglob("*.py"))
        extra = {*SHARED_FILES, *(f for fs in MODULE_FILES.values() for f in fs)}
        for path in [*files, *(self.root / f for f in sorted(extra))]:
            h.update(path.relative_to(self.root).as_posix().encode() + b"\0")
            h.update(path.read_bytes() if path.is_file() else b"\0missing")
            h.update(b"\0")
        return h.hexdigest()

    def script_hash(self, script: Path | str) -> str:
        """SHA-256 (first 16 hex digits) of the package modules a script runs and the files
        every stage reads (the dictionary and the check catalogue); from ``cache`` if the
        sources and the script are unchanged since it was stored."""
        if self.cache is None:
            return self._script_hash(script)
        script_sha = hashlib.sha256((self.root / script).read_bytes()).hexdigest()
        key = f"{Path(script).as_posix()}:{script_sha}"
        try:
            stored = json.loads(self.cache.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            stored = {}
        if not isinstance(stored, dict) or stored.get("sources") != self.sources_digest:
            stored = {"sources": self.sources_digest, "scripts": {}}
        if key in stored["scripts"]:
            return stored["scripts"][key]
        value = stored["scripts"][key] = self._script_hash(script)
        # written whole and renamed into place: concurrent jobs never read half a file
        tmp = self.cache.with_name(f"{self.cache.name}.{os.getpid()}.tmp")
        try:
            self.cache.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(stored, sort_keys=True), encoding="utf-8")
            os.replace(tmp, self.cache)
        except OSError:  # a read-only checkout: no cache, same hashes
            tmp.unlink(missing_ok=True)
        return value

    def _script_hash(self, script: Path | str) -> str:
        """The script hash, computed from the parsed package (see ``script_hash``)."""
        h = hashlib.sha256()
        modules = self.script_modules(script)
        for m in sorted(modules):
            h.update(self.modules[m].path.relative_to(self.root).as_posix().encode() + b"\0")
            h.update(self.modules[m].path.read_bytes())
        files = [*SHARED_FILES, *(f for m in sorted(modules) for f in MODULE_FILES.get(m, ()))]
        for f in files:
            h.update(self.root.joinpath(f).read_bytes())
        return h.hexdigest()[:16]
