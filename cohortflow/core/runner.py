"""Run a stage from a Snakemake script with logging and clean, actionable errors."""

from __future__ import annotations

import inspect
import logging
import sys
from collections.abc import Callable
from typing import Any

from cohortflow.core.errors import CohortflowError

log = logging.getLogger("cohortflow")


def setup_logging(logfile: str | None = None) -> None:
    """Log INFO and above to ``logfile`` (or stderr) without timestamps (reproducible logs)."""
    handler: logging.Handler = (
        logging.FileHandler(logfile, mode="w", encoding="utf-8")
        if logfile
        else logging.StreamHandler(sys.stderr)
    )
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.getLogger("matplotlib").setLevel(logging.WARNING)


#: Where a stage argument is looked up by name, in this order.
SMK_PARTS = ("input", "output", "params", "wildcards")


def stage_arguments(smk: Any, func: Callable[..., Any], **overrides: Any) -> dict[str, Any]:
    """Arguments of ``func``: ``overrides``, then every other parameter of ``func`` that the
    rule names, looked up in its ``input``, ``output``, ``params`` and ``wildcards`` in this
    order (the first that names it wins; a list of files is passed as a list)."""
    kwargs = dict(overrides)
    for name in inspect.signature(func).parameters:
        part = next(
            (p for p in SMK_PARTS if name in getattr(getattr(smk, p, None), "keys", dict)()),
            None,
        )
        if name in kwargs or part is None:
            continue
        value = getattr(getattr(smk, part), name)
        kwargs[name] = list(value) if isinstance(value, list) else value
    return kwargs


def run_stage(smk: Any, func: Callable[..., Any], **overrides: Any) -> None:
    """Call ``func`` with ``stage_arguments(smk, func, **overrides)`` logging to the rule's log;
    a CohortflowError ends the job with its message (to the log and stderr) and exit status 1,
    not a traceback."""
    kwargs = stage_arguments(smk, func, **overrides)
    logfile = str(smk.log[0]) if getattr(smk, "log", None) else None
    setup_logging(logfile)
    try:
        func(**kwargs)
    except CohortflowError as exc:
        log.error("%s", exc)
        print(f"cohortflow: error in rule {smk.rule}: {exc}", file=sys.stderr)
        sys.exit(1)
