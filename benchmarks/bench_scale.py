"""Registry-scale benchmark (`make bench-scale`): one table over several scales.

For each scale SITESxPATIENTS (default 10x100, 20x5000 and 100x10000) it copies the repository
into a scratch directory, generates a synthetic registry there
(``python -m cohortflow.demo.registry``) and measures, with ``snakemake --cores 2``:

* the cold run (jobs, wall seconds, peak RSS of any job, the five slowest jobs);
* the monolithic baseline (``benchmarks/baseline.py``: same functions, one process) and the
  ratio cold / baseline;
* a no-op rerun;
* one site's resubmission (one value of site 1 changed; the jobs run must be that site's
  chain and study-level jobs only: other sites' jobs are counted in the table);
* an edit of one analysis's title (per-site jobs run: must be 0);
* an edit of one check of the catalogue (ingest jobs run: must be 0).

Per-job figures come from watching the job processes (``/proc/<pid>/status`` VmHWM is the
peak resident set size of each job's script process). Prints figures; asserts nothing.

```sh
.venv/bin/python benchmarks/bench_scale.py [--scales 10x100 20x5000] [--workdir /tmp/bench]
```
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from scratch import SNAKEMAKE, copy_repo

PYTHON = Path(sys.executable)
#: the bundled studies' data and mappings, and a baseline's outputs, are not copied
NOT_COPIED = ("rr_all", "infant_all", "baseline")
PER_SITE_RULES = {"check_mapping", "ingest", "validate", "harmonise", "dq_site", "query_listing"}
STUDY = "registry"


@dataclass
class Run:
    """One snakemake invocation: wall and CPU seconds (snakemake and every job, user + system),
    the jobs it ran, per-job peak RSS and time."""

    wall: float
    cpu: float
    jobs: list[tuple[str, dict[str, str]]]
    #: 1-minute load average of the machine at start and end (it is shared)
    load: tuple[float, float] = (0.0, 0.0)
    peak_rss_kib: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def job_blocks(text: str) -> list[tuple[str, dict[str, str]]]:
    """(rule, wildcards) of every job block in snakemake's console output."""
    jobs = []
    # jobs of a group (rules/*.smk `group:`) are listed indented under "Group job ..."
    for block in re.split(r"\n(?=[ \t]*(?:local)?(?:rule|checkpoint) \w+:)", text):
        m = re.match(r"\s*(?:local)?(?:rule|checkpoint) (\w+):", block)
        if not m or m.group(1) == "all":
            continue
        wc = re.search(r"wildcards: (.*)", block)
        wildcards = dict(kv.split("=", 1) for kv in wc.group(1).split(", ")) if wc else {}
        jobs.append((m.group(1), wildcards))
    return jobs


def _job_key(cmdline: list[str]) -> str | None:
    """'rule' of a job's script process (``.snakemake/scripts/tmpXXXX.<rule>.py``)."""
    for arg in cmdline:
        m = re.search(r"\.snakemake/scripts/tmp[^.]+\.(\w+)\.py$", arg)
        if m:
            return m.group(1)
    return None


