"""Run the workflow so that a crash never needs a manual step.

`make run` calls ``python -m cohortflow.core.recovery``: before Snakemake starts, a lock left
by a run whose processes are gone (``kill -9``, power loss) is detected, removed and reported;
a lock held by a live run is respected. Snakemake then runs with ``--rerun-incomplete``, so
outputs a killed job left half-written are rebuilt; every output is a target of ``rule all``,
so a deleted intermediate output is rebuilt too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from cohortflow.core.errors import CohortflowError

LOCK_DIR = Path(".snakemake") / "locks"
OWNER_FILE = Path(".snakemake") / "cohortflow-run.json"


def _start_time(pid: int) -> str | None:
    """The kernel's start time of running process ``pid`` (None if it does not exist or has
    exited and awaits reaping, a zombie): with the PID it identifies a process even after
    the PID is reused."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] in ("Z", "X", "x") else fields[19]


def _alive(proc: dict[str, object]) -> bool:
    pid = proc.get("pid")
    return isinstance(pid, int) and _start_time(pid) == proc.get("start")


def clear_stale_lock(workdir: Path) -> str | None:
    """Remove Snakemake's lock in ``workdir`` when the run that took it is gone.

    Returns a message saying what was removed (None when there was no lock). Raises
    CohortflowError when a recorded run is still alive (two runs must not share a folder).
    """
    locks = sorted((workdir / LOCK_DIR).glob("*.lock"))
    if not locks:
        return None
    owner_path = workdir / OWNER_FILE
    try:
        owner = json.loads(owner_path.read_text())
    except (OSError, ValueError):
        owner = {}
    live = [p for p in owner.get("processes", []) if _alive(p)]
    if live:
        raise CohortflowError(
            f"another run is still working in {workdir} (process {live[0]['pid']}); wait for "
            "it to finish or stop it, then run again"
        )
    for lock in locks:
        lock.unlink(missing_ok=True)
    who = ", ".join(str(p["pid"]) for p in owner.get("processes", [])) or "unknown"
    return (
        f"removed a stale Snakemake lock ({len(locks)} lock file(s)) left by a run that is no "
        f"longer running (process {who}); incomplete outputs are rebuilt"
    )


def _record(workdir: Path, pids: list[int]) -> None:
    owner = {"processes": [{"pid": p, "start": _start_time(p)} for p in pids]}
    path = workdir / OWNER_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(owner))
    tmp.replace(path)


def run(args: list[str], workdir: Path | None = None) -> int:
    """Clear a stale lock, then run Snakemake (with ``--rerun-incomplete``) in ``workdir``;
    Snakemake's exit status."""
    workdir = Path(workdir or Path.cwd())
    note = clear_stale_lock(workdir)
    if note:
        print(f"cohortflow: {note}", file=sys.stderr)
    snakemake = Path(sys.executable).with_name("snakemake")
    cmd = [str(snakemake), "--rerun-incomplete", *args]
    _record(workdir, [os.getpid()])
    child = subprocess.Popen(cmd, cwd=workdir)
    _record(workdir, [os.getpid(), child.pid])
    try:
        return child.wait()
    finally:
        (workdir / OWNER_FILE).unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    """``python -m cohortflow.core.recovery [snakemake arguments]``."""
    try:
        return run(list(sys.argv[1:] if argv is None else argv))
    except CohortflowError as exc:
        print(f"cohortflow: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
