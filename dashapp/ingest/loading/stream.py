"""Large CSV files converted to canonical lines in parquet, batch by batch, in bounded memory.

:func:`csv_to_parquet` reads the file as a stream of blocks (:func:`.csv_reader.iter_csv_batches`),
converts each with the same converter as a whole-file load (so the same messages name the same
bad rows) and appends it to a parquet file written under a temporary name, then renamed: the
result is the loader's parquet cache of the file, which the engine scans without loading it.
Memory stays near one block (16 MB of CSV by default) whatever the file's size.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from dashapp.ingest import schema
from dashapp.ingest.loading.cache import (
    _CACHE_META_KEY,
    _NOTES_META_KEY,
    LOADER_VERSION,
    atomic_path,
)
from dashapp.ingest.loading.convert import _build_frame
from dashapp.ingest.loading.csv_reader import StreamRetry, iter_csv_batches
from dashapp.ingest.loading.dates import DateReading

#: Bytes of CSV per block: 16 MB keeps a block's conversion near 250 MB (64 MB blocks: ~470 MB)
#: at the same CPU time.
BLOCK_BYTES = 16 << 20

_TEXT = pa.dictionary(pa.int32(), pa.string())
LINES_SCHEMA = pa.schema(
    [
        (schema.INVOICE, _TEXT),
        (schema.STOCK_CODE, _TEXT),
        (schema.DESCRIPTION, _TEXT),
        (schema.QUANTITY, pa.int32()),
        (schema.INVOICE_DATE, pa.timestamp("ns")),
        (schema.PRICE, pa.float64()),
        (schema.CUSTOMER_ID, _TEXT),
        (schema.COUNTRY, _TEXT),
        (schema.LINE_TOTAL, pa.float64()),
    ],
    metadata={_CACHE_META_KEY: LOADER_VERSION.encode()},
)


def csv_to_parquet(
    path: str | os.PathLike,
    target: str | os.PathLike,
    column_map: dict[str, str] | None = None,
    block_bytes: int = BLOCK_BYTES,
) -> int:
    """Convert the CSV ``path`` to canonical lines in the parquet file ``target`` (atomically);
    returns the number of lines. Raises DataLoadError like ``load_transactions``."""
    p, out = Path(path), Path(target)
    column_map, order = schema.split_options(column_map)
    typed, multiline = True, False
    while True:
        try:
            return _write(p, out, column_map, block_bytes, typed, multiline, order)
        except StreamRetry as retry:  # a bad number or a quoted newline: start again
            typed, multiline = retry.typed, retry.multiline


def _write(
    p: Path,
    out: Path,
    column_map,
    block_bytes: int,
    typed: bool,
    multiline: bool,
    order: str | None = None,
) -> int:
    rows = 0
    batches = iter_csv_batches(p, p.name, column_map, block_bytes, typed=typed, multiline=multiline)
    reading = DateReading.of(order)  # one date order for every block of the file
    with atomic_path(out) as tmp, pq.ParquetWriter(tmp, LINES_SCHEMA, compression="lz4") as writer:
        for raw in batches:
            frame = _build_frame(raw, reading)
            table = pa.Table.from_pandas(frame, preserve_index=False)
            writer.write_table(table.cast(LINES_SCHEMA))
            rows += len(frame)
        note = reading.note()
        if note:
            writer.add_key_value_metadata({_NOTES_META_KEY: json.dumps([note]).encode()})
    return rows
