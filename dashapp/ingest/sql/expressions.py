"""SQL building blocks of the SQL source (SQLAlchemy Core only; portable across dialects):
source columns as normalised text and numbers, ``TRIM`` of digits and its dialect compilations,
the customer, month and day keys, and :func:`_stack` / :func:`_split`, which run several small
SELECTs as one statement and split its rows again.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles

from dashapp.ingest import cleaning

_NULL_TOKENS = ("nan", "none", "null", "na", "n/a", "#n/a", "-")


def _py(ts: pd.Timestamp):
    return pd.Timestamp(ts).to_pydatetime()


class _StripDigits(sa.sql.functions.GenericFunction):
    """``expr`` without leading and trailing digits: ``TRIM(expr, '0123456789')``, spelled
    ``BTRIM`` where ``TRIM`` takes no character set (Databricks / Spark SQL)."""

    type = sa.String()
    name = "strip_digits"
    inherit_cache = True


@compiles(_StripDigits)
def _strip_digits_default(element, compiler, **kw):
    return f"TRIM({compiler.process(element.clauses, **kw)}, '0123456789')"


@compiles(_StripDigits, "databricks")
def _strip_digits_spark(element, compiler, **kw):  # pragma: no cover - not installed here
    return f"BTRIM({compiler.process(element.clauses, **kw)}, '0123456789')"


def _strip_digits(expr):
    return _StripDigits(expr)


def _text(
    col: sa.Column | None,
    *,
    upper: bool = False,
    float_suffix: bool = False,
    null_tokens: bool = False,
):
    """A source column as normalised text (None -> typed NULL), like the loader's labels."""
    if col is None:
        return sa.cast(sa.null(), sa.String)
    t = col.type
    if isinstance(t, sa.Integer):
        return sa.cast(col, sa.String)
    if isinstance(t, (sa.Numeric, sa.Float)):  # 13085.0 -> '13085'
        return sa.cast(sa.cast(col, sa.BigInteger), sa.String)
    expr = col if isinstance(t, sa.String) else sa.cast(col, sa.String)
    expr = sa.func.nullif(sa.func.trim(expr), "")
    if float_suffix:  # '13085.0' -> '13085'
        expr = sa.case(
            (
                sa.and_(expr.like("%.0"), _strip_digits(expr) == "."),
                sa.func.substr(expr, 1, sa.func.length(expr) - 2),
            ),
            else_=expr,
        )
    if null_tokens:
        expr = sa.case((sa.func.lower(expr).in_(_NULL_TOKENS), sa.null()), else_=expr)
    if upper:
        expr = sa.func.upper(expr)
    return sa.type_coerce(expr, sa.String)


def _customer_key(col: sa.Column | None):
    """The customer id as the database can compare it fastest: a numeric column stays a number
    (``13085.0`` -> 13085; the app turns it into ``'13085'``), a text column is normalised
    like the loader does (trimmed, ``'13085.0'`` -> ``'13085'``, ``nan``/``null``/... missing).
    """
    if col is not None and isinstance(col.type, sa.Integer):
        return col
    if col is not None and isinstance(col.type, (sa.Numeric, sa.Float)):
        return sa.cast(col, sa.BigInteger)
    return _text(col, float_suffix=True, null_tokens=True)


def _gift_voucher(stock):
    """``GIFT_\\d+_\\d+`` (full match, stock already upper-cased) without regular expressions:
    after ``GIFT_``, trimming digits off both ends leaves exactly ``_``, which is neither the
    first nor the last character."""
    if cleaning.NON_PRODUCT_PATTERNS != (r"GIFT_\d+_\d+",):  # pragma: no cover - guard
        raise NotImplementedError(
            "sql_source translates cleaning.NON_PRODUCT_PATTERNS by hand; "
            "update _gift_voucher for the new patterns."
        )
    rest = sa.func.substr(stock, 6)
    return sa.and_(
        sa.func.substr(stock, 1, 5) == "GIFT_",
        _strip_digits(rest) == "_",
        sa.func.substr(rest, 1, 1) != "_",
        sa.func.substr(rest, sa.func.length(rest), 1) != "_",
    )


def _month_key(ts):
    """year * 12 + month - 1 (an integer per calendar month)."""
    return (
        sa.cast(sa.extract("year", ts), sa.Integer) * 12
        + sa.cast(sa.extract("month", ts), sa.Integer)
        - 1
    )


def _day_key(ts):
    """yyyymmdd as an integer (a calendar day)."""
    return (
        sa.cast(sa.extract("year", ts), sa.Integer) * 10000
        + sa.cast(sa.extract("month", ts), sa.Integer) * 100
        + sa.cast(sa.extract("day", ts), sa.Integer)
    )


def _day_int(ts: pd.Timestamp) -> int:
    return ts.year * 10000 + ts.month * 100 + ts.day


def _int(col):
    return col if isinstance(col.type, sa.Integer) else sa.cast(col, sa.Integer)


def _float(col):
    return col if isinstance(col.type, sa.Float) else sa.cast(col, sa.Float)


def _stack(parts: Mapping[str, sa.Select]) -> tuple[sa.Select | sa.CompoundSelect, dict]:
    """One statement from several small SELECTs, so that the shared CTEs (the cleaning pass)
    are computed once: ``UNION ALL`` with a ``part`` column. Columns of the same type share
    slots (``Integer_0``, ``DateTime_1`` ...) padded with typed NULLs. Returns the statement and
    the layout ``{part: [(slot, column name)]}`` for :func:`_split`."""
    subs = {name: sel.subquery(f"p_{name}") for name, sel in parts.items()}
    slots: dict[str, sa.types.TypeEngine] = {}
    layout: dict[str, list[tuple[str, str]]] = {}
    for name, sub in subs.items():
        seen: dict[str, int] = {}
        layout[name] = []
        for c in sub.c:
            family = type(c.type).__name__
            slot = f"{family}_{seen.get(family, 0)}"
            seen[family] = seen.get(family, 0) + 1
            slots.setdefault(slot, c.type)
            layout[name].append((slot, c.name))
    selects = []
    for i, (name, sub) in enumerate(subs.items()):
        mine = {slot: col for slot, col in layout[name]}
        cols = [sa.literal(i, sa.Integer).label("part")]
        for slot, typ in slots.items():
            if slot in mine:
                cols.append(sub.c[mine[slot]].label(slot))
            elif isinstance(typ, sa.types.NullType):
                cols.append(sa.null().label(slot))
            else:
                cols.append(sa.cast(sa.null(), typ).label(slot))
        selects.append(sa.select(*cols).select_from(sub))
    stmt = selects[0] if len(selects) == 1 else sa.union_all(*selects)
    return stmt, layout


def _split(
    frame: pd.DataFrame, layout: Mapping[str, list[tuple[str, str]]]
) -> dict[str, pd.DataFrame]:
    """The rows of each part of a :func:`_stack` statement, with the part's column names."""
    out = {}
    for i, (name, cols) in enumerate(layout.items()):
        rows = frame.loc[frame["part"] == i, [slot for slot, _ in cols]]
        out[name] = (
            rows.set_axis([col for _, col in cols], axis=1).reset_index(drop=True).infer_objects()
        )
    return out
