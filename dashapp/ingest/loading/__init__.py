"""Read a transactions file (CSV, Excel, zip, parquet) into the canonical schema.

Pure package (pandas, numpy, pyarrow, python-calamine; no dash / flask).

``load_transactions(path)`` returns a DataFrame with the columns and dtypes of
:mod:`dashapp.ingest.schema` (see docs/architecture.md). Every problem with the *file* is reported as a
:class:`DataLoadError` whose message names the file and the column / rows at fault, so it can be
shown to a user as is.

Modules (import the public names from this package, not from them):

- ``load``: ``load_transactions``, its checks, the dispatch by extension.
- ``cache``: ``dataset_fingerprint``, ``cache_path_for`` and the parquet cache (``LOADER_VERSION``).
- ``formats``: the supported extensions, magic-number sniffing, pyarrow error text.
- ``csv_reader``, ``excel_reader``, ``parquet_reader``, ``zip_reader``: one reader per format
  (``zip_reader`` also holds the archive limits, applied to .xlsx too).
- ``columns``: the raw table a reader returns and the missing-column messages.
- ``convert``: a raw table -> the canonical DataFrame.
- ``dates``: the accepted date formats and the one date order of a file (``DateReading``).
- ``DataLoadError`` lives in :mod:`dashapp.ingest.errors`.
"""

from __future__ import annotations

from dashapp.ingest.errors import DataLoadError
from dashapp.ingest.loading.cache import LOADER_VERSION, cache_path_for, dataset_fingerprint
from dashapp.ingest.loading.formats import (
    CSV_EXTENSIONS,
    EXCEL_EXTENSIONS,
    PARQUET_EXTENSIONS,
    SUPPORTED_EXTENSIONS,
    ZIP_EXTENSIONS,
)
from dashapp.ingest.loading.load import load_transactions
from dashapp.ingest.loading.zip_reader import MAX_COMPRESSION_RATIO, MAX_UNCOMPRESSED_BYTES

__all__ = [
    "CSV_EXTENSIONS",
    "DataLoadError",
    "EXCEL_EXTENSIONS",
    "LOADER_VERSION",
    "MAX_COMPRESSION_RATIO",
    "MAX_UNCOMPRESSED_BYTES",
    "PARQUET_EXTENSIONS",
    "SUPPORTED_EXTENSIONS",
    "ZIP_EXTENSIONS",
    "cache_path_for",
    "dataset_fingerprint",
    "load_transactions",
]
