"""Order lines of a database or Spark table as the canonical lines the cleaning reads.

:func:`canonical` maps the source's columns (any names, any reasonable types) to
:data:`~dashapp.ingest.engine.pipeline.LINE_SCHEMA` with the loader's normalisation, written
once as ibis expressions so every engine applies it the same way: text trimmed and empty text
missing; stock codes upper-cased; customer ids ``13085.0`` read as ``13085`` and the tokens
``nan``, ``null``, ``n/a``... missing; a missing country ``Unknown``.
"""

from __future__ import annotations

from collections.abc import Mapping

import ibis
import ibis.expr.datatypes as dt

from dashapp.ingest import schema
from dashapp.ingest.engine.pipeline import LINE_SCHEMA

#: Text the loader reads as a missing customer id (see ``loading.convert``).
NULL_TOKENS = ("nan", "none", "null", "na", "n/a", "#n/a", "-")


def sqlalchemy_type(column) -> dt.DataType:
    """The ibis type of a reflected SQLAlchemy column (only the kinds the app reads)."""
    import sqlalchemy as sa

    t = column.type
    if isinstance(t, sa.Boolean):
        return dt.boolean
    if isinstance(t, sa.Integer):
        return dt.int64
    if isinstance(t, sa.Float):
        return dt.float64
    if isinstance(t, sa.Numeric):
        precision = t.precision or 38
        return dt.Decimal(precision, t.scale or 0) if t.scale is not None else dt.float64
    if isinstance(t, sa.DateTime):
        return dt.timestamp
    if isinstance(t, sa.Date):
        return dt.date
    return dt.string


def _text(value: ibis.Value | None, *, upper=False, float_suffix=False, null_tokens=False):
    if value is None:
        return ibis.null(dt.string)
    if value.type().is_integer():
        return value.cast("string")
    if value.type().is_numeric():  # 13085.0 -> '13085'
        return value.cast("int64").cast("string")
    text = value.cast("string").strip()
    text = ibis.ifelse(text == "", ibis.null(dt.string), text)
    if float_suffix:  # '13085.0' -> '13085'
        head = text.left(text.length() - 2)
        text = ibis.ifelse(text.re_search(r"^[0-9]+\.0$"), head, text)
    if null_tokens:
        text = ibis.ifelse(text.lower().isin(NULL_TOKENS), ibis.null(dt.string), text)
    if upper:
        text = text.upper()
    return text


def canonical(table: ibis.Table, columns: Mapping[str, str]) -> ibis.Table:
    """``table``'s lines as canonical lines; ``columns`` maps canonical names to the table's
    column names (the optional ones may be absent)."""

    def col(name: str) -> ibis.Value | None:
        source = columns.get(name)
        return table[source] if source else None

    invoice_date = col(schema.INVOICE_DATE)
    country = _text(col(schema.COUNTRY))
    default_country = schema.SPECS[schema.COUNTRY].default
    out = table.select(
        invoice=_text(col(schema.INVOICE), float_suffix=True),
        stock_code=_text(col(schema.STOCK_CODE), upper=True),
        description=_text(col(schema.DESCRIPTION)),
        quantity=col(schema.QUANTITY).cast("int64"),
        invoice_date=invoice_date.cast("timestamp"),
        price=col(schema.PRICE).cast("float64"),
        customer_id=_text(col(schema.CUSTOMER_ID), float_suffix=True, null_tokens=True),
        country=country.fill_null(default_country),
    )
    return out.cast(LINE_SCHEMA)
