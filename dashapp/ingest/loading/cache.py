"""Content fingerprint of a source file, and the parquet cache of loaded frames.

A parquet cache (``cache_dir``) keyed by a blake2b hash of the file's bytes makes later loads of
the same file a single parquet read. Cache files carry ``LOADER_VERSION`` in their metadata, so
files written by an older loader are ignored. Independent of the readers.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
import threading
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from dashapp.ingest import schema
from dashapp.ingest.errors import DataLoadError

#: Bumped whenever the loader's output for the same bytes changes: older cache files are ignored.
LOADER_VERSION = "2"

#: Parquet metadata key holding LOADER_VERSION in a cache file (kept: old caches stay valid).
_CACHE_META_KEY = b"dashapp.loading"
#: ``frame.attrs`` key of the loader's statements about a file (e.g. an assumed date order),
#: also kept in the parquet copies under :data:`_NOTES_META_KEY` (JSON list of sentences).
NOTES_ATTR = "notes"
_NOTES_META_KEY = b"dashapp.notes"


def read_notes(cache_file: str | os.PathLike) -> list[str]:
    """The loader's statements kept in a parquet copy of a file's lines (reads the footer
    only); [] when there are none or the file cannot be read."""
    try:
        meta = pq.read_metadata(cache_file).metadata or {}
        return [str(n) for n in json.loads(meta.get(_NOTES_META_KEY, b"[]"))]
    except (OSError, ValueError, pa.ArrowException):
        return []


_FP_MEMO: dict[tuple, str] = {}
_FP_LOCK = threading.Lock()
#: A memo entry is trusted only when the file's last change (mtime and ctime) is at least this
#: long before the hash started, so a rewrite within the file system's timestamp granularity
#: can never hide behind an identical stat (the "racy git" rule).
_RACY_MARGIN_NS = 2_000_000_000


def _stat_key(path: Path) -> tuple:
    st = path.stat()
    return (str(path.resolve()), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _hash_file(path: Path) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _memo_file(cache_dir: Path, key: tuple) -> Path:
    name = hashlib.blake2b(key[0].encode(), digest_size=8).hexdigest()
    return cache_dir / f".fingerprint-{name}.json"


def _fingerprint(path: Path, cache_dir: Path | None = None) -> str:
    """dataset_fingerprint with an optional on-disk memo in ``cache_dir`` (see there)."""
    try:
        key = _stat_key(path)
    except FileNotFoundError:
        raise DataLoadError(f"File not found: {path}", path=path) from None
    with _FP_LOCK:
        hit = _FP_MEMO.get(key)
    if hit is not None:
        return hit
    memo = _memo_file(cache_dir, key) if cache_dir is not None else None
    if memo is not None:
        with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
            entry = json.loads(memo.read_text())
            if tuple(entry["key"]) == key and re.fullmatch(r"[0-9a-f]{32}", entry["fp"]):
                with _FP_LOCK:
                    _FP_MEMO[key] = entry["fp"]
                return entry["fp"]
    started = time.time_ns()
    digest = _hash_file(path)
    with contextlib.suppress(OSError):
        if _stat_key(path) != key:  # changed while hashing: hash again, memo nothing
            return _hash_file(path)
    if max(key[4], key[5]) < started - _RACY_MARGIN_NS:
        with _FP_LOCK:
            if len(_FP_MEMO) > 256:
                _FP_MEMO.clear()
            _FP_MEMO[key] = digest
        if memo is not None:
            with contextlib.suppress(OSError):
                _atomic_write_bytes(memo, json.dumps({"key": list(key), "fp": digest}).encode())
    return digest


@contextlib.contextmanager
def atomic_path(target: Path):
    """A temporary path beside ``target`` to write to: renamed to ``target`` when the block
    ends, deleted when it raises. A reader never sees half a file, and a failed write leaves
    nothing behind."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}-", suffix=".tmp")
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _atomic_write_bytes(target: Path, data: bytes) -> None:
    with atomic_path(target) as tmp, open(tmp, "wb") as fh:
        fh.write(data)


def dataset_fingerprint(path: str | os.PathLike, cache_dir: str | os.PathLike | None = None) -> str:
    """Content hash of a file: blake2b (128 bit) of its bytes, as 32 hex characters.

    The bytes are streamed in 1 MiB blocks (~0.07 s for 95 MB when the file is in the page
    cache). A per-process memo keyed by (path, device, inode, size, mtime_ns, ctime_ns) skips
    re-hashing an untouched file: any write changes mtime and ctime (ctime cannot be set back),
    and files changed less than 2 s before they were hashed are never memoized, so a rewrite
    within the file system's timestamp granularity is still seen. With ``cache_dir`` the memo is
    also kept on disk there, so a new process (a restart, another worker) does not hash the
    file again. The key of the parquet cache
    is always this content hash, never the stat data. Raises DataLoadError when the file does
    not exist.
    """
    return _fingerprint(Path(path), Path(cache_dir) if cache_dir is not None else None)


def _safe_stem(path: Path) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", path.stem).strip("._") or "data"
    return stem[:80]


def _map_token(column_map: dict[str, str] | None) -> str:
    if not column_map:
        return ""
    items = sorted((str(k), str(v)) for k, v in column_map.items() if v)
    if not items:
        return ""
    return "-m" + hashlib.blake2b(repr(items).encode(), digest_size=4).hexdigest()


def cache_path_for(
    path: str | os.PathLike,
    cache_dir: str | os.PathLike,
    column_map: dict[str, str] | None = None,
) -> Path:
    """Where the parquet cache of ``path`` lives: ``<cache_dir>/<stem>-<fingerprint>.parquet``.

    A non-empty ``column_map`` adds ``-m<hash of the map>`` before the suffix, so loads with
    different mappings never share a cache file.
    """
    p = Path(path)
    fp = _fingerprint(p, Path(cache_dir))
    return Path(cache_dir) / f"{_safe_stem(p)}-{fp}{_map_token(column_map)}.parquet"


def _read_cache(cache_file: Path) -> pd.DataFrame | None:
    try:
        table = pq.read_table(cache_file)
    except (OSError, pa.ArrowException):
        return None
    meta = table.schema.metadata or {}
    if meta.get(_CACHE_META_KEY) != LOADER_VERSION.encode():
        return None
    if table.column_names != list(schema.CANONICAL_COLUMNS):
        return None
    df = table.to_pandas()
    for col, dtype in schema.DTYPES.items():
        if str(df[col].dtype) != dtype:
            return None
    return df


def write_parquet_atomically(table: pa.Table, target: Path) -> None:
    """Write ``table`` to ``target`` (lz4) through :func:`atomic_path`."""
    with atomic_path(target) as tmp:
        pq.write_table(table, tmp, compression="lz4")


def cache_table(df: pd.DataFrame) -> pa.Table:
    """Canonical lines as the Arrow table of their parquet copy (loader version and notes in
    its metadata)."""
    table = pa.Table.from_pandas(df, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[_CACHE_META_KEY] = LOADER_VERSION.encode()
    if df.attrs.get(NOTES_ATTR):
        meta[_NOTES_META_KEY] = json.dumps(list(df.attrs[NOTES_ATTR])).encode()
    return table.replace_schema_metadata(meta)


def _write_cache(df: pd.DataFrame, cache_file: Path) -> None:
    write_parquet_atomically(cache_table(df), cache_file)
