"""Public entry point: ``load_transactions`` checks the path and the column map, serves the
parquet cache (:mod:`.cache`) and dispatches by extension to the reader of each format, whose raw
table :mod:`.convert` turns into the canonical schema."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pandas as pd

from dashapp.ingest import schema
from dashapp.ingest.errors import DataLoadError
from dashapp.ingest.loading.cache import (
    NOTES_ATTR,
    _read_cache,
    _stat_key,
    _write_cache,
    cache_path_for,
)
from dashapp.ingest.loading.convert import _build_frame
from dashapp.ingest.loading.csv_reader import _read_csv
from dashapp.ingest.loading.dates import DateReading
from dashapp.ingest.loading.excel_reader import _read_excel
from dashapp.ingest.loading.formats import (
    CSV_EXTENSIONS,
    EXCEL_EXTENSIONS,
    SUPPORTED_EXTENSIONS,
    ZIP_EXTENSIONS,
)
from dashapp.ingest.loading.parquet_reader import _read_parquet
from dashapp.ingest.loading.zip_reader import _load_zip
from dashapp.ingest.schema import SOURCE_COLUMNS


def load_transactions(
    path: str | os.PathLike,
    *,
    cache_dir: str | os.PathLike | None = None,
    column_map: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Load a transactions file into the canonical schema (docs/architecture.md).

    ``path``: .csv/.tsv (UTF-8, or cp1252/ISO-8859-1 when not valid UTF-8; delimiter
    sniffed among , ; tab |), .xlsx/.xlsm/.xls (every sheet holding the required columns,
    concatenated in sheet order), .parquet, or a .zip holding exactly one of these.

    ``cache_dir``: when given, the result is stored as ``<cache_dir>/<stem>-<fingerprint>.parquet``
    (written atomically, lz4-compressed, ~10 MB per 1M rows) and later loads of the same bytes
    read it back: ~0.1 s for 1M rows, plus hashing the source (~0.07 s per 100 MB) unless its
    fingerprint is memoized (see dataset_fingerprint; the memo also lives in ``cache_dir``). A
    changed file has a new fingerprint, so it is never served stale. Cache files of older
    versions of a file are not deleted.

    ``column_map``: optional ``{canonical column: source header}`` overriding the header aliases
    of :mod:`dashapp.ingest.schema` (e.g. from an upload column-mapping UI). It may also hold
    the reading option ``date_order`` (``"dmy"``, ``"mdy"`` or ``"ask"``, see
    ``schema.DATE_ORDER_OPTION``): without it, dates that read both day-first and month-first
    in a file that cannot tell are read month-first, logged, and the sentence saying so is
    kept in ``frame.attrs["notes"]``.

    Returns a DataFrame with columns invoice, stock_code, description, quantity (int32),
    invoice_date (datetime64[ns]), price (float64), customer_id, country, line_total (float64);
    text columns are category of str. Rows are in file order, all lines kept (cancellations,
    duplicates, lines without customer): cleaning is the job of ``dashapp.ingest.engine``. Rows that
    are entirely blank are skipped.

    Raises DataLoadError (a ValueError) with a user-facing message for every problem with the
    file: not found, empty, unsupported type, not a table, missing columns, unparseable values
    (count and first 5 spreadsheet row numbers), zip with no or several tables, zip bombs.
    """
    p = Path(path)
    if not p.exists():
        raise DataLoadError(f"File not found: {p}", path=p)
    if p.is_dir():
        raise DataLoadError(f"{p} is a folder, not a file.", path=p)
    column_map = _check_column_map(column_map)
    _check_extension(p, p.name)
    if cache_dir is None:
        return _load_file(p, p.name, column_map)

    before = _stat_key(p)
    cache_file = cache_path_for(p, cache_dir, column_map)
    cached = _read_cache(cache_file)
    if cached is not None:
        return cached
    df = _load_file(p, p.name, column_map)
    if _stat_key(p) == before:  # the file did not change while we read it
        # a read-only or full cache folder must not make loading fail
        with contextlib.suppress(OSError):
            _write_cache(df, cache_file)
    return df


def _check_column_map(column_map: dict[str, str] | None) -> dict[str, str] | None:
    if not column_map:
        return None
    order = column_map.get(schema.DATE_ORDER_OPTION)
    if order not in (None, "", schema.DATE_ORDER_ASK, *schema.DATE_ORDERS):
        raise DataLoadError(
            f"Unknown date order {order!r}; expected {', '.join(schema.DATE_ORDERS)} or "
            f"{schema.DATE_ORDER_ASK!r}."
        )
    unknown = [k for k in column_map if k not in (*SOURCE_COLUMNS, schema.DATE_ORDER_OPTION)]
    if unknown:
        raise DataLoadError(
            f"Column mapping names unknown column(s) {', '.join(map(repr, unknown))}; "
            f"expected some of: {', '.join(SOURCE_COLUMNS)}."
        )
    return {k: str(v) for k, v in column_map.items() if v is not None and str(v) != ""}


def _check_extension(p: Path, name: str) -> str:
    ext = p.suffix.lower()
    if ext not in SUPPORTED_EXTENSIONS:
        shown = f"'{ext}'" if ext else "no extension"
        raise DataLoadError(
            f"{name}: unsupported file type ({shown}). Supported: "
            f"{', '.join(SUPPORTED_EXTENSIONS)}.",
            path=name,
        )
    return ext


def _load_file(
    p: Path, name: str, column_map: dict[str, str] | None, depth: int = 0
) -> pd.DataFrame:
    ext = _check_extension(p, name)
    full_map = column_map
    column_map, order = schema.split_options(column_map)
    if p.stat().st_size == 0:
        raise DataLoadError(f"{name} is empty (0 bytes).", path=name)
    if ext in ZIP_EXTENSIONS:
        return _load_zip(p, name, full_map, depth, _load_file)
    if ext in CSV_EXTENSIONS:
        raw = _read_csv(p, name, column_map)
    elif ext in EXCEL_EXTENSIONS:
        raw = _read_excel(p, name, column_map)
    else:
        raw = _read_parquet(p, name, column_map)
    reading = DateReading.of(order)
    frame = _build_frame(raw, reading)
    note = reading.note()
    if note:  # kept with the frame and in its parquet copies (cache.read_notes)
        frame.attrs[NOTES_ATTR] = [note]
    return frame
