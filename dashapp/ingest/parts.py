"""The rows of the cleaning statement, split into the invoice table and the ledger.

:func:`split_parts` takes the rows of :func:`~dashapp.ingest.engine.pipeline.invoice_parts`
(one per invoice and fate, as any engine returns them: :data:`PART_COLUMNS`) and gives

* the **invoice table** (``invoice, customer_id, invoice_date, country, revenue, returned,
  is_cancellation, lines``; one row per invoice with a kept line; ``revenue`` in the
  currency unit, with each matched return booked against the order it cancels, so a
  purchase's ``revenue`` is net of its returns and ``returned`` is what they took back; a
  return invoice keeps only what no order explains, usually 0; an order cancelled in full has
  ``revenue`` 0 and ``is_cancellation`` true: it is no purchase occasion; sorted by date then
  invoice; ``invoice`` text, the other text columns categorical), which every
  customer-level analytic reads
  (docs/architecture.md), and
* the **ledger** (one row per rule of :data:`dashapp.ingest.cleaning.RULES`: ``rule, title,
  meaning, action, enabled, rows, money``; ``attrs`` ``rows_in`` and ``rows_out``).

Both are exact: counts are integers and money is summed in integer thousandths by the engine.
:func:`product_lines` does the same for the rows of
:func:`~dashapp.ingest.engine.pipeline.product_parts` (:data:`PRODUCT_COLUMNS`).
:func:`result_table` and :func:`result_of` carry the invoice table and the ledger as one Arrow
table (the ledger in its metadata): the form a child process sends
(:mod:`dashapp.ingest.isolated`) and the prepared cache stores
(:mod:`dashapp.ingest.engine.prepared`).

Nothing here imports ibis or DuckDB: the child that prepares a large file splits the rows
itself and sends only the invoice table and the ledger (at 100M lines ~0.2 GB instead of the
statement's ~0.8 GB of rows), so the worker never holds the rows.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa

from dashapp.ingest.cleaning import LEDGER_COLUMNS, RULE_INFO, RULES, CleaningRules

#: Money is carried as integer thousandths of the currency unit.
MILLI = 1000

#: Columns of the result of :func:`~dashapp.ingest.engine.pipeline.invoice_parts`.
PART_COLUMNS: tuple[str, ...] = (
    "invoice",
    "fate",
    "is_cancellation",
    "customer_id",
    "invoice_date",
    "country",
    "lines",
    "money_milli",
    "removed_lines",
    "kept_money_milli",
    "returned_money_milli",
    "surviving_lines",
    "unmatched_lines",
    "unmatched_money_milli",
    "missing_lines",
    "missing_money_milli",
    "duplicate_lines",
    "duplicate_money_milli",
)

#: Columns of the result of :func:`~dashapp.ingest.engine.pipeline.product_parts`.
PRODUCT_COLUMNS: tuple[str, ...] = (
    "invoice",
    "stock_code",
    "description",
    "customer_id",
    "invoice_date",
    "country",
    "is_cancellation",
    "units",
    "money_milli",
    "product_type",
)

#: What a preparation gives: the invoice table and ledger, or the product lines.
ORDERS, PRODUCTS = "orders", "products"

ORDER_COLUMNS = (
    "invoice",
    "customer_id",
    "invoice_date",
    "country",
    "revenue",
    "returned",
    "is_cancellation",
    "lines",
)


def _money(milli) -> float:
    return round(int(milli) / MILLI, 2)


def _integers(parts, columns, consume: bool = False) -> pd.DataFrame:
    """``parts`` (an Arrow table or a DataFrame) as a DataFrame with ``columns`` as int64.
    Engines return integer sums wider than 64 bits (DuckDB's HUGEINT reaches Arrow as
    decimal128, PostgreSQL's numeric reaches pandas as Python Decimals), which pandas would
    keep as slow Python objects; the casts are checked, so an overflow raises. ``consume``:
    an Arrow table is freed column by column as it is converted (unusable after)."""
    if not isinstance(parts, pd.DataFrame):
        for name in columns:
            if name in parts.column_names:
                i = parts.column_names.index(name)
                if not pa.types.is_int64(parts.schema.field(i).type):
                    parts = parts.set_column(i, name, parts.column(i).cast(pa.int64()))
        return parts.to_pandas(self_destruct=consume, split_blocks=consume)
    frame = parts.copy(deep=False)
    for name in columns:
        if name in frame.columns and frame[name].dtype != np.int64:
            frame[name] = frame[name].astype(np.int64)
    return frame


#: Integer columns of :data:`PART_COLUMNS`.
_PART_INTEGERS = PART_COLUMNS[6:]


def _as_frame(parts, consume: bool = False) -> pd.DataFrame:
    frame = _integers(parts, _PART_INTEGERS, consume)
    missing = [c for c in PART_COLUMNS if c not in frame.columns]
    if missing:  # a programming error, never user input
        raise ValueError(f"cleaning result lacks columns {missing}")
    return frame


def _cancelled_orders(parts: pd.DataFrame) -> pd.Series:
    """Purchase invoices whose every unit was returned: no purchase occasion."""
    return (
        parts["fate"].isna()
        & ~parts["is_cancellation"].astype(bool)
        & (parts["surviving_lines"] == 0)
        & (parts["returned_money_milli"] > 0)
        & (parts["kept_money_milli"] == 0)
    )


def _categorical(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Codes and sorted categories of a text column (-1: missing), without a Python string
    per row (object arrays of 5M invoices, customers and countries peaked at ~2 GB)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(values.cat.categories.dtype)
    codes, uniques = pd.factorize(values, sort=True, use_na_sentinel=True)
    categories = pd.Index(uniques)
    if categories.dtype == object:  # a database's object column: infer as pd.Categorical would
        categories = pd.Index(np.asarray(categories, dtype=object))
    return codes, categories


def invoice_table(parts: pd.DataFrame) -> pd.DataFrame:
    """The invoice table from the kept rows of the parts (each column taken from them alone:
    a copy of all the kept rows' columns at once held ~0.5 GB more at 100M lines)."""
    kept_mask = (parts["fate"].isna() & (parts["lines"] > parts["removed_lines"])).to_numpy()

    def kept(col: str, dtype=None) -> np.ndarray:
        return parts[col].to_numpy(dtype=dtype)[kept_mask]

    # purchase invoices whose every unit was returned (_cancelled_orders on the kept rows)
    cancelled = ~kept("is_cancellation", bool)
    cancelled &= kept("surviving_lines", np.int64) == 0
    cancelled &= kept("returned_money_milli", np.int64) > 0
    cancelled &= kept("kept_money_milli", np.int64) == 0
    dates = pd.to_datetime(parts["invoice_date"][kept_mask]).to_numpy("datetime64[ns]")
    # sorted by date then invoice (stable; a missing date last), as the codes of the sorted
    # categories sort like the text
    day_key = dates.view(np.int64).copy()
    day_key[np.isnat(dates)] = np.iinfo(np.int64).max
    invoice_codes, invoice_text = _categorical(parts["invoice"][kept_mask])
    order = np.lexsort((invoice_codes, day_key))
    del day_key
    # one row per invoice: plain text (Arrow-backed), as a categorical's categories cost a
    # Python string and a hash table entry per invoice (~0.5 GB at 100M lines)
    invoice = pd.array(invoice_text, dtype="str").take(invoice_codes[order], allow_fill=True)
    del invoice_codes, invoice_text
    columns = {"invoice": invoice}
    for col in ("customer_id", "country"):
        codes, categories = _categorical(parts[col][kept_mask])
        columns[col] = pd.Categorical.from_codes(codes[order], categories=categories)
    columns["invoice_date"] = dates[order]
    columns["revenue"] = kept("kept_money_milli", np.int64)[order] / MILLI
    columns["returned"] = kept("returned_money_milli", np.int64)[order] / MILLI
    columns["is_cancellation"] = (kept("is_cancellation", bool) | cancelled)[order]
    lines = kept("lines", np.int64) - kept("removed_lines", np.int64)
    columns["lines"] = lines.astype(np.int32)[order]
    return pd.DataFrame(columns)[list(ORDER_COLUMNS)]


def ledger(parts: pd.DataFrame, rules: CleaningRules) -> pd.DataFrame:
    """One row per rule: the lines it touched and their money."""
    fate = parts["fate"]
    kept = fate.isna()  # lines that passed the removal rules (before return matching)

    def total(mask, column):
        return int(parts.loc[mask, column].sum())

    counted = {
        rule: (total(fate == rule, "lines"), total(fate == rule, "money_milli"))
        for rule in ("bad_debt", "non_product", "non_positive_price", "write_offs")
    }
    everything = slice(None)
    counted["duplicates"] = (
        total(everything, "duplicate_lines"),
        total(everything, "duplicate_money_milli"),
    )
    counted["cancellations_dropped"] = (
        total(fate == "cancellations_dropped", "lines"),
        total(fate == "cancellations_dropped", "money_milli"),
    )
    cancel = kept & parts["is_cancellation"].astype(bool)
    counted["cancellations"] = (total(cancel, "lines"), total(cancel, "money_milli"))
    counted["unmatched_returns"] = (
        total(kept, "unmatched_lines"),
        total(kept, "unmatched_money_milli"),
    )
    cancelled = _cancelled_orders(parts)
    counted["cancelled_orders"] = (total(cancelled, "lines"), total(cancelled, "money_milli"))
    counted["missing_customer"] = (total(kept, "missing_lines"), total(kept, "missing_money_milli"))
    enabled = {
        "duplicates": rules.drop_duplicates,
        "bad_debt": rules.drop_bad_debt,
        "non_product": rules.drop_non_product,
        "non_positive_price": rules.drop_non_positive_price,
        "write_offs": rules.drop_write_offs,
        "cancellations": rules.net_cancellations,
        "unmatched_returns": rules.net_cancellations,
        "cancelled_orders": rules.net_cancellations,
        "cancellations_dropped": not rules.net_cancellations,
        "missing_customer": True,
    }
    rows = []
    for rule, *_ in RULES:
        title, meaning, action = RULE_INFO[rule]
        on = enabled[rule]
        count, milli = counted[rule] if on else (0, 0)
        rows.append(
            {
                "rule": rule,
                "title": title,
                "meaning": meaning,
                "action": action,
                "enabled": on,
                "rows": count,
                "money": _money(milli),
            }
        )
    out = pd.DataFrame(rows, columns=LEDGER_COLUMNS)
    out.attrs["rows_in"] = int(parts["lines"].sum()) + int(parts["duplicate_lines"].sum())
    out.attrs["rows_out"] = total(kept, "lines") - total(kept, "removed_lines")
    return out


def split_parts(
    parts, rules: CleaningRules, *, consume: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(invoice table, ledger)`` from the rows of the cleaning statement (a DataFrame or an
    Arrow table; ``consume``: an Arrow table the caller no longer needs, freed as it is
    converted, so its ~0.8 GB at 100M lines are not held beside their pandas copy)."""
    frame = _as_frame(parts, consume)
    return invoice_table(frame), ledger(frame, rules)


#: Text columns of the product lines (categorical).
PRODUCT_TEXT = ("invoice", "stock_code", "description", "customer_id", "country", "product_type")


def product_lines(parts, *, consume: bool = False) -> pd.DataFrame:
    """The product lines from the rows of
    :func:`~dashapp.ingest.engine.pipeline.product_parts` (a DataFrame or an Arrow table, from
    any engine: a database gives object columns): one row per (invoice, stock code),
    ``revenue`` in the currency unit, ``units`` int64, text columns categorical, sorted by
    date, invoice and stock code (a unique order, the same on every engine). ``consume`` as
    in :func:`split_parts`."""
    frame = _integers(parts, ("units", "money_milli"), consume)
    missing = [c for c in PRODUCT_COLUMNS if c not in frame.columns]
    if missing:  # a programming error, never user input
        raise ValueError(f"product lines lack columns {missing}")
    out = pd.DataFrame(
        {
            **{c: frame[c].to_numpy(dtype=object) for c in PRODUCT_TEXT},
            "invoice_date": pd.to_datetime(frame["invoice_date"]).to_numpy("datetime64[ns]"),
            "is_cancellation": frame["is_cancellation"].to_numpy(dtype=bool),
            "units": frame["units"].to_numpy(dtype=np.int64),
            "revenue": frame["money_milli"].to_numpy(dtype=np.int64) / MILLI,
        }
    )
    out = out.sort_values(["invoice_date", "invoice", "stock_code"], kind="stable")
    for col in PRODUCT_TEXT:
        out[col] = pd.Categorical(out[col].where(out[col].notna(), None))
    columns = [c for c in PRODUCT_COLUMNS if c != "money_milli"] + ["revenue"]
    return out[columns].reset_index(drop=True)


#: The metadata key of a result table (:func:`result_table`) that holds the ledger.
RESULT_META_KEY = b"dashapp.prepared"


def result_table(orders: pd.DataFrame, ledger: pd.DataFrame, **meta) -> pa.Table:
    """The invoice table as Arrow, with the ledger, its ``attrs`` and ``meta`` in the
    schema's metadata (under :data:`RESULT_META_KEY`, as JSON; no pandas metadata:
    :func:`result_of` types the columns from Arrow alone)."""
    table = pa.Table.from_pandas(orders, preserve_index=False)
    info = {
        **meta,
        "ledger": ledger.to_dict(orient="list"),
        "attrs": {k: int(v) for k, v in ledger.attrs.items()},
    }
    return table.replace_schema_metadata({RESULT_META_KEY: json.dumps(info).encode()})


def result_meta(table: pa.Table) -> dict:
    """The metadata of a :func:`result_table` (KeyError or ValueError when it has none)."""
    return json.loads((table.schema.metadata or {})[RESULT_META_KEY])


def result_of(table: pa.Table) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(invoice table, ledger)`` of a :func:`result_table` (a stored one whose ``invoice``
    is still a dictionary, as written before it became plain text, is decoded)."""
    meta = result_meta(table)
    i = table.schema.get_field_index("invoice")
    if i >= 0 and pa.types.is_dictionary(table.schema.field(i).type):
        table = table.set_column(i, "invoice", table.column(i).cast(pa.string()))
    orders = table.replace_schema_metadata(None).to_pandas()
    ledger = pd.DataFrame(meta["ledger"])
    ledger.attrs.update(meta["attrs"])
    return orders, ledger


def prepared_table(parts, kind: str, rules: CleaningRules) -> pa.Table:
    """The rows of the statement of ``kind`` (:data:`ORDERS`: :func:`split_parts` as a
    :func:`result_table`; :data:`PRODUCTS`: :func:`product_lines`) as one Arrow table, the
    form a child process sends (the worker reads it with :func:`result_of`, or ``to_pandas``
    for the product lines). An Arrow ``parts`` is consumed (freed as it is converted)."""
    if kind == PRODUCTS:
        return pa.Table.from_pandas(product_lines(parts, consume=True), preserve_index=False)
    orders, ledger = split_parts(parts, rules, consume=True)
    return result_table(orders, ledger)
