"""Parquet reader: only the mapped columns are read, with their parquet types."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from dashapp.ingest import schema
from dashapp.ingest.errors import DataLoadError
from dashapp.ingest.loading.columns import _missing_columns_error, _Piece, _Raw
from dashapp.ingest.loading.formats import _arrow_message
from dashapp.ingest.schema import REQUIRED_COLUMNS


def _read_parquet(p: Path, name: str, column_map: dict[str, str] | None) -> _Raw:
    try:
        pf = pq.ParquetFile(p)
        headers = list(pf.schema_arrow.names)
    except (OSError, pa.ArrowException) as e:
        raise DataLoadError(
            f"{name} is not a valid parquet file: {_arrow_message(str(e))}", path=name
        ) from None
    mapping = schema.match_headers(headers, column_map, name)
    if any(c not in mapping for c in REQUIRED_COLUMNS):
        raise _missing_columns_error(name, headers, mapping, column_map)
    try:
        table = pf.read(columns=[headers[i] for i in mapping.values()])
    except (OSError, pa.ArrowException) as e:
        raise DataLoadError(
            f"{name} could not be read: {_arrow_message(str(e))}", path=name
        ) from None
    if table.num_rows == 0:
        raise DataLoadError(f"{name} has no data rows.", path=name)
    columns = {canon: table.column(j) for j, canon in enumerate(mapping)}
    return _Raw(
        name=name,
        n=table.num_rows,
        columns=columns,
        headers={canon: headers[i] for canon, i in mapping.items()},
        pieces=[_Piece(None, 0, table.num_rows, 2)],
    )
