"""Read a transactions file (CSV, Excel, zip, parquet) into the canonical schema.

Pure module (pandas, numpy, pyarrow, python-calamine; no dash / flask).

``load_transactions(path)`` returns a DataFrame with the columns and dtypes of
:mod:`dashapp.schema` (see docs/architecture.md). Every problem with the *file* is reported as a
:class:`DataLoadError` whose message names the file and the column / rows at fault, so it can be
shown to a user as is.

Speed: text columns are never materialised as one Python string per row. They are read as
dictionary-encoded arrays (pyarrow) or factorized (Excel), so cleaning and parsing (strip,
'13085.0' -> '13085', date parsing) run once per *distinct* value, and the categorical columns
are built from integer codes. A parquet cache (``cache_dir``) keyed by a blake2b hash of the
file's bytes makes later loads of the same file a single parquet read.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as _dt
import hashlib
import itertools
import json
import os
import re
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from dashapp.ingest import schema
from dashapp.ingest.schema import (
    COUNTRY,
    CUSTOMER_ID,
    DESCRIPTION,
    INVOICE,
    INVOICE_DATE,
    LINE_TOTAL,
    PRICE,
    QUANTITY,
    REQUIRED_COLUMNS,
    SOURCE_COLUMNS,
    STOCK_CODE,
)

__all__ = [
    "CSV_EXTENSIONS",
    "DataLoadError",
    "EXCEL_EXTENSIONS",
    "LOADER_VERSION",
    "MAX_COMPRESSION_RATIO",
    "MAX_UNCOMPRESSED_BYTES",
    "SUPPORTED_EXTENSIONS",
    "cache_path_for",
    "dataset_fingerprint",
    "load_transactions",
]

#: Bumped whenever the loader's output for the same bytes changes: older cache files are ignored.
LOADER_VERSION = "1"

CSV_EXTENSIONS = (".csv", ".tsv")
EXCEL_EXTENSIONS = (".xlsx", ".xlsm", ".xls")
PARQUET_EXTENSIONS = (".parquet", ".pq")
ZIP_EXTENSIONS = (".zip",)
SUPPORTED_EXTENSIONS = CSV_EXTENSIONS + EXCEL_EXTENSIONS + PARQUET_EXTENSIONS + ZIP_EXTENSIONS

#: Refuse archives (zip, xlsx) whose members add up to more than this many bytes uncompressed.
MAX_UNCOMPRESSED_BYTES = 2 * 1024**3
#: Refuse an archive member that inflates more than this many times (checked above 16 MiB).
MAX_COMPRESSION_RATIO = 200
_RATIO_MIN_BYTES = 16 * 1024**2

_MAX_ROWS_SHOWN = 5
_HEADER_SCAN_ROWS = 20
_CACHE_META_KEY = b"dashapp.loading"
_NULL_TOKENS = frozenset({"nan", "none", "null", "na", "n/a", "#n/a", "-"})
_EMPTY = ("empty value", "empty values")
_FLOAT_INT_RE = re.compile(r"^[+-]?\d+\.0*$")


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


# ---------------------------------------------------------------------------------------------
# fingerprint and cache
# ---------------------------------------------------------------------------------------------
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


def _atomic_write_bytes(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def dataset_fingerprint(path: str | os.PathLike) -> str:
    """Content hash of a file: blake2b (128 bit) of its bytes, as 32 hex characters.

    The bytes are streamed in 1 MiB blocks (~0.07 s for 95 MB when the file is in the page
    cache). A per-process memo keyed by (path, device, inode, size, mtime_ns, ctime_ns) skips
    re-hashing an untouched file: any write changes mtime and ctime (ctime cannot be set back),
    and files changed less than 2 s before they were hashed are never memoized, so a rewrite
    within the file system's timestamp granularity is still seen. The key of the parquet cache
    is always this content hash, never the stat data. Raises DataLoadError when the file does
    not exist.
    """
    return _fingerprint(Path(path))


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


def _write_cache(df: pd.DataFrame, cache_file: Path) -> None:
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(df, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[_CACHE_META_KEY] = LOADER_VERSION.encode()
    table = table.replace_schema_metadata(meta)
    fd, tmp = tempfile.mkstemp(dir=cache_file.parent, prefix=f".{cache_file.stem}-", suffix=".tmp")
    os.close(fd)
    try:
        pq.write_table(table, tmp, compression="lz4")
        os.replace(tmp, cache_file)
    except BaseException:
        with contextlib.suppress(Exception):
            os.unlink(tmp)
        raise


# ---------------------------------------------------------------------------------------------
# public entry point
# ---------------------------------------------------------------------------------------------
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
    of :mod:`dashapp.schema` (e.g. from an upload column-mapping UI).

    Returns a DataFrame with columns invoice, stock_code, description, quantity (int32),
    invoice_date (datetime64[ns]), price (float64), customer_id, country, line_total (float64);
    text columns are category of str. Rows are in file order, all lines kept (cancellations,
    duplicates, lines without customer): cleaning is the job of ``cleaning.clean``. Rows that
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
    unknown = [k for k in column_map if k not in SOURCE_COLUMNS]
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
    if p.stat().st_size == 0:
        raise DataLoadError(f"{name} is empty (0 bytes).", path=name)
    if ext in ZIP_EXTENSIONS:
        return _load_zip(p, name, column_map, depth)
    if ext in CSV_EXTENSIONS:
        raw = _read_csv(p, name, column_map)
    elif ext in EXCEL_EXTENSIONS:
        raw = _read_excel(p, name, column_map)
    else:
        raw = _read_parquet(p, name, column_map)
    return _build_frame(raw)


# ---------------------------------------------------------------------------------------------
# raw tables: source columns mapped to canonical names, not yet converted
# ---------------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------------
# CSV
# ---------------------------------------------------------------------------------------------
_MAGIC = (
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a zip archive or an Excel workbook (.xlsx)"),
    (b"\xd0\xcf\x11\xe0", "an old-style Office file (.xls/.doc)"),
    (b"PAR1", "a parquet file"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf", "a 7-zip archive"),
    (b"Rar!", "a RAR archive"),
    (b"{\\rtf", "an RTF document"),
)


def _sniff_binary(head: bytes) -> str | None:
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return what
    return None


def _decode_head(head: bytes) -> tuple[str, str]:
    """Decode the first bytes of a text file; returns (text, encoding for pyarrow)."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return head.decode("utf-16", errors="ignore").lstrip("\ufeff"), "utf-16"
    body = head[3:] if head.startswith(codecs.BOM_UTF8) else head
    try:
        return codecs.getincrementaldecoder("utf-8")().decode(body, final=False), "utf8"
    except UnicodeDecodeError:
        pass
    try:
        return body.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return body.decode("latin-1"), "latin-1"


