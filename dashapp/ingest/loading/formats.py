"""Supported file types, and the checks shared by several readers: magic-number sniffing of
files with the wrong extension, and shortening pyarrow error messages for users."""

from __future__ import annotations

CSV_EXTENSIONS = (".csv", ".tsv")
EXCEL_EXTENSIONS = (".xlsx", ".xlsm", ".xls")
PARQUET_EXTENSIONS = (".parquet", ".pq")
ZIP_EXTENSIONS = (".zip",)
SUPPORTED_EXTENSIONS = CSV_EXTENSIONS + EXCEL_EXTENSIONS + PARQUET_EXTENSIONS + ZIP_EXTENSIONS


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


def _arrow_message(msg: str) -> str:
    msg = msg.strip().splitlines()[0] if msg.strip() else msg
    if "straddles two block boundaries" in msg:  # pyarrow's words for a field > block size
        return (
            "one value is longer than 4 MB, which no order line needs; most likely a quote "
            '(") is not closed, so everything after it reads as one value'
        )
    return msg.replace("CSV parse error: ", "")
