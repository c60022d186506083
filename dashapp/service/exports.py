"""Spreadsheet-safe CSV exports (pure).

A CSV cell whose text begins with ``=``, ``+``, ``-``, ``@`` (or a tab / carriage return) is
run as a formula by Excel, LibreOffice and Google Sheets ("CSV injection"). Text cells that
start so are prefixed with a single quote, which spreadsheets show as plain text. Numeric
columns are left alone: a negative number is data, not a formula.
"""

from __future__ import annotations

import pandas as pd

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Copy of ``frame`` whose text cells cannot be run as spreadsheet formulas."""
    out = frame.copy()
    for col in out.columns:
        s = out[col]
        if (
            pd.api.types.is_numeric_dtype(s)
            or pd.api.types.is_datetime64_any_dtype(s)
            or pd.api.types.is_bool_dtype(s)
        ):
            continue
        text = s.astype("string")
        risky = text.str.startswith(FORMULA_PREFIXES).fillna(False)
        if risky.any():
            out[col] = text.where(~risky, "'" + text)
    return out


def to_safe_csv(frame: pd.DataFrame, *, index: bool = False) -> str:
    """CSV text of ``frame`` with formulas neutralised (UTF-8, ``\\n`` line ends)."""
    return neutralise_formulas(frame).to_csv(index=index, lineterminator="\n")


def csv_download(frame: pd.DataFrame, filename: str) -> dict[str, str]:
    """What a download component sends to the browser: ``frame`` as safe CSV text
    (:func:`to_safe_csv`) saved under ``filename``."""
    return {"content": to_safe_csv(frame), "filename": filename, "type": "text/csv"}