def _looks_textual(text: str) -> bool:
    if not text:
        return False
    sample = text[:8192]
    bad = sum(1 for ch in sample if (ord(ch) < 32 and ch not in "\t\r\n") or ch == "\ufffd")
    return bad <= max(2, len(sample) // 200)


def _read_csv(p: Path, name: str, column_map: dict[str, str] | None) -> _Raw:
    with open(p, "rb") as fh:
        head = fh.read(1 << 16)
    what = _sniff_binary(head)
    if what:
        raise DataLoadError(f"{name} is not a CSV table: it looks like {what}.", path=name)
    is_utf16 = head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    if b"\x00" in head and not is_utf16:
        raise DataLoadError(f"{name} is not a CSV table: it holds binary data.", path=name)
    text, encoding = _decode_head(head)
    if not _looks_textual(text):
        raise DataLoadError(f"{name} is not a CSV table: it holds binary data.", path=name)
    start = text.lstrip()[:200].lower()
    if start.startswith(("<!doctype html", "<html")):
        raise DataLoadError(
            f"{name} is not a CSV table: it is an HTML web page (a failed download?).", path=name
        )
    lines = re.split(r"\r\n|\r|\n", text)
    header_idx = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if header_idx is None:
        raise DataLoadError(f"{name} is empty: no header line and no data.", path=name)
    header_line = lines[header_idx]
    delimiter = max(",;\t|", key=header_line.count)
    if header_line.count(delimiter) == 0:
        delimiter = "\t" if p.suffix.lower() == ".tsv" else ","
    headers = next(csv.reader([header_line], delimiter=delimiter))
    headers = [h.strip().lstrip("\ufeff") for h in headers]
    mapping = schema.match_headers(headers, column_map)
    if any(c not in mapping for c in REQUIRED_COLUMNS):
        raise _missing_columns_error(name, headers, mapping, column_map)
    if len(head) < (1 << 16) and not any(ln.strip() for ln in lines[header_idx + 1 :]):
        raise DataLoadError(f"{name} has a header but no data rows.", path=name)

    names = [f"c{i}" for i in range(len(headers))]
    text_type = pa.dictionary(pa.int32(), pa.string())
    numeric = {QUANTITY, PRICE}

    def attempt(enc: str, typed: bool, multiline: bool) -> pa.Table:
        types = {
            f"c{i}": (pa.float64() if (typed and canon in numeric) else text_type)
            for canon, i in mapping.items()
        }
        return pacsv.read_csv(
            p,
            read_options=pacsv.ReadOptions(
                column_names=names,
                skip_rows=header_idx + 1,
                encoding=enc,
                block_size=1 << 22,
            ),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=multiline),
            convert_options=pacsv.ConvertOptions(
                column_types=types,
                include_columns=[f"c{i}" for i in mapping.values()],
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )

    encodings = [encoding] + [
        e for e in ("cp1252", "latin-1") if e != encoding and encoding != "utf-16"
    ]
    typed = True
    # quoted values spanning lines are rare and cost ~20% more CPU to allow for: the first
    # attempt assumes none; a row split by such a newline always has a wrong field count
    # (one of its halves has fewer fields than the header), which triggers the slower retry
    multiline = False
    table = None
    last_error: Exception | None = None
    while table is None and encodings:
        enc = encodings[0]
        try:
            table = attempt(enc, typed, multiline)
        except UnicodeDecodeError as e:
            last_error = e
            encodings.pop(0)
        except pa.ArrowInvalid as e:
            msg = str(e)
            last_error = e
            if "UTF8" in msg:
                encodings.pop(0)
            elif typed and "conversion error to double" in msg:
                typed = False  # read numbers as text; the converter names the bad rows
            elif not multiline and "Expected" in msg and "columns" in msg:
                multiline = True
            else:
                raise DataLoadError(
                    f"{name} is not a well-formed CSV table: {_arrow_message(msg)}", path=name
                ) from None
    if table is None:
        raise DataLoadError(
            f"{name} could not be decoded as text (tried UTF-8, cp1252, ISO-8859-1): {last_error}",
            path=name,
        )
    columns = {canon: table.column(f"c{i}") for canon, i in mapping.items()}
    n = table.num_rows
    if n == 0:
        raise DataLoadError(f"{name} has a header but no data rows.", path=name)
    return _Raw(
        name=name,
        n=n,
        columns=columns,
        headers={canon: headers[i] for canon, i in mapping.items()},
        pieces=[_Piece(None, 0, n, header_idx + 2)],
    )


def _arrow_message(msg: str) -> str:
    msg = msg.strip().splitlines()[0] if msg.strip() else msg
    return msg.replace("CSV parse error: ", "")


# ---------------------------------------------------------------------------------------------
# Excel
# ---------------------------------------------------------------------------------------------
def _check_archive(zf: zipfile.ZipFile, name: str) -> None:
    total = 0
    for info in zf.infolist():
        total += info.file_size
        if info.file_size > _RATIO_MIN_BYTES and info.file_size > MAX_COMPRESSION_RATIO * max(
            info.compress_size, 1
        ):
            raise DataLoadError(
                f"{name} was refused: member '{info.filename}' would inflate "
                f"{info.file_size / max(info.compress_size, 1):,.0f} times "
                f"({info.compress_size:,} -> {info.file_size:,} bytes), which looks like a "
                f"zip bomb (limit {MAX_COMPRESSION_RATIO}x).",
                path=name,
            )
    if total > MAX_UNCOMPRESSED_BYTES:
        raise DataLoadError(
            f"{name} was refused: it would uncompress to {total / 1024**3:.1f} GiB, more than "
            f"the {MAX_UNCOMPRESSED_BYTES / 1024**3:.1f} GiB limit.",
            path=name,
        )


def _scan_head(rows_iter, max_blank: int = 10_000) -> tuple[list[list], list[int]]:
    """First rows of a sheet for header detection: skips leading blank rows (at most
    ``max_blank``), then returns up to _HEADER_SCAN_ROWS rows and their 0-based positions."""
    head: list[list] = []
    pos: list[int] = []
    for i, row in enumerate(rows_iter):
        row = list(row)
        if not head and not any(str(v).strip() for v in row):
            if i >= max_blank:
                break
            continue
        head.append(row)
        pos.append(i)
        if len(head) >= _HEADER_SCAN_ROWS:
            break
    return head, pos


def _factorize_rows(
    rows, mapping: dict[str, int], width: int, chunk: int = 1 << 16
) -> tuple[dict[str, _Labelled], int]:
    """Factorize the mapped columns of an iterator of row lists, ``chunk`` rows at a time.

    Only one chunk of per-cell Python objects is alive at once (a 540k-row sheet as Python
    lists would take ~300 MB). Returns ({canonical: _Labelled}, number of rows).
    """
    parts: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {c: [] for c in mapping}
    n = 0
    while block := list(itertools.islice(rows, chunk)):
        try:
            arr = np.array(block, dtype=object)
            if arr.ndim != 2 or arr.shape[1] < width:
                raise ValueError
        except ValueError:  # ragged rows: pad with empty cells
            arr = np.empty((len(block), width), dtype=object)
            arr[:] = ""
            for i, r in enumerate(block):
                arr[i, : min(len(r), width)] = list(r)[:width]
        for canon, j in mapping.items():
            codes, uniques = pd.factorize(arr[:, j], use_na_sentinel=True)
            parts[canon].append((codes, np.asarray(uniques, dtype=object)))
        n += len(block)
        del arr, block
    return {c: _merge_labels(p) for c, p in parts.items()}, n


def _merge_labels(parts: list[tuple[np.ndarray, np.ndarray]]) -> _Labelled:
    """Concatenate factorized pieces (uniques may repeat across pieces: merged later)."""
    if len(parts) == 1:
        return _Labelled(*parts[0])
    codes, uniques, offset = [], [], 0
    for c, u in parts:
        codes.append(np.where(c >= 0, c + offset, -1))
        uniques.append(u)
        offset += len(u)
    if not codes:
        return _Labelled(np.array([], dtype=np.intp), np.array([], dtype=object))
    return _Labelled(np.concatenate(codes), np.concatenate(uniques))


def _read_excel(p: Path, name: str, column_map: dict[str, str] | None) -> _Raw:
    import python_calamine

    with open(p, "rb") as fh:
        head = fh.read(8)
    if p.suffix.lower() != ".xls":
        if not head.startswith(b"PK\x03\x04"):
            what = _sniff_binary(head)
            extra = f" (it looks like {what})" if what else ""
            raise DataLoadError(f"{name} is not a valid Excel workbook{extra}.", path=name)
        try:
            with zipfile.ZipFile(p) as zf:
                _check_archive(zf, name)
        except zipfile.BadZipFile:
            raise DataLoadError(
                f"{name} is not a valid Excel workbook (damaged zip).", path=name
            ) from None
    try:
        wb = python_calamine.CalamineWorkbook.from_path(str(p))
    except python_calamine.PasswordError:
        raise DataLoadError(
            f"{name} is password protected; save it without a password.", path=name
        ) from None
    except Exception as e:  # calamine raises several unrelated types for broken files
        raise DataLoadError(f"{name} is not a valid Excel workbook: {e}", path=name) from None

    found: list[str] = []
    sheet_cols: list[dict[str, _Labelled]] = []
    pieces: list[_Piece] = []
    headers_out: dict[str, str] = {}
    best_miss: tuple[int, str, list, dict] | None = None
    start = 0
    try:
        sheet_names = list(wb.sheet_names)
        for sheet_name in sheet_names:
            try:
                sheet = wb.get_sheet_by_name(sheet_name)
                rows_iter = iter(sheet.iter_rows())  # from A1, blank rows included
                head_rows, head_pos = _scan_head(rows_iter)
            except Exception as e:
                found.append(f"'{sheet_name}' (unreadable: {e})")
                continue
            if not head_rows:
                found.append(f"'{sheet_name}' (empty)")
                continue
            hdr_idx, mapping = None, {}
            best = (-1, 0, {})
            for i, row in enumerate(head_rows):
                m = schema.match_headers(row, column_map)
                score = sum(c in m for c in REQUIRED_COLUMNS)
                if score > best[0]:
                    best = (score, i, m)
                if score == len(REQUIRED_COLUMNS):
                    hdr_idx, mapping = i, m
                    break
            if hdr_idx is None:
                score, i, m = best
                shown = [str(v) for v in head_rows[i] if str(v).strip()][:10]
                found.append(f"'{sheet_name}' (columns: {', '.join(shown) if shown else 'none'})")
                if best_miss is None or score > best_miss[0]:
                    best_miss = (score, sheet_name, head_rows[i], m)
                del sheet, rows_iter
                continue
            found.append(f"'{sheet_name}'")
            header = head_rows[hdr_idx]
            for canon, j in mapping.items():
                headers_out.setdefault(canon, str(header[j]).strip())
            data_iter = itertools.chain(head_rows[hdr_idx + 1 :], rows_iter)
            first_row = head_pos[hdr_idx] + 2  # 1-based row of the header, plus one
            cols, n = _factorize_rows(data_iter, mapping, len(header))
            del sheet, rows_iter, data_iter  # free calamine's copy of the sheet before the next
            if n == 0:
                continue
            sheet_cols.append(cols)
            pieces.append(_Piece(sheet_name, start, n, first_row))
            start += n
    finally:
        with contextlib.suppress(Exception):
            wb.close()

    if not pieces:
        usable = [f for f in found if "(" not in f]
        if usable:
            raise DataLoadError(
                f"{name}: the sheet(s) {', '.join(usable)} have the columns but no data rows.",
                path=name,
            )
        if not found:
            raise DataLoadError(f"{name} holds no sheets.", path=name)
        detail = ""
        if best_miss is not None:
            _, sname, _hdrs, m = best_miss
            detail = f" Closest: sheet '{sname}', {_describe_missing(m, column_map)}."
        raise DataLoadError(
            f"{name} has no sheet with the required columns "
            f"({', '.join(REQUIRED_COLUMNS)}). Sheets found: {'; '.join(found)}.{detail}",
            path=name,
            column=None,
        )
    # a column present in one sheet but not another (optional ones) is filled with missing
    all_cols = set().union(*sheet_cols)
    columns: dict[str, _Labelled] = {}
    for canon in all_cols:
        columns[canon] = _merge_labels(
            [
                (c[canon].codes, c[canon].uniques)
                if canon in c
                else (np.full(piece.n, -1, dtype=np.intp), np.array([], dtype=object))
                for c, piece in zip(sheet_cols, pieces, strict=True)
            ]
        )
    return _Raw(name=name, n=start, columns=columns, headers=headers_out, pieces=pieces)


# ---------------------------------------------------------------------------------------------
# parquet
# ---------------------------------------------------------------------------------------------
def _read_parquet(p: Path, name: str, column_map: dict[str, str] | None) -> _Raw:
    try:
        pf = pq.ParquetFile(p)
        headers = list(pf.schema_arrow.names)
    except (OSError, pa.ArrowException) as e:
        raise DataLoadError(
            f"{name} is not a valid parquet file: {_arrow_message(str(e))}", path=name
        ) from None
    mapping = schema.match_headers(headers, column_map)
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


# ---------------------------------------------------------------------------------------------
# zip
# ---------------------------------------------------------------------------------------------
def _load_zip(p: Path, name: str, column_map: dict[str, str] | None, depth: int) -> pd.DataFrame:
    try:
        zf = zipfile.ZipFile(p)
    except zipfile.BadZipFile:
        raise DataLoadError(f"{name} is not a valid zip archive.", path=name) from None
    with zf:
        _check_archive(zf, name)
        members = [
            i
            for i in zf.infolist()
            if not i.is_dir()
            and not i.filename.startswith("__MACOSX/")
            and not Path(i.filename).name.startswith((".", "~$"))
        ]
        tables = [
            i
            for i in members
            if Path(i.filename).suffix.lower() in SUPPORTED_EXTENSIONS
            and not (depth >= 1 and Path(i.filename).suffix.lower() in ZIP_EXTENSIONS)
        ]
        if not tables:
            listed = ", ".join(i.filename for i in members[:10]) or "nothing"
            raise DataLoadError(
                f"{name} holds no table (one of "
                f"{', '.join(e for e in SUPPORTED_EXTENSIONS if e != '.zip')}); it holds: {listed}.",
                path=name,
            )
        if len(tables) > 1:
            raise DataLoadError(
                f"{name} holds several tables ({', '.join(i.filename for i in tables[:10])}); "
                f"put exactly one table in the zip.",
                path=name,
            )
        info = tables[0]
        inner_name = f"{name}/{info.filename}"
        with tempfile.TemporaryDirectory(prefix="dashapp-zip-") as tmp:
            target = Path(tmp) / ("member" + Path(info.filename).suffix.lower())
            try:
                with zf.open(info) as src, open(target, "wb") as dst:
                    written = 0
                    while block := src.read(1 << 20):
                        written += len(block)
                        if written > MAX_UNCOMPRESSED_BYTES:
                            raise DataLoadError(
                                f"{name} was refused: '{info.filename}' uncompresses to more "
                                f"than {MAX_UNCOMPRESSED_BYTES / 1024**3:.1f} GiB.",
                                path=name,
                            )
                        dst.write(block)
            except RuntimeError as e:  # encrypted member
                raise DataLoadError(f"{name} could not be opened: {e}", path=name) from None
            except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as e:
                if isinstance(e, DataLoadError):
                    raise
                raise DataLoadError(f"{name} is damaged: {e}", path=name) from None
            except Exception as e:  # zlib.error and friends
                if isinstance(e, DataLoadError):
                    raise
                raise DataLoadError(f"{name} is damaged: {e}", path=name) from None
            if target.stat().st_size == 0:
                raise DataLoadError(f"{inner_name} is empty (0 bytes).", path=inner_name)
            return _load_file(target, inner_name, column_map, depth + 1)


# ---------------------------------------------------------------------------------------------
# conversion to the canonical schema
# ---------------------------------------------------------------------------------------------
@dataclass
class _Labelled:
    """A column already factorized: codes index uniques, -1 = missing."""

    codes: np.ndarray
    uniques: np.ndarray


def _labels(col) -> tuple[np.ndarray, np.ndarray | pa.Array]:
    """(codes, uniques): codes index uniques, -1 = missing. Works on arrow and numpy columns.

    ``uniques`` stays a pyarrow string array for arrow text columns (cleaned with arrow
    compute kernels, see _to_category), else it is a numpy object array of Python values.
    """
    if isinstance(col, _Labelled):
        return col.codes, col.uniques
    if isinstance(col, pa.ChunkedArray):
        t = col.type
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            col = pc.dictionary_encode(col)
            t = col.type
        if pa.types.is_dictionary(t):
            arr = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
            codes = arr.indices.fill_null(-1).to_numpy(zero_copy_only=False)
            uniques = arr.dictionary
            if pa.types.is_large_string(uniques.type):
                uniques = uniques.cast(pa.string())
            if not pa.types.is_string(uniques.type):
                uniques = np.asarray(uniques.to_pylist(), dtype=object)
            return codes, uniques
        col = col.to_numpy(zero_copy_only=False)
    codes, uniques = pd.factorize(np.asarray(col), use_na_sentinel=True)
    return codes, np.asarray(uniques, dtype=object)


def _text_value(v: object, *, float_suffix: bool) -> str | None:
    if v is None:
        return None
    if isinstance(v, str):
        s = v.strip()
        if not s:
            return None
        if float_suffix and _FLOAT_INT_RE.match(s):
            s = s.split(".", 1)[0]
        return s
    if isinstance(v, bool | np.bool_):
        return str(bool(v))
    if isinstance(v, float | np.floating):
        if v != v:
            return None
        if float(v).is_integer():
            return str(int(v))
        return repr(float(v))
    if isinstance(v, int | np.integer):
        return str(int(v))
    if v is pd.NaT:
        return None
    return str(v).strip() or None


def _to_category(
    codes: np.ndarray,
    uniques: np.ndarray,
    *,
    float_suffix: bool = False,
    upper: bool = False,
    null_tokens: bool = False,
    fill: str | None = None,
) -> pd.Categorical:
    """Categorical of str from (codes, raw uniques), working on the distinct values only.

    Strips whitespace, turns 123.0 / '123.0' (with ``float_suffix``) into '123', upper-cases
    (``upper``), treats 'nan'/'NULL'/... as missing (``null_tokens``), replaces missing by
    ``fill`` when given, merges labels that became equal and sorts the categories (by code
    point, the same order for the arrow and the Python path).
    """
    if isinstance(uniques, pa.Array):
        return _to_category_arrow(
            codes,
            uniques,
            float_suffix=float_suffix,
            upper=upper,
            null_tokens=null_tokens,
            fill=fill,
        )
    labels = [_text_value(v, float_suffix=float_suffix) for v in uniques.tolist()]
    if upper:
        labels = [s.upper() if s is not None else None for s in labels]
    if null_tokens:
        labels = [None if (s is not None and s.casefold() in _NULL_TOKENS) else s for s in labels]
    labels.append(fill)  # slot for raw missing values (code -1)
    if fill is not None:
        labels = [fill if s is None else s for s in labels]
    new_codes, new_uniques = pd.factorize(np.asarray(labels, dtype=object), use_na_sentinel=True)
    order = np.argsort(np.asarray(new_uniques, dtype=object), kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    lut = np.where(new_codes >= 0, rank[np.maximum(new_codes, 0)], -1)
    final = lut[codes]  # code -1 picks the last slot (raw missing)
    cats = pd.Index(np.asarray(new_uniques, dtype=object)[order], dtype="str")
    return pd.Categorical.from_codes(final, dtype=pd.CategoricalDtype(cats, ordered=False))


def _to_category_arrow(
    codes: np.ndarray,
    uniques: pa.Array,
    *,
    float_suffix: bool,
    upper: bool,
    null_tokens: bool,
    fill: str | None,
) -> pd.Categorical:
    """_to_category for a pyarrow string dictionary, with arrow compute kernels."""
    v = pc.utf8_trim_whitespace(uniques)
    if float_suffix:
        v = pc.replace_substring_regex(v, pattern=r"^([+-]?\d+)\.0*$", replacement=r"\1")
    if upper:
        v = pc.utf8_upper(v)
    blank = pc.equal(v, "")
    if null_tokens:
        blank = pc.or_(blank, pc.is_in(pc.utf8_lower(v), value_set=pa.array(sorted(_NULL_TOKENS))))
    v = pc.if_else(blank, pa.scalar(None, pa.string()), v)
    v = pa.concat_arrays([v, pa.array([fill], pa.string())])  # slot for raw missing (code -1)
    if fill is not None:
        v = pc.fill_null(v, fill)
    enc = pc.dictionary_encode(v)
    new_codes = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    order = pc.array_sort_indices(enc.dictionary).to_numpy()
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    lut = np.where(new_codes >= 0, rank[np.maximum(new_codes, 0)], -1)
    final = lut[codes]
    cats = pd.Index(
        enc.dictionary.take(pa.array(order)).to_numpy(zero_copy_only=False), dtype="str"
    )
    return pd.Categorical.from_codes(final, dtype=pd.CategoricalDtype(cats, ordered=False))


def _py_uniques(uniques) -> np.ndarray:
    """uniques as a numpy object array of Python values."""
    if isinstance(uniques, pa.Array):
        return np.asarray(uniques.to_pylist(), dtype=object)
    return uniques


def _number_value(v: object) -> float | None:
    """float, None for missing, NaN for unparseable."""
    if v is None:
        return None
    if isinstance(v, bool | np.bool_):
        return np.nan
    if isinstance(v, int | float | np.integer | np.floating):
        f = float(v)
        return None if f != f else f
    if isinstance(v, str):
        s = v.strip()
        if not s:
            return None
        try:
            return float(s)
        except ValueError:
            return np.nan
    return np.nan


class _Converter:
    def __init__(self, raw: _Raw, keep: np.ndarray | None) -> None:
        self.raw = raw
        self.keep = keep  # positions kept (blank rows removed), or None for all

    def fail(
        self, column: str, what: tuple[str, str], bad_mask: np.ndarray, examples: list | None = None
    ):
        """Raise DataLoadError: ``what`` = (singular, plural) description of the bad values."""
        positions = np.flatnonzero(bad_mask)
        if self.keep is not None:
            positions = self.keep[positions]
        where, rows, sheet = self.raw.where(positions)
        header = self.raw.headers.get(column, column)
        ex = ""
        if examples:
            ex = " (e.g. " + ", ".join(repr(str(e)) for e in examples[:3]) + ")"
        count = int(np.count_nonzero(bad_mask))
        raise DataLoadError(
            f"{self.raw.name}: column '{header}' has {_plural(count, *what)}{ex}, at {where}.",
            path=self.raw.name,
            column=header,
            rows=rows,
            sheet=sheet,
        )

    def numbers(self, column: str, col) -> np.ndarray:
        """float64 values; raises on missing or unparseable values."""
        if isinstance(col, pa.ChunkedArray) and (
            pa.types.is_integer(col.type) or pa.types.is_floating(col.type)
        ):
            values = col.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
            values = values if self.keep is None else values[self.keep]
            missing = np.isnan(values)
            if missing.any():
                self.fail(column, _EMPTY, missing)
            return values
        if isinstance(col, np.ndarray) and col.dtype.kind in "iuf":
            values = col.astype(np.float64, copy=False)
            values = values if self.keep is None else values[self.keep]
            missing = np.isnan(values)
            if missing.any():
                self.fail(column, _EMPTY, missing)
            return values
        codes, uniques = _labels(col)
        uniques = _py_uniques(uniques)
        if self.keep is not None:
            codes = codes[self.keep]
        parsed = [_number_value(v) for v in uniques.tolist()]
        miss_u = np.array([x is None for x in parsed] + [True])
        vals_u = np.array([np.nan if x is None else x for x in parsed] + [np.nan], dtype=np.float64)
        missing = miss_u[codes]
        if missing.any():
            self.fail(column, _EMPTY, missing)
        bad_u = np.isnan(vals_u) & ~miss_u
        bad = bad_u[codes]
        if bad.any():
            ex = [uniques[i] for i in np.flatnonzero(bad_u[:-1])[:3]]
            self.fail(
                column, ("value that is not a number", "values that are not numbers"), bad, ex
            )
        return vals_u[codes]

    def dates(self, column: str, col) -> np.ndarray:
        """datetime64[ns] values; raises on missing or unparseable values."""
        if isinstance(col, pa.ChunkedArray) and pa.types.is_timestamp(col.type):
            if col.type.tz is not None:
                col = pc.local_timestamp(col)
            values = col.to_numpy(zero_copy_only=False).astype("datetime64[ns]")
            values = values if self.keep is None else values[self.keep]
            missing = np.isnat(values)
            if missing.any():
                self.fail(column, ("empty date", "empty dates"), missing)
            return values
        if isinstance(col, pa.ChunkedArray) and pa.types.is_date(col.type):
            col = col.cast(pa.timestamp("ns"))
            return self.dates(column, col)
        codes, uniques = _labels(col)
        if self.keep is not None:
            codes = codes[self.keep]
        if isinstance(uniques, pa.Array) and not (codes < 0).any():
            fast = _arrow_iso_dates(uniques)
            if fast is not None:
                return fast[codes]
        uniques = _py_uniques(uniques)
        conv, missing_u, bad_u = _parse_date_uniques(uniques)
        conv = np.append(conv, np.datetime64("NaT", "ns"))
        missing_u = np.append(missing_u, True)
        bad_u = np.append(bad_u, False)
        missing = missing_u[codes]
        if missing.any():
            self.fail(column, ("empty date", "empty dates"), missing)
        bad = bad_u[codes]
        if bad.any():
            ex = [uniques[i] for i in np.flatnonzero(bad_u[:-1])[:3]]
            self.fail(column, ("value that is not a date", "values that are not dates"), bad, ex)
        return conv[codes]


def _arrow_iso_dates(uniques: pa.Array) -> np.ndarray | None:
    """ISO 8601 strings -> datetime64[ns] (+ NaT slot for code -1) with arrow's parser; None
    when any value is blank or not ISO (the caller then takes the general, reporting path)."""
    try:
        ts = pc.cast(pc.utf8_trim_whitespace(uniques), pa.timestamp("ns"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if ts.null_count:
        return None
    out = ts.to_numpy(zero_copy_only=False).astype("datetime64[ns]")
    return np.append(out, np.datetime64("NaT", "ns"))


_DATE_FORMATS = (
    "ISO8601",
    "%m/%d/%Y %H:%M",
    "%d/%m/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M:%S",
    "%m/%d/%Y",
    "%d/%m/%Y",
    "%m/%d/%y %H:%M",
    "%d/%m/%y %H:%M",
    "%m/%d/%y",
    "%d/%m/%y",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y",
    "%d-%m-%Y %H:%M",
    "%d-%m-%Y",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d",
)


def _parse_date_uniques(uniques: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parse distinct raw date values -> (datetime64[ns], missing mask, unparseable mask)."""
    n = len(uniques)
    out = np.full(n, np.datetime64("NaT", "ns"))
    missing = np.zeros(n, dtype=bool)
    str_idx: list[int] = []
    strs: list[str] = []
    other_idx: list[int] = []
    others: list = []
    for i, v in enumerate(uniques.tolist()):
        if v is None or (isinstance(v, float) and v != v) or v is pd.NaT:
            missing[i] = True
        elif isinstance(v, str):
            s = v.strip()
            if not s:
                missing[i] = True
            else:
                str_idx.append(i)
                strs.append(s)
        elif isinstance(v, _dt.datetime | _dt.date | np.datetime64 | pd.Timestamp):
            other_idx.append(i)
            others.append(v)
        else:
            pass  # numbers, booleans, times: not dates -> left NaT and reported
    if others:
        conv = pd.to_datetime(pd.Series(others, dtype=object), errors="coerce")
        if getattr(conv.dt, "tz", None) is not None:
            conv = conv.dt.tz_localize(None)
        out[other_idx] = conv.to_numpy(dtype="datetime64[ns]")
    if strs:
        s = pd.Series(strs, dtype=object)
        best = None
        for fmt in _DATE_FORMATS:
            try:
                conv = pd.to_datetime(s, format=fmt, errors="coerce")
            except (ValueError, TypeError):
                continue
            if getattr(conv.dt, "tz", None) is not None:
                conv = conv.dt.tz_localize(None)
            nbad = int(conv.isna().sum())
            if best is None or nbad < best[0]:
                best = (nbad, conv)
            if nbad == 0:
                break
        if best is not None and best[0] > 0:
            try:
                conv = pd.to_datetime(s, format="mixed", errors="coerce")
                if getattr(conv.dt, "tz", None) is not None:
                    conv = conv.dt.tz_localize(None)
                if int(conv.isna().sum()) < best[0]:
                    best = (int(conv.isna().sum()), conv)
            except (ValueError, TypeError):
                pass
        if best is not None:
            out[str_idx] = best[1].to_numpy(dtype="datetime64[ns]")
    bad = np.isnat(out) & ~missing
    return out, missing, bad


def _missing_mask(col, labels) -> np.ndarray:
    """True where a raw value is missing/blank (before any conversion)."""
    if labels is not None:
        codes, uniques = labels
        if isinstance(uniques, pa.Array):
            blank = pc.equal(pc.utf8_trim_whitespace(uniques), "").fill_null(True)
            blank_u = np.append(blank.to_numpy(zero_copy_only=False), True)
            return blank_u[codes]
        blank_u = np.array(
            [
                v is None
                or (isinstance(v, str) and not v.strip())
                or (isinstance(v, float) and v != v)
                for v in uniques.tolist()
            ]
            + [True]
        )
        return blank_u[codes]
    if isinstance(col, pa.ChunkedArray):
        mask = col.is_null().to_numpy(zero_copy_only=False)
        if pa.types.is_floating(col.type):
            mask = mask | np.isnan(col.to_numpy(zero_copy_only=False))
        return mask
    arr = np.asarray(col)
    if arr.dtype.kind == "f":
        return np.isnan(arr)
    if arr.dtype.kind == "M":
        return np.isnat(arr)
    return np.zeros(len(arr), dtype=bool)


def _is_typed(col) -> bool:
    """True for columns that need no factorizing (numeric / timestamp arrays)."""
    if isinstance(col, _Labelled):
        return False
    if isinstance(col, pa.ChunkedArray):
        t = col.type
        return (
            pa.types.is_integer(t)
            or pa.types.is_floating(t)
            or pa.types.is_timestamp(t)
            or pa.types.is_date(t)
        )
    return np.asarray(col).dtype.kind in "iufM"


def _empty_category(m: int, fill: str | None = None) -> pd.Categorical:
    cats = [] if fill is None else [fill]
    codes = np.full(m, -1 if fill is None else 0, dtype=np.int8)
    return pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(pd.Index(cats, dtype="str")))


def _build_frame(raw: _Raw) -> pd.DataFrame:
    cols = raw.columns
    n = raw.n
    labels: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def lab(c: str) -> tuple[np.ndarray, np.ndarray]:
        if c not in labels:
            labels[c] = _labels(cols[c])
        return labels[c]

    # rows where every required field is blank (trailing Excel rows, ",,,,") are skipped
    blank = np.ones(n, dtype=bool)
    for c in (INVOICE, QUANTITY, PRICE, INVOICE_DATE):
        blank &= _missing_mask(cols[c], None if _is_typed(cols[c]) else lab(c))
        if not blank.any():
            break
    keep = np.flatnonzero(~blank) if blank.any() else None
    m = n if keep is None else len(keep)
    if m == 0:
        raise DataLoadError(f"{raw.name} has no data rows.", path=raw.name)
    conv = _Converter(raw, keep)

    def category(c: str, **kw) -> pd.Categorical:
        codes, uniques = lab(c)
        if keep is not None:
            codes = codes[keep]
        return _to_category(codes, uniques, **kw)

    def raw_or_labels(c: str):
        return cols[c] if _is_typed(cols[c]) else _Labelled(*lab(c))

    invoice = category(INVOICE, float_suffix=True)
    if invoice.isna().any():
        conv.fail(INVOICE, _EMPTY, np.asarray(invoice.isna()))
    qty = conv.numbers(QUANTITY, raw_or_labels(QUANTITY))
    frac = qty != np.round(qty)
    if frac.any():
        conv.fail(
            QUANTITY,
            ("value that is not a whole number", "values that are not whole numbers"),
            frac,
            [qty[i] for i in np.flatnonzero(frac)[:3]],
        )
    big = np.abs(qty) > np.iinfo(np.int32).max
    if big.any():
        conv.fail(
            QUANTITY, ("value too large for a quantity", "values too large for a quantity"), big
        )
    price = conv.numbers(PRICE, raw_or_labels(PRICE))
    dates = conv.dates(INVOICE_DATE, raw_or_labels(INVOICE_DATE))
    customer = category(CUSTOMER_ID, float_suffix=True, null_tokens=True)
    stock = category(STOCK_CODE, upper=True) if STOCK_CODE in cols else _empty_category(m)
    desc = category(DESCRIPTION) if DESCRIPTION in cols else _empty_category(m)
    default_country = schema.SPECS[COUNTRY].default
    country = (
        category(COUNTRY, fill=default_country)
        if COUNTRY in cols
        else _empty_category(m, default_country)
    )
    quantity = qty.astype(np.int32)
    return pd.DataFrame(
        {
            INVOICE: invoice,
            STOCK_CODE: stock,
            DESCRIPTION: desc,
            QUANTITY: quantity,
            INVOICE_DATE: dates.astype("datetime64[ns]", copy=False),
            PRICE: price.astype(np.float64, copy=False),
            CUSTOMER_ID: customer,
            COUNTRY: country,
            LINE_TOTAL: quantity.astype(np.float64) * price,
        },
        copy=False,
    )
