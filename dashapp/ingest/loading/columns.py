"""Raw tables: source columns mapped to canonical names, not yet converted.

Each reader returns a :class:`_Raw`: its columns (pyarrow arrays, numpy arrays or already
factorized :class:`_Labelled` columns) and the pieces (sheets) its rows came from, so messages
can name spreadsheet rows and sheets. :mod:`.convert` turns it into the canonical frame. Also the
messages for missing columns, shared by the readers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dashapp.ingest import schema
from dashapp.ingest.errors import DataLoadError
from dashapp.ingest.schema import REQUIRED_COLUMNS

_MAX_ROWS_SHOWN = 5


@dataclass
class _Piece:
    sheet: str | None  # Excel sheet name, None for other sources
    start: int  # first row of the piece in the concatenated raw table (0-based)
    n: int  # rows in the piece
    first_row: int  # spreadsheet row number (1-based) of the piece's first data row


@dataclass
class _Raw:
    name: str  # file name for messages
    n: int
    columns: dict[str, object]  # canonical -> pa.ChunkedArray | np.ndarray
    headers: dict[str, str]  # canonical -> source header (for messages)
    pieces: list[_Piece] = field(default_factory=list)

    def where(self, positions: np.ndarray) -> tuple[str, list[int], str | None]:
        """Text like "rows 2, 5" / "sheet 'X' rows 2, 5" for the first 5 positions."""
        positions = np.asarray(positions)[:_MAX_ROWS_SHOWN]
        groups: list[tuple[str | None, list[int]]] = []
        rows: list[int] = []
        starts = np.array([pc_.start for pc_ in self.pieces])
        for pos in positions:
            k = int(np.searchsorted(starts, pos, side="right") - 1)
            piece = self.pieces[k]
            row = piece.first_row + int(pos) - piece.start
            rows.append(row)
            if groups and groups[-1][0] == piece.sheet:
                groups[-1][1].append(row)
            else:
                groups.append((piece.sheet, [row]))
        parts = []
        for sheet, rs in groups:
            label = ("row " if len(rs) == 1 else "rows ") + ", ".join(map(str, rs))
            parts.append(f"sheet '{sheet}' {label}" if sheet is not None else label)
        first_sheet = groups[0][0] if groups else None
        return "; ".join(parts), rows, first_sheet


@dataclass
class _Labelled:
    """A column already factorized: codes index uniques, -1 = missing."""

    codes: np.ndarray
    uniques: np.ndarray


def _describe_missing(mapping: dict[str, int], column_map: dict[str, str] | None) -> str:
    missing = [c for c in REQUIRED_COLUMNS if c not in mapping]
    parts = []
    for c in missing:
        if column_map and c in column_map:
            parts.append(f"{c} (mapped to '{column_map[c]}', which is not a column of the file)")
        else:
            parts.append(f"{c} (accepted headers: {schema.describe_aliases(c)})")
    return f"missing required column{'s' if len(missing) > 1 else ''}: {'; '.join(parts)}"


def _missing_columns_error(
    name: str,
    headers: list,
    mapping: dict[str, int],
    column_map: dict[str, str] | None,
) -> DataLoadError:
    shown = [str(h) for h in headers if str(h).strip() != ""][:30]
    found = ", ".join(repr(h) for h in shown) if shown else "none"
    missing = [c for c in REQUIRED_COLUMNS if c not in mapping]
    return DataLoadError(
        f"{name}: {_describe_missing(mapping, column_map)}. Columns found: {found}. Header "
        f"names are matched ignoring case, spaces, underscores and hyphens.",
        path=name,
        column=missing[0] if missing else None,
        headers=[h for h in (str(h) for h in headers) if h.strip()],
    )


def _plural(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"
