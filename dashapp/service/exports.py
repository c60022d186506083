"""Spreadsheet-safe CSV exports (pure).

A CSV cell whose text begins with ``=``, ``+``, ``-``, ``@`` (or a tab / carriage return) is
run as a formula by Excel, LibreOffice and Google Sheets ("CSV injection"). Spreadsheets also
accept the same signs in their full-width and small forms (``＝1+1``: Excel with an East Asian
input method converts them to ``=``), and some skip leading spaces and invisible characters
before a formula. So a text cell is neutralised when, after leading white space and
zero-width characters, its first character is one of those signs once Unicode-normalised
(NFKC maps ``＝`` and ``﹦`` to ``=``, ``＋``/``﹢`` to ``+``, ``－``/``﹣`` to ``-``, ``＠``/``﹫``
to ``@``). Such cells are prefixed with a single quote, which spreadsheets show as plain
text. Numeric columns are left alone: a negative number is data, not a formula.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

import pandas as pd

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
#: Skipped before looking at the first character: white space (incl. no-break spaces),
#: zero-width characters and the byte-order mark.
_INVISIBLE = " \t\r\n\x0b\x0c\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u200b\u200c\u200d\u2028\u2029\u202f\u205f\u2060\u3000\ufeff"


def is_formula_text(text: str) -> bool:
    """Would a spreadsheet run this cell text as a formula (see the module docstring)?"""
    if text.startswith(("\t", "\r")):
        return True
    first = text.lstrip(_INVISIBLE)[:1]
    return bool(first) and unicodedata.normalize("NFKC", first)[:1] in "=+-@"


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Copy of ``frame`` whose text cells cannot be run as spreadsheet formulas."""
    out = frame.copy()
    for col in out.columns:
        s = out[col]
        if (
            pd.api.types.is_numeric_dtype(s)
            or pd.api.types.is_datetime64_any_dtype(s)
            or pd.api.types.is_bool_dtype(s)
            or s.isna().all()  # nothing to neutralise (and Arrow cannot fill a null array)
        ):
            continue
        text = s.astype("string")
        risky = text.map(is_formula_text, na_action="ignore").fillna(False).astype(bool)
        if risky.any():
            out[col] = text.where(~risky, "'" + text)
    return out


def to_safe_csv(frame: pd.DataFrame, *, index: bool = False) -> str:
    """CSV text of ``frame`` with formulas neutralised (UTF-8, ``\\n`` line ends)."""
    return neutralise_formulas(frame).to_csv(index=index, lineterminator="\n")


def csv_download(frame: pd.DataFrame, filename: str, notes: Sequence[str] = ()) -> dict[str, str]:
    """What a download component sends to the browser: ``frame`` as safe CSV text
    (:func:`to_safe_csv`) saved under ``filename``, after one ``# `` comment line per note
    (what the file holds; ``pandas.read_csv(..., comment="#")`` skips them)."""
    head = "".join("# " + " ".join(str(n).split()) + "\n" for n in notes)
    return {"content": head + to_safe_csv(frame), "filename": filename, "type": "text/csv"}


#: File formats :func:`write_table` writes.
TABLE_FORMATS = ("csv", "parquet")


def write_table(frame: pd.DataFrame, path, fmt: str | None = None) -> str:
    """Write ``frame`` to ``path`` atomically (a reader never sees half a file; a failed
    write leaves the previous file, if any, untouched) as formula-safe CSV or as parquet
    (typed values, for programs, not spreadsheets). ``fmt`` defaults to the file's suffix.
    Returns the format written; ValueError for an unknown one, OSError when the folder is
    not writable."""
    from pathlib import Path

    from dashapp.ingest.loading.cache import atomic_path

    target = Path(path)
    fmt = (fmt or target.suffix.lstrip(".") or "csv").lower()
    if fmt not in TABLE_FORMATS:
        raise ValueError(f"Unknown output format {fmt!r}: use csv or parquet.")
    with atomic_path(target) as tmp:
        if fmt == "csv":
            with open(tmp, "w", encoding="utf-8", newline="") as fh:
                fh.write(to_safe_csv(frame))
        else:  # attrs (e.g. the as-of date) are not part of the table
            _no_attrs(frame.copy()).to_parquet(tmp, index=False)
    return fmt


def _no_attrs(frame: pd.DataFrame) -> pd.DataFrame:
    frame.attrs = {}
    return frame
