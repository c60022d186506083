"""CSV exports of the customer grids: the grid's columns, a leading comment block that says
what the file holds (page, dataset, filters, as-of date, drill-down selection, each column's
header and unit) and a file name with the dataset, the page and the export day."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

import pandas as pd

from dashapp.service.exports import csv_download
from dashapp.web.urlstate import split_list


def export_filename(dataset: str | None, page: str, day: dt.date | None = None) -> str:
    """``<dataset>_<page>_<YYYY-MM-DD>.csv`` (characters other than letters, digits, ``.``,
    ``-`` and ``_`` become ``_``)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", dataset or "data").strip("._") or "data"
    return f"{safe}_{page}_{day or dt.date.today():%Y-%m-%d}.csv"


def column_notes(columns: Sequence[dict], currency: str) -> str:
    """``customer_id = Customer; monetary = Monetary (£); ...``: each column's grid header
    and, for money, its currency."""
    parts = []
    for column in columns:
        header = column.get("headerName", column["field"])
        unit = currency.strip()
        if "contentChars" in column and unit not in header:  # a money column
            header += f" ({unit})"
        parts.append(f"{column['field']} = {header}")
    return "; ".join(parts)


def grid_export(
    table: pd.DataFrame,
    columns: Sequence[dict],
    *,
    title: str,
    page: str,
    dataset: str | None,
    start=None,
    end=None,
    countries=None,
    currency: str = "£",
    as_of=None,
    selection: str = "",
    extra: Sequence[str] = (),
) -> dict[str, str]:
    """The download of ``table`` with the grid's ``columns`` (AG Grid definitions), in their
    order, under :func:`export_filename`, headed by ``#`` comment lines."""
    fields = [c["field"] for c in columns if c["field"] in table.columns]
    chosen = split_list(countries)
    notes = [
        f"{title}: {len(table):,} customers",
        f"Dataset {dataset or 'default'}; dates {start or 'first day'} to "
        f"{end or 'last day'}; countries: {', '.join(chosen) if chosen else 'all'}",
    ]
    if as_of is not None:
        notes.append(f"As of {pd.Timestamp(as_of):%Y-%m-%d}")
    if selection:
        notes.append(f"Selection: {selection}")
    notes += list(extra)
    notes.append("Columns: " + column_notes([c for c in columns if c["field"] in fields],
                                            currency))  # fmt: skip
    return csv_download(table[fields], export_filename(dataset, page), notes=notes)
