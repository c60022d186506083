"""The embedded demo dataset: deterministic synthetic transactions in the raw UCI
"Online Retail II" layout, with the real file's quirks (cancellations, missing customers,
non-product codes, write-offs, duplicates, seasonality).

Pure package (numpy, pandas, pyarrow; no dash / flask). The demo goes through the same loader and
cleaning path as a real file.

Modules (import the public names from this package, not from them):

- ``generate``: ``generate_demo_transactions`` and its steps, ``RAW_COLUMNS``, ``DEMO_VERSION``
  (bump it whenever the output changes: it keys the cached files).
- ``vocabulary``: the static tables (calendar bounds, countries, product names, prices, packs,
  special stock codes, write-off notes, seasonality) and the product catalogue builder.
- ``cache``: ``demo_dataset_path``, the generated dataset written once as a parquet file.
"""

from __future__ import annotations

from dashapp.ingest.demo.cache import demo_dataset_path
from dashapp.ingest.demo.generate import DEMO_VERSION, RAW_COLUMNS, generate_demo_transactions

__all__ = ["DEMO_VERSION", "RAW_COLUMNS", "demo_dataset_path", "generate_demo_transactions"]
