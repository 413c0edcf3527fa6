"""Errors that carry where in a submission something went wrong (never the offending values)."""

from __future__ import annotations


class CohortflowError(Exception):
    """A user-facing error: the message is complete and actionable on its own."""


class SubmissionError(CohortflowError):
    """A problem in one site's submission, located by site, file, row and column."""

    def __init__(
        self,
        message: str,
        *,
        site: str | None = None,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.site, self.file, self.row, self.column = site, file, row, column
        where = ", ".join(
            f"{k} {v}"
            for k, v in (("site", site), ("file", file), ("row", row), ("column", column))
            if v is not None
        )
        super().__init__(f"[{where}] {message}" if where else message)