class Watcher(threading.Thread):
    """Samples the process tree under a pid: peak RSS (VmHWM) and lifetime per job process."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.stop = threading.Event()
        #: per job process, keyed by (pid, start time): pids are reused over a long run
        self.procs: dict[tuple[int, float], dict[str, object]] = {}

    def run(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self.stop.is_set():
            try:
                children = root.children(recursive=True)
            except psutil.NoSuchProcess:
                break
            now = time.perf_counter()
            for p in children:
                try:
                    ident = (p.pid, p.create_time())
                    rec = self.procs.get(ident)
                    if rec is None:
                        key = _job_key(p.cmdline())
                        if key is None:
                            continue
                        rec = self.procs[ident] = {"rule": key, "start": now, "hwm": 0}
                    status = Path(f"/proc/{p.pid}/status").read_text()
                    m = re.search(r"VmHWM:\s+(\d+) kB", status)
                    if m:
                        rec["hwm"] = max(int(rec["hwm"]), int(m.group(1)))
                    rec["end"] = now
                except (psutil.NoSuchProcess, FileNotFoundError, ProcessLookupError):
                    continue
            time.sleep(self.interval)


def snakemake(work: Path, *args: str, watch: bool = False) -> Run:
    """Run the workflow on the registry study in ``work``."""
    env = dict(os.environ, PYTHONPATH=str(work))
    env.pop("COHORTFLOW_KEY", None)
    cmd = [str(SNAKEMAKE), "--cores", "2", "--config", f"studies=[{STUDY}]", *args]
    load0, t0, c0 = os.getloadavg()[0], time.perf_counter(), _children_cpu()
    out_pipe = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT}
    proc = subprocess.Popen(cmd, cwd=work, env=env, **out_pipe)
    watcher = Watcher(proc.pid) if watch else None
    if watcher:
        watcher.start()
    out, _ = proc.communicate()
    wall = time.perf_counter() - t0
    if watcher:
        watcher.stop.set()
        watcher.join()
    text = out.decode("utf-8", "replace")
    if proc.returncode != 0:
        raise SystemExit(f"snakemake {' '.join(args)} failed in {work}:\n{text[-4000:]}")
    run = Run(wall, _children_cpu() - c0, job_blocks(text), (load0, os.getloadavg()[0]))
    if watcher:
        for (pid, started), rec in watcher.procs.items():
            key = f"{rec['rule']}#{pid}@{started}"
            run.peak_rss_kib[key] = int(rec["hwm"])
            run.seconds[key] = float(rec.get("end", rec["start"])) - float(rec["start"])
    return run


def _children_cpu() -> float:
    """User + system CPU seconds of every waited-for child process so far."""
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def prepare(work: Path, n_sites: int, per_site: int, reuse: bool = False) -> None:
    """A copy of the repository with a registry of ``n_sites`` x ``per_site`` in it (with
    ``reuse``, the registry already generated there is kept and the code copied afresh)."""
    import json

    truth = work / "data" / STUDY / "planted.json"
    if reuse and truth.exists():
        t = json.loads(truth.read_text())
        if (t["sites"], t["patients_per_site"]) == (n_sites, per_site):
            keep = work.parent / f"{work.name}.registry"
            shutil.rmtree(keep, ignore_errors=True)
            shutil.copytree(work / "data" / STUDY, keep / "data")
            shutil.copytree(work / "config" / "sites" / STUDY, keep / "sites")
            shutil.copy2(work / "config" / "studies" / f"{STUDY}.yaml", keep / "study.yaml")
            copy_repo(work, *NOT_COPIED)
            shutil.copytree(keep / "data", work / "data" / STUDY)
            shutil.copytree(keep / "sites", work / "config" / "sites" / STUDY)
            shutil.copy2(keep / "study.yaml", work / "config" / "studies" / f"{STUDY}.yaml")
            shutil.rmtree(keep)
            return
    copy_repo(work, *NOT_COPIED)
    subprocess.run(
        [str(PYTHON), "-m", "cohortflow.demo.registry", "--sites", str(n_sites)]
        + ["--patients-per-site", str(per_site), "--out", str(work)],
        cwd=work,
        env=dict(os.environ, PYTHONPATH=str(work)),
        check=True,
        capture_output=True,
    )


def resubmit_one_site(work: Path, site: str) -> None:
    """Change one value (a weight) of the first patient in ``site``'s CSV submission."""
    import pandas as pd

    f = next((work / "data" / STUDY / site).glob("*.csv"))
    df = pd.read_csv(f, dtype=str, keep_default_na=False)
    col = "Weight (kg)"
    df.loc[0, col] = f"{float(df.loc[0, col]) + 0.1:.1f}"
    df.to_csv(f, index=False, lineterminator="\n")


def edit_text(path: Path, old: str, new: str) -> None:
    """Replace the first ``old`` in a text file (which must contain it)."""
    text = path.read_text(encoding="utf-8")
    if old not in text:
        raise SystemExit(f"{path}: {old!r} not found")
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def baseline(work: Path) -> Run:
    """Wall and CPU seconds of the monolithic baseline in a fresh process."""
    load0, t0, c0 = os.getloadavg()[0], time.perf_counter(), _children_cpu()
    subprocess.run(
        [str(PYTHON), str(work / "benchmarks" / "baseline.py"), "--root", str(work)],
        cwd=work,
        env=dict(os.environ, PYTHONPATH=str(work)),
        check=True,
        capture_output=True,
    )
    wall = time.perf_counter() - t0
    return Run(wall, _children_cpu() - c0, [], (load0, os.getloadavg()[0]))


def _progress(text: str) -> None:
    """A measurement as soon as it is made (stderr), so a long run that is stopped keeps it."""
    print(f"  .. {text}", file=sys.stderr, flush=True)


def measure(work: Path, n_sites: int, per_site: int, reuse: bool = False) -> dict[str, object]:
    """Every figure of one table row."""
    prepare(work, n_sites, per_site, reuse)
    study_file = work / "config" / "studies" / f"{STUDY}.yaml"
    resubmitted = next((work / "data" / STUDY / "S001").glob("*.csv"))
    # the edits below are undone at the end, so that ``--reuse`` measures the same registry
    pristine = {p: p.read_bytes() for p in (study_file, resubmitted)}
    try:
        return _measure(work, n_sites, per_site, study_file)
    finally:
        for path, data in pristine.items():
            path.write_bytes(data)


