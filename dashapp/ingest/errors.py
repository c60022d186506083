"""The error of the ingest layer: a file or source that cannot be read as transactions.

Raised by the readers of :mod:`dashapp.ingest.loading` and by :mod:`dashapp.ingest.uploads`; it
lives above the loading package so that any source of the ingest layer can raise it. Every
problem with the *file* is reported as a :class:`DataLoadError` whose message names the file and
the column / rows at fault, so it can be shown to a user as is.
"""

from __future__ import annotations

import os

__all__ = ["AmbiguousDateOrder", "DataLoadError"]


class DataLoadError(ValueError):
    """A file cannot be read as transactions. ``str(err)`` is a complete user-facing message.

    Attributes: ``path`` (file name as shown to the user), ``column`` (source header or
    canonical column at fault, or None), ``rows`` (up to 5 spreadsheet row numbers at fault,
    1-based with the header as row 1), ``sheet`` (Excel sheet of the first row, or None),
    ``headers`` (for missing columns: the file's headers, so a user can map them).
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | os.PathLike | None = None,
        column: str | None = None,
        rows: list[int] | None = None,
        sheet: str | None = None,
        headers: list[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.headers = list(headers or [])
        self.path = str(path) if path is not None else None
        self.column = column
        self.rows = list(rows or [])
        self.sheet = sheet


class AmbiguousDateOrder(DataLoadError):
    """Every all-numeric date of the file reads both day-first and month-first (no day above
    12), and no order was chosen: the caller offers the choice (the upload page) or states an
    assumption."""
