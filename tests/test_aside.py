"""core.aside: work beside the main thread, its log records written where sequential code
would have written them."""

from __future__ import annotations

import logging
import threading

import pytest

from cohortflow.core.aside import Aside


@pytest.fixture
def logged(tmp_path):
    """The root handler as run_stage sets it up, writing to a file; returns a reader."""
    from cohortflow.core.runner import setup_logging

    old = logging.getLogger().handlers[:]
    path = tmp_path / "stage.log"
    setup_logging(str(path))
    yield lambda: path.read_text(encoding="utf-8").splitlines()
    for h in logging.getLogger().handlers:
        h.close()
    logging.getLogger().handlers[:] = old


def _worker(go: threading.Event, n: int) -> int:
    log = logging.getLogger("cohortflow")
    for i in range(n):
        log.warning("aside %d", i)
    go.set()  # the main thread logs only after the worker has logged everything
    return n


def test_records_of_the_thread_come_after_the_main_threads_in_sequential_order(logged):
    go = threading.Event()
    job = Aside(_worker, go, 3)
    assert go.wait(10)
    logging.getLogger("cohortflow").warning("main first")
    assert job.result() == 3
    logging.getLogger("cohortflow").warning("main after")
    assert logged() == [
        "WARNING cohortflow: main first",
        *[f"WARNING cohortflow: aside {i}" for i in range(3)],
        "WARNING cohortflow: main after",
    ]
    assert not any(h.filters for h in logging.getLogger().handlers)


def _fails() -> None:
    logging.getLogger("cohortflow").warning("before the error")
    raise ValueError("boom")


def test_an_error_in_the_thread_is_raised_by_result_after_its_records(logged):
    job = Aside(_fails)
    with pytest.raises(ValueError, match="boom"):
        job.result()
    assert logged() == ["WARNING cohortflow: before the error"]


def test_close_drops_the_threads_records_and_result(logged):
    job = Aside(_fails)
    job.close()
    logging.getLogger("cohortflow").warning("main")
    assert logged() == ["WARNING cohortflow: main"]
    assert not any(h.filters for h in logging.getLogger().handlers)
