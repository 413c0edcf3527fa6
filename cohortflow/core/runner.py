"""Run a stage from a Snakemake script with logging and clean, actionable errors."""

from __future__ import annotations

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


def run_stage(smk: Any, func: Callable[..., Any], **kwargs: Any) -> None:
    """Call ``func(**kwargs)`` logging to the rule's log; a CohortflowError ends the job with
    its message (to the log and stderr) and exit status 1, not a traceback."""
    logfile = str(smk.log[0]) if getattr(smk, "log", None) else None
    setup_logging(logfile)
    try:
        func(**kwargs)
    except CohortflowError as exc:
        log.error("%s", exc)
        print(f"cohortflow: error in rule {smk.rule}: {exc}", file=sys.stderr)
        sys.exit(1)
