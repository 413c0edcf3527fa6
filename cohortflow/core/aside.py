"""Work run beside the main thread (on a second core), its log records kept in their place.

A stage with two independent, long computations (the analyse stage's Cox models beside its
Kaplan-Meier analyses) runs one of them in a thread: numpy releases the interpreter lock in
its array loops, so the two overlap. The log must not depend on how they interleave
(reproducible logs): the records the thread logs are held back and written, in the order
they were made, when its result is taken, where the sequential code would have written them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class _HoldBack(logging.Filter):
    """A handler filter that keeps one thread's records instead of letting them through."""

    def __init__(self) -> None:
        super().__init__()
        self.thread: int | None = None
        self.records: list[logging.LogRecord] = []
        self._seen: set[int] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.thread is None or record.thread != self.thread:
            return True
        if id(record) not in self._seen:  # the same record passes every handler
            self._seen.add(id(record))
            self.records.append(record)
        return False


class Aside(Generic[T]):
    """``fn(*args, **kwargs)`` started at once in a thread; ``result()`` waits for it, writes
    what it logged, and returns its value or raises its exception.

    Example
    -------
    >>> import logging
    >>> job = Aside(sum, [1, 2, 3])
    >>> job.result()
    6
    """

    def __init__(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> None:
        self._hold = _HoldBack()
        self._handlers = list(logging.getLogger().handlers)
        for h in self._handlers:
            h.addFilter(self._hold)
        self._value: T | None = None
        self._error: BaseException | None = None
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(fn, args, kwargs), daemon=True)
        self._thread.start()
        self._started.wait()

    def _run(self, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self._hold.thread = threading.get_ident()
        self._started.set()
        try:
            self._value = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - re-raised by result()
            self._error = exc

    def result(self) -> T:
        """The value (or exception) of the call, after its log records."""
        for record in self._finish():
            logging.getLogger(record.name).handle(record)
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]

    def close(self) -> None:
        """Wait for the call and drop its result and log records (the main thread failed
        first: sequential code would not have run it)."""
        self._finish()

    def _finish(self) -> list[logging.LogRecord]:
        self._thread.join()
        for h in self._handlers:
            h.removeFilter(self._hold)
        records, self._hold.records = self._hold.records, []
        return records