def _measure(work: Path, n_sites: int, per_site: int, study_file: Path) -> dict[str, object]:
    """The measurements of :func:`measure` on a prepared copy (which they edit)."""
    cold = snakemake(work, watch=True)
    _progress(f"cold run {cold.wall:.0f} s (CPU {cold.cpu:.0f} s), {len(cold.jobs)} jobs")
    base = baseline(work)
    _progress(f"baseline {base.wall:.0f} s (CPU {base.cpu:.0f} s)")
    noop = snakemake(work)
    _progress(f"no-op {noop.wall:.1f} s")
    resubmit_one_site(work, "S001")
    one = snakemake(work)
    others = [j for j in one.jobs if j[0] in PER_SITE_RULES and j[1].get("site") != "S001"]
    _progress(f"one-site resubmission {one.wall:.0f} s, {len(one.jobs)} jobs")
    edit_text(study_file, "title: Overall survival by age", "title: Overall survival by AGE")
    title = snakemake(work)
    _progress(f"title edit {title.wall:.0f} s, {len(title.jobs)} jobs")
    edit_text(
        work / "config" / "checks.yaml",
        'message: "Height outside 30-230 cm"',
        'message: "Height outside 30-230 cm (check the unit)"',
    )
    check = snakemake(work)
    _progress(f"check edit {check.wall:.0f} s, {len(check.jobs)} jobs")
    slowest = sorted(cold.seconds.items(), key=lambda kv: -kv[1])[:5]
    return {
        "patients": n_sites * per_site,
        "sites": n_sites,
        "cold": cold,
        "base": base,
        "noop": noop,
        "one": one,
        "one_others": len(others),
        "title": title,
        "title_site_jobs": sum(j[0] in PER_SITE_RULES for j in title.jobs),
        "check": check,
        "check_ingest_jobs": sum(j[0] in ("check_mapping", "ingest") for j in check.jobs),
        "peak_rss_gib": max(cold.peak_rss_kib.values(), default=0) / 2**20,
        "peak_rss_job": max(cold.peak_rss_kib, key=cold.peak_rss_kib.get, default="").split("#")[0],
        "slowest": "; ".join(f"{k.split('#')[0]} {v:.0f} s" for k, v in slowest),
    }


HEADER = (
    "| patients | sites | jobs | cold run | baseline | ratio | no-op | one-site resubmission "
    "| title edit | check edit | peak RSS (job) | five slowest jobs |"
)


def _load(run: Run) -> str:
    """The machine's 1-minute load average at start and end of a measurement."""
    return f"load {run.load[0]:.1f}-{run.load[1]:.1f}"


def row(r: dict[str, object]) -> str:
    """One Markdown table row (every measurement with the load average around it)."""
    cold, base, noop, one, title, check = (
        r[k] for k in ("cold", "base", "noop", "one", "title", "check")
    )
    return (
        f"| {r['patients']:,} | {r['sites']} | {len(cold.jobs)} "
        f"| {cold.wall:.0f} s (CPU {cold.cpu:.0f} s; {_load(cold)}) "
        f"| {base.wall:.0f} s (CPU {base.cpu:.0f} s; {_load(base)}) "
        f"| {cold.wall / base.wall:.2f} (CPU {cold.cpu / base.cpu:.2f}) "
        f"| {noop.wall:.1f} s ({_load(noop)}) "
        f"| {one.wall:.0f} s ({100 * one.wall / cold.wall:.0f} % of cold, {len(one.jobs)} jobs, "
        f"{r['one_others']} of other sites; {_load(one)}) "
        f"| {title.wall:.0f} s ({len(title.jobs)} jobs, {r['title_site_jobs']} per-site; "
        f"{_load(title)}) "
        f"| {check.wall:.0f} s ({len(check.jobs)} jobs, {r['check_ingest_jobs']} mapping check "
        f"or ingest; {_load(check)}) "
        f"| {r['peak_rss_gib']:.2f} GiB ({r['peak_rss_job']}) | {r['slowest']} |"
    )


def main(argv: list[str] | None = None) -> None:
    """Measure every scale and print the table (rows are printed as they finish)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scales", nargs="+", default=["10x100", "20x5000", "100x10000"])
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/cohortflow-bench-scale"))
    ap.add_argument("--keep", action="store_true", help="keep the scratch copies")
    ap.add_argument("--reuse", action="store_true", help="reuse a registry generated there")
    a = ap.parse_args(argv)
    print(HEADER)
    print("|" + "---|" * HEADER.count(" |"))
    for scale in a.scales:
        n_sites, per_site = (int(x) for x in scale.lower().split("x"))
        work = a.workdir / scale
        print(row(measure(work, n_sites, per_site, a.reuse)), flush=True)
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
