"""Code-change reruns derived from the import graph (cohortflow.core.codehash).

Unit tests run on a small synthetic package; the end-to-end test edits one module in a copy of
the finished workflow and checks with Snakemake's summary that exactly the jobs whose stage
imports it would rerun because their code param changed (Snakemake reruns on a params change).
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import textwrap
from pathlib import Path

import pytest

from cohortflow.core.codehash import ImportGraph

from .conftest import REPO, snakemake


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text), encoding="utf-8")


@pytest.fixture
def toy(tmp_path: Path) -> Path:
    """cohortflow/{a,b}/ with two stage functions in one stage module."""
    _write(
        tmp_path,
        {
            "cohortflow/__init__.py": "",
            "cohortflow/core/__init__.py": "",
            "cohortflow/core/base.py": "X = 1\n",
            "cohortflow/core/unused.py": "Y = 2\n",
            "cohortflow/a/__init__.py": "",
            "cohortflow/a/left.py": "from ..core.base import X\n",
            "cohortflow/a/right.py": """
                def f():
                    from cohortflow.core import unused  # lazy import still counts
                    return unused.Y
            """,
            "cohortflow/a/stage.py": """
                from cohortflow.a import left
                from cohortflow.a.right import f as g

                TABLE = {"k": g}

                def _helper():
                    return TABLE

                def one():
                    return left.X

                def two():
                    return _helper()
            """,
            "scripts/one.py": "from cohortflow.a.stage import one\none()\n",
            "scripts/two.py": "from cohortflow.a.stage import two\ntwo()\n",
            "schemas/dictionary.yaml": "d: 1\n",
            "config/checks.yaml": "c: 1\n",
        },
    )
    return tmp_path


def test_entry_function_selects_the_imports_it_uses(toy: Path):
    g = ImportGraph(toy)
    base = {"cohortflow", "cohortflow.a", "cohortflow.a.stage"}
    assert g.script_modules("scripts/one.py") == base | {
        "cohortflow.a.left",
        "cohortflow.core",
        "cohortflow.core.base",
    }
    # through a helper and a constant to an aliased import, then a lazy import inside it
    assert g.script_modules("scripts/two.py") == base | {
        "cohortflow.a.right",
        "cohortflow.core",
        "cohortflow.core.unused",
    }


def test_hash_changes_only_with_the_modules_reached(toy: Path):
    g = ImportGraph(toy)
    one, two = g.script_hash("scripts/one.py"), g.script_hash("scripts/two.py")
    (toy / "cohortflow/core/unused.py").write_text("Y = 3\n", encoding="utf-8")
    g = ImportGraph(toy)
    assert g.script_hash("scripts/one.py") == one
    two_after = g.script_hash("scripts/two.py")
    assert two_after != two
    # the check catalogue counts only for stages that run the module reading it
    (toy / "config/checks.yaml").write_text("c: 2\n", encoding="utf-8")
    g = ImportGraph(toy)
    assert g.script_hash("scripts/one.py") == one
    assert g.script_hash("scripts/two.py") == two_after
    # the dictionary counts for both
    (toy / "schemas/dictionary.yaml").write_text("d: 2\n", encoding="utf-8")
    g = ImportGraph(toy)
    assert g.script_hash("scripts/one.py") != one
    assert g.script_hash("scripts/two.py") != two_after


def test_cached_hashes_equal_computed_ones_and_miss_on_any_edit(toy: Path):
    cache = toy / ".snakemake" / "codehash.json"

    def cached(script: str) -> str:
        return ImportGraph(toy, cache=cache).script_hash(script)

    def fresh(script: str) -> str:
        return ImportGraph(toy).script_hash(script)

    assert cached("scripts/one.py") == fresh("scripts/one.py")
    assert cached("scripts/two.py") == fresh("scripts/two.py")
    stored = json.loads(cache.read_text())
    assert len(stored["scripts"]) == 2
    # a hit does not parse the package (a module that no longer parses is not read)
    _write(toy, {"cohortflow/core/unused.py": "Y = (\n"})
    g = ImportGraph(toy, cache=cache)
    with pytest.raises(SyntaxError):
        g.script_hash("scripts/two.py")  # sources changed: a miss, parsed
    _write(toy, {"cohortflow/core/unused.py": "Y = 2\n"})
    g = ImportGraph(toy, cache=cache)
    assert g.script_hash("scripts/two.py") == fresh("scripts/two.py")
    assert "modules" not in g.__dict__  # served from the cache: nothing parsed
    # every kind of edit misses: a module, a shared file, the script itself
    for rel, text in [
        ("cohortflow/core/unused.py", "Y = 3\n"),
        ("schemas/dictionary.yaml", "d: 9\n"),
        ("scripts/two.py", "from cohortflow.a.stage import one\none()\n"),
    ]:
        before = cached("scripts/two.py")
        _write(toy, {rel: text})
        assert cached("scripts/two.py") == fresh("scripts/two.py") != before, rel
    # a damaged cache file is recomputed and rewritten, never trusted
    cache.write_text('{"sources": ')
    assert cached("scripts/one.py") == fresh("scripts/one.py")
    assert json.loads(cache.read_text())["sources"]


def test_closure_survives_an_import_cycle(toy: Path):
    _write(
        toy,
        {
            "cohortflow/core/p.py": "from cohortflow.core import q\n",
            "cohortflow/core/q.py": "from cohortflow.core import p\n",
        },
    )
    g = ImportGraph(toy)
    assert g.closure(["cohortflow.core.p"]) == {
        "cohortflow",
        "cohortflow.core",
        "cohortflow.core.p",
        "cohortflow.core.q",
    }


def test_every_rule_hashes_its_own_script():
    for smk in (REPO / "rules").glob("*.smk"):
        for block in re.split(r"\n(?=(?:rule|checkpoint) \w+:)", smk.read_text(encoding="utf-8")):
            script = re.search(r'"\.\./scripts/(\w+)\.py"', block)
            if not script:
                continue
            code = re.search(r'code=code_hash\("(\w+)"\)', block)
            assert code and code.group(1) == script.group(1), (smk.name, block[:60])


def test_every_script_reaches_its_stage_module():
    g = ImportGraph(REPO)
    for script in sorted((REPO / "scripts").glob("*.py")):
        mods = g.script_modules(script.relative_to(REPO))
        assert "cohortflow.core.runner" in mods, script.name
        assert any(m.endswith(".stage") for m in mods), script.name


def _recorded_params(work: Path, output: str) -> list[str]:
    """The params Snakemake recorded for an output (its metadata record)."""
    record = work / ".snakemake" / "metadata" / base64.urlsafe_b64encode(output.encode()).decode()
    return json.loads(record.read_text(encoding="utf-8"))["params"]


def _params_changed(work: Path) -> set[tuple[str, str]]:
    """(rule, study) of the jobs whose code hash changed since their outputs were made.

    Snakemake's summary names one reason per output, and a job whose input depends on a
    checkpoint that itself reruns (the query listings, the run report, the manifest) is
    reported as "set of input files changed", hiding a params change behind it
    (`--list-changes params` lists unchanged files too, in Snakemake 9). For those the code
    param Snakemake recorded is compared with the hash the job would now receive."""
    graph = ImportGraph(work)
    scripts = {}
    for smk in (work / "rules").glob("*.smk"):
        for block in re.split(r"\n(?=(?:rule|checkpoint) \w+:)", smk.read_text(encoding="utf-8")):
            name = re.match(r"(?:rule|checkpoint) (\w+):", block)
            script = re.search(r'code=code_hash\("(\w+)"\)', block)
            if name and script:
                scripts[name.group(1)] = f"scripts/{script.group(1)}.py"
    jobs = set()
    for line in snakemake(work, "--summary").stdout.splitlines()[1:]:
        cols = line.split("\t")
        if len(cols) <= 4:
            continue
        output, rule, status = cols[0], cols[2], cols[4]
        if status == "params changed":
            changed = True
        elif status == "set of input files changed" and rule in scripts:
            changed = repr(graph.script_hash(scripts[rule])) not in _recorded_params(work, output)
        else:
            changed = False
        if changed:
            jobs.add((rule, Path(output).parts[1]))
    return jobs


def test_editing_a_module_reruns_exactly_the_jobs_that_import_it(workflow_run, tmp_path):
    work = tmp_path / "repo"
    shutil.copytree(workflow_run, work, copy_function=shutil.copy2, symlinks=True)
    studies = sorted(p.name for p in (work / "results").iterdir() if p.is_dir())
    per_study = {
        "cohortflow/render/consort.py": {"consort"},
        "cohortflow/render/runreport.py": {"run_report"},
        "cohortflow/validate/dq.py": {"dq_site", "dq_study"},
        # the checks' code reruns validation only: the CONSORT figure reads the catalogue's
        # words through core/catalogue.py, so no render or report job reruns
        "cohortflow/validate/checks.py": {"validate", "cross_site", "query_listing"},
        # render/ computes no statistics (tests/test_layers.py): a statistics module reruns
        # only the analyse job; what reads its outputs reruns when they change
        "cohortflow/stats/cox.py": {"analyse"},
    }
    for module, rules in per_study.items():
        path = work / module
        original = path.read_bytes()
        path.write_bytes(original + b"\n# an edit\n")
        try:
            # the manifest also records the git tree state (clean/dirty) as a param, which any
            # edit of a tracked file changes: it is not a code-hash rerun, so it is left aside
            changed = {(r, s) for r, s in _params_changed(work) if r != "manifest"}
            assert changed == {(r, s) for r in rules for s in studies}, module
        finally:
            path.write_bytes(original)
    # a core module reruns every job that runs package code
    path = work / "cohortflow/core/errors.py"
    path.write_bytes(path.read_bytes() + b"\n# an edit\n")
    rules = {r for r, _ in _params_changed(work)}
    every = {
        m.group(1)
        for smk in (work / "rules").glob("*.smk")
        for m in re.finditer(r"^(?:rule|checkpoint) (\w+):", smk.read_text(encoding="utf-8"), re.M)
    }
    assert rules == every - {"all"}
