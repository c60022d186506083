"""The parity corpus and how each engine receives it.

Every case is a pair: the lines as a file (read by the loader, cleaned by the embedded DuckDB)
and the same lines as another engine would hold them: a PostgreSQL table (raw Excel values and
original headers for the real extract, so the SQL normalisation is checked against the
loader's) and parquet files read by Spark.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa

from tests.conftest import SAMPLE_XLSX, require_file
from tests.factories import RAW_HEADERS

RAW_COLUMNS = RAW_HEADERS

#: Hand-made raw rows for the edges of the rules and of the text normalisation.
EDGE_ROWS = [  # Invoice, StockCode, Description, Quantity, InvoiceDate, Price, Customer ID, Country
    ("100", "a1", " Mug ", 10, "2010-01-05 10:00", 2.0, "1.0", "France"),
    ("100", "a1", " Mug ", 10, "2010-01-05 10:00", 2.0, "1.0", "France"),  # duplicate
    ("100", "a1", " Mug ", 10, "2010-01-05 10:00", 2.0, "1.0", "France"),  # and another
    ("100", " post", "Postage", 1, "2010-01-05 10:00", 18.0, "1.0", "France"),
    ("100", "gift_0001_20", "voucher", 1, "2010-01-05 10:00", 20.0, "1.0", "France"),
    ("100", "GIFT_0001_", "look-alike", 1, "2010-01-05 10:00", 3.0, "1.0", "France"),
    ("100", "GIFT_A_1", "look-alike", 1, "2010-01-05 10:00", 3.0, "1.0", "France"),
    ("100", "GIFT__1", "look-alike", 1, "2010-01-05 10:00", 3.0, "1.0", "France"),
    # two returns of the same product at the same minute, different prices, partly matched:
    # which line keeps the matched units is decided by the data (invoice, then price), never
    # by the order of the rows
    ("C101", "A1", "Mug", -6, "2010-01-09 11:00", 2.5, "1.0", "France"),
    ("C101", "A1", "Mug", -7, "2010-01-09 11:00", 1.5, "1.0", "France"),
    ("C101", "A1", "Mug", -7, "2010-01-09 11:00", 1.5, "1.0", "France"),  # duplicate return
    ("102", "B2", "Bowl", 2, "2010-02-01 09:00", 5.0, " 2 ", ""),  # missing country
    ("C103", "B2", "Bowl", -5, "2010-02-03 09:00", 5.0, "2", ""),
    # a return before any purchase, then a later purchase that cannot explain it
    ("C110", "K9", "Kettle", -2, "2010-02-03 10:00", 30.0, "4", "Spain"),
    ("111", "K9", "Kettle", 2, "2010-02-10 10:00", 30.0, "4", "Spain"),
    # the 80,995-unit order and its cancellation 16 minutes later
    (
        "581483",
        "23843",
        "PAPER CRAFT , LITTLE BIRDIE",
        80995,
        "2011-12-09 09:15",
        2.08,
        "16446",
        "United Kingdom",
    ),
    (
        "C581484",
        "23843",
        "PAPER CRAFT , LITTLE BIRDIE",
        -80995,
        "2011-12-09 09:27",
        2.08,
        "16446",
        "United Kingdom",
    ),
    # last in, first out: a return of 8 cancels the later order of 5 in full and 3 of the earlier
    ("120", "M7", "Lamp", 5, "2010-03-01 10:00", 4.0, "5", "Spain"),
    ("121", "M7", "Lamp", 5, "2010-03-02 10:00", 4.0, "5", "Spain"),
    ("121", "N8", "Shade", 1, "2010-03-02 10:00", 6.0, "5", "Spain"),
    ("C122", "M7", "Lamp", -5, "2010-03-03 10:00", 4.0, "5", "Spain"),
    ("C123", "M7", "Lamp", -3, "2010-03-04 10:00", 4.0, "5", "Spain"),
    ("C124", "N8", "Shade", -1, "2010-03-04 10:00", 6.0, "5", "Spain"),
    ("A104", "B", "Adjust bad debt", 1, "2010-02-04 09:00", -500.0, "nan", "United Kingdom"),
    ("105", "Q3", "free", 3, "2010-02-04 10:00", 0.0, "2", "United Kingdom"),
    ("106", "D1", "damaged", -20, "2010-02-05 10:00", 1.0, "", "United Kingdom"),
    ("107", "E5", "Tin", 4, "2010-02-06 12:00", 2.5, "NULL", "United Kingdom"),
    ("C108", "E5", "Tin", 4, "2010-02-07 12:00", 2.5, "3", "United Kingdom"),  # positive
    ("109", "E5", "Tin", 4, "2010-03-07 12:00", 2.5, "3", "United Kingdom"),
    # product types derived from descriptions: stop words, plurals, letters other than A-Z
    # (Spark upper-cases "ß" to "SS", the others do not), no letters at all, no description
    ("130", "T1", "WHITE HANGING HEART T-LIGHT HOLDER", 1, "2010-04-01 10:00", 2.55, "5", "Spain"),
    ("130", "T2", "jumbo bag red retrospot", 2, "2010-04-01 10:00", 1.95, "5", "Spain"),
    ("130", "T3", "Gläser straße", 1, "2010-04-01 10:00", 4.0, "5", "Spain"),
    ("130", "T4", "123", 1, "2010-04-01 10:00", 1.0, "5", "Spain"),
    ("130", "T5", None, 1, "2010-04-01 10:00", 1.0, "5", "Spain"),
    ("130", "T6", "RED RETROSPOT", 1, "2010-04-01 10:00", 1.0, "5", "Spain"),
    ("130", "T7", "SET OF 72 PINK HEART PAPER DOILIES", 1, "2010-04-01 10:00", 1.45, "5", "Spain"),
    ("130", "T8", "wine glasses, 6", 1, "2010-04-01 10:00", 7.5, "5", "Spain"),
]


def edge_frame() -> pd.DataFrame:
    frame = pd.DataFrame(EDGE_ROWS, columns=RAW_COLUMNS)
    frame["InvoiceDate"] = pd.to_datetime(frame["InvoiceDate"])
    return frame


def raw_extract() -> pd.DataFrame:
    """The extract as a database stores it: Excel values, original headers."""
    sheets = pd.read_excel(require_file(SAMPLE_XLSX), sheet_name=None, engine="calamine")
    raw = pd.concat(sheets.values(), ignore_index=True)
    for col in ("Invoice", "StockCode"):
        raw[col] = [str(v) for v in raw[col]]
    raw["InvoiceDate"] = raw["InvoiceDate"].astype("datetime64[us]")
    return raw


def canonical_table(lines: pd.DataFrame) -> pd.DataFrame:
    """Canonical lines as plain columns (what a warehouse table in our layout holds)."""
    out = lines.drop(columns="line_total").copy()
    for col in ("invoice", "stock_code", "description", "customer_id", "country"):
        out[col] = out[col].astype(object)
    out["invoice_date"] = out["invoice_date"].astype("datetime64[us]")
    return out


def _sa_type(series: pd.Series):
    if pd.api.types.is_datetime64_any_dtype(series):
        return sa.DateTime()
    if pd.api.types.is_integer_dtype(series):
        return sa.Integer()
    if pd.api.types.is_float_dtype(series):
        return sa.Double()
    return sa.Text()


def store(engine, name: str, frame: pd.DataFrame, types: dict | None = None) -> sa.Table:
    """Create table ``name`` typed after ``frame`` (``types`` overrides) and COPY the rows in
    (PostgreSQL), or INSERT them (other dialects)."""
    types = types or {}
    table = sa.Table(
        name,
        sa.MetaData(),
        *(sa.Column(c, types.get(c) or _sa_type(frame[c])) for c in frame.columns),
    )
    table.create(engine)
    values = frame.astype(object).where(frame.notna(), None)
    for col in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[col]):
            values[col] = [None if pd.isna(v) else v.to_pydatetime() for v in frame[col]]
    rows = [
        tuple(v.item() if isinstance(v, np.generic) else v for v in row)
        for row in values.itertuples(index=False, name=None)
    ]
    if engine.dialect.name == "postgresql":
        prep = engine.dialect.identifier_preparer
        cols = ", ".join(prep.quote(c) for c in frame.columns)
        raw = engine.raw_connection()
        try:
            with (
                raw.cursor() as cur,
                cur.copy(f"COPY {prep.format_table(table)} ({cols}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
            raw.commit()
        finally:
            raw.close()
    else:
        with engine.begin() as conn:
            conn.execute(table.insert(), [dict(zip(frame.columns, r, strict=True)) for r in rows])
    return table


def write_parquet(frame: pd.DataFrame, path) -> str:
    """``frame`` as a parquet file Spark reads (timestamps in microseconds)."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table, path, coerce_timestamps="us", allow_truncated_timestamps=True)
    return str(path)
