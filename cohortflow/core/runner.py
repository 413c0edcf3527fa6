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
    rule names in its ``input``, ``output``, ``params`` or ``wildcards`` (a list of files as
    a list). A parameter named in two of them with different values must be an override."""
    kwargs = dict(overrides)
    for name in inspect.signature(func).parameters:
        if name in kwargs:
            continue
        found = [
            (part, getattr(getattr(smk, part), name))
            for part in SMK_PARTS
            if name in getattr(getattr(smk, part, None), "keys", dict)()
        ]
        values = [list(v) if isinstance(v, list) else v for _, v in found]
        if any(v != values[0] for v in values[1:]):
            where = " and ".join(part for part, _ in found)
            raise TypeError(f"{name!r} is named in both {where} of the rule: pass it explicitly")
        if values:
            kwargs[name] = values[0]
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
