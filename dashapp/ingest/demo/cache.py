"""The demo dataset as a parquet file in a cache folder, generated and written once.

Pure module (pandas, pyarrow; no dash / flask).
"""

from __future__ import annotations

import os
from pathlib import Path

from dashapp.ingest.demo.generate import DEMO_VERSION, generate_demo_transactions
from dashapp.ingest.loading.cache import atomic_path

__all__ = ["demo_dataset_path"]


def demo_dataset_path(
    cache_dir: str | os.PathLike, *, n_customers: int = 6000, seed: int = 7
) -> Path:
    """Path of the demo dataset as a parquet file, generated and written once.

    The file ``<cache_dir>/demo_online_retail_II-v<DEMO_VERSION>-c<n_customers>-s<seed>.parquet``
    is written atomically (temp file + os.replace), so concurrent callers never see a partial
    file; later calls return the existing path at once. Load it with
    ``loading.load_transactions`` like any uploaded file.
    """
    cache = Path(cache_dir)
    target = cache / f"demo_online_retail_II-v{DEMO_VERSION}-c{n_customers}-s{seed}.parquet"
    if target.exists():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    df = generate_demo_transactions(n_customers=n_customers, seed=seed)
    for col in ("Invoice", "StockCode", "Description", "Country"):
        df[col] = df[col].astype("category")  # dictionary-encoded: smaller and faster to read
    with atomic_path(target) as tmp:
        df.to_parquet(tmp, index=False, compression="zstd")
    return target
