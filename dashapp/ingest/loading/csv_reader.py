"""CSV / TSV reader.

Refuses binary files and web pages saved as .csv, detects the encoding (UTF-8 with or without
BOM, UTF-16 with BOM, else cp1252 or ISO-8859-1) and the delimiter (among , ; tab |), finds the
header line, then reads the mapped columns with pyarrow: text columns dictionary-encoded, never
one Python string per row.
"""

from __future__ import annotations

import codecs
import csv
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from dashapp.ingest import schema
from dashapp.ingest.errors import DataLoadError
from dashapp.ingest.loading.columns import _missing_columns_error, _Piece, _Raw
from dashapp.ingest.loading.formats import _arrow_message, _sniff_binary
from dashapp.ingest.schema import PRICE, QUANTITY, REQUIRED_COLUMNS


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


def _read_head(p: Path, name: str) -> tuple[bytes, str, str]:
    """The first 64 KiB of a text file, refusing binary files and web pages: (bytes, decoded
    text, encoding for pyarrow)."""
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
    return head, text, encoding


def _layout(
    p: Path, name: str, column_map: dict[str, str] | None
) -> tuple[list[str], dict[str, int], int, str, str]:
    """``(headers, canonical -> column index, header line index, delimiter, encoding)``."""
    head, text, encoding = _read_head(p, name)
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
    mapping = schema.match_headers(headers, column_map, name)
    if any(c not in mapping for c in REQUIRED_COLUMNS):
        raise _missing_columns_error(name, headers, mapping, column_map)
    if len(head) < (1 << 16) and not any(ln.strip() for ln in lines[header_idx + 1 :]):
        raise DataLoadError(f"{name} has a header but no data rows.", path=name)
    return headers, mapping, header_idx, delimiter, encoding


def _read_csv(p: Path, name: str, column_map: dict[str, str] | None) -> _Raw:
    headers, mapping, header_idx, delimiter, encoding = _layout(p, name, column_map)
    table = _read_table(p, name, len(headers), mapping, header_idx + 1, delimiter, encoding)
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


def _options(width, mapping, skip_rows, delimiter, encoding, typed, multiline, block_size):
    """pyarrow's read, parse and convert options for the mapped columns (``c<index>``): text
    dictionary-encoded, quantity and price as float64 when ``typed``."""
    text_type = pa.dictionary(pa.int32(), pa.string())
    numeric = {QUANTITY, PRICE}
    types = {
        f"c{i}": (pa.float64() if (typed and canon in numeric) else text_type)
        for canon, i in mapping.items()
    }
    return (
        pacsv.ReadOptions(
            column_names=[f"c{i}" for i in range(width)],
            skip_rows=skip_rows,
            encoding=encoding,
            block_size=block_size,
        ),
        pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=multiline),
        pacsv.ConvertOptions(
            column_types=types,
            include_columns=[f"c{i}" for i in mapping.values()],
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )


class StreamRetry(Exception):
    """The stream must restart with safer options: ``typed`` or ``multiline`` changed."""

    def __init__(self, typed: bool, multiline: bool) -> None:
        super().__init__(f"typed={typed} multiline={multiline}")
        self.typed, self.multiline = typed, multiline


def iter_csv_batches(
    p: Path,
    name: str,
    column_map: dict[str, str] | None,
    block_size: int,
    *,
    typed: bool = True,
    multiline: bool = False,
):
    """The file as a stream of raw tables (:class:`_Raw`, about ``block_size`` bytes each,
    spreadsheet row numbers continuing across batches), for files too large to hold in
    memory. Like :func:`_read_csv`, numbers are parsed by pyarrow and quoted newlines are not
    expected; when the data needs otherwise, :class:`StreamRetry` says how to start again
    (numbers as text, so the converter names the bad rows; quoted newlines allowed)."""
    headers, mapping, header_idx, delimiter, encoding = _layout(p, name, column_map)
    options = _options(
        len(headers), mapping, header_idx + 1, delimiter, encoding, typed, multiline, block_size
    )
    try:
        reader = pacsv.open_csv(
            p, read_options=options[0], parse_options=options[1], convert_options=options[2]
        )
        first_row = header_idx + 2
        for batch in reader:
            n = batch.num_rows
            if n == 0:
                continue
            # as chunked arrays, like a whole-file read: the converter's arrow paths (text
            # dictionary-encoded, numbers and ISO dates parsed by arrow) only take those; a
            # plain array went through numpy objects (2-3x the CPU of the conversion)
            columns = {
                canon: pa.chunked_array([batch.column(f"c{i}")]) for canon, i in mapping.items()
            }
            yield _Raw(
                name=name,
                n=n,
                columns=columns,
                headers={canon: headers[i] for canon, i in mapping.items()},
                pieces=[_Piece(None, 0, n, first_row)],
            )
            first_row += n
    except (pa.ArrowInvalid, UnicodeDecodeError) as e:
        msg = str(e)
        if typed and "conversion error to double" in msg:
            raise StreamRetry(False, multiline) from None
        if not multiline and "Expected" in msg and "columns" in msg:
            raise StreamRetry(typed, True) from None
        raise DataLoadError(
            f"{name} is not a well-formed CSV table: {_arrow_message(msg)}", path=name
        ) from None


def _read_table(
    p: Path,
    name: str,
    width: int,
    mapping: dict[str, int],
    skip_rows: int,
    delimiter: str,
    encoding: str,
) -> pa.Table:
    """The mapped columns (``c<index>``) of the rows below the header, read with pyarrow: text
    dictionary-encoded, quantity and price as float64. Retries with the next encoding, with
    numbers read as text, or with quoted newlines allowed, as the errors require."""

    def attempt(enc: str, typed: bool, multiline: bool) -> pa.Table:
        read, parse, convert = _options(
            width, mapping, skip_rows, delimiter, enc, typed, multiline, 1 << 22
        )
        return pacsv.read_csv(p, read_options=read, parse_options=parse, convert_options=convert)

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
    return table
