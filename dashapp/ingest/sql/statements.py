"""The SQL statements of the SQL source: :class:`_Query` (the cleaning rules and the invoice
table as CTEs over the normalised table, and the cleaning ledger's counts) and the small
per-page SELECTs over the filtered orders (overview, RFM inputs, BG/NBD calibration summary,
cohort cells). :func:`~dashapp.ingest.sql.expressions._stack` runs several of them as one
statement; :mod:`dashapp.ingest.sql.frames` turns their rows into frames.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import sqlalchemy as sa

from dashapp.ingest import cleaning, schema
from dashapp.ingest.sql.expressions import (
    _customer_key,
    _day_int,
    _day_key,
    _float,
    _gift_voucher,
    _int,
    _month_key,
    _py,
    _text,
)

if TYPE_CHECKING:
    from dashapp.ingest.sql.source import SqlSource


#: Optional extra canonical column: the source row order (used only to break ties, see module
#: docstring).
LINE_NUMBER = "line_number"
# Fates of a line (first enabled rule that removes it); 0 = kept.
_FATES = {
    "bad_debt": 1,
    "non_product": 2,
    "non_positive_price": 3,
    "write_offs": 4,
    "cancellations_dropped": 5,
}


# --------------------------------------------------------------------------------------------
# The cleaning pipeline: normalised lines -> ledger counts and invoice table (CTEs)
# --------------------------------------------------------------------------------------------


class _Query:
    """The cleaning pipeline of one source and rule set, streaming over the table:

    ``src`` (normalised columns). With netted cancellations, the (customer, stock code) pairs
    that have a kept return line (CTE ``pairs``, from the return lines only) split the table:
    lines of other pairs need no running balance, lines of those pairs (a few %) go through the
    windows. Each branch: ``GROUP BY`` all columns (exact duplicates) -> fate of each line
    (first enabled rule that removes it) -> for the returns branch the running balance windows
    per customer and stock code. Both feed CTE ``parts`` (one row per invoice, fate and
    missing-customer flag, with everything the ledger needs) and CTE ``orders``
    (``cleaning.invoice_table``). Results are SELECTs over ``parts`` and ``orders``.
    """

    def __init__(self, src: SqlSource, rules: cleaning.CleaningRules) -> None:
        self.src = src
        self.rules = rules
        c = src.columns
        line_no = c.get(LINE_NUMBER)
        cols = [
            _customer_key(c.get(schema.CUSTOMER_ID)).label("customer_id"),
            _text(c.get(schema.STOCK_CODE), upper=True).label("stock_code"),
            c[schema.INVOICE_DATE].label("invoice_date"),
            _text(c.get(schema.INVOICE), float_suffix=True).label("invoice"),
            _int(c[schema.QUANTITY]).label("quantity"),
            _float(c[schema.PRICE]).label("price"),
            _text(c.get(schema.DESCRIPTION)).label("description"),
            (
                sa.func.coalesce(_text(c[schema.COUNTRY]), schema.SPECS[schema.COUNTRY].default)
                if schema.COUNTRY in c
                else sa.literal(schema.SPECS[schema.COUNTRY].default, sa.String)
            ).label("country"),
        ]
        if line_no is not None:
            cols.append(line_no.label("line_no"))
        norm = sa.select(*cols).select_from(src._table).subquery("src")
        self.has_line_no = line_no is not None
        if not rules.net_cancellations:
            lines = self._lines(norm, windows=False)
        else:
            # Only the (customer, stock code) pairs with a kept return need the running balance
            # windows (a few % of the lines): split the table in two branches by pair.
            pstock = sa.func.coalesce(norm.c.stock_code, "")
            pairs = (
                sa.select(norm.c.customer_id.label("cid"), pstock.label("sid"))
                .where(
                    norm.c.customer_id.is_not(None),
                    norm.c.quantity < 0,
                    self._is_cancel(norm),
                    self._fate(norm) == 0,
                )
                .distinct()
                .cte("pairs")
            )
            on = sa.and_(norm.c.customer_id == pairs.c.cid, pstock == pairs.c.sid)
            plain = (
                sa.select(norm)
                .select_from(norm.outerjoin(pairs, on))
                .where(pairs.c.cid.is_(None))
                .subquery("src_plain")
            )
            returned = sa.select(norm).select_from(norm.join(pairs, on)).subquery("src_ret")
            lines = sa.union_all(
                sa.select(self._lines(plain, windows=False)),
                sa.select(self._lines(returned, windows=True)),
            ).subquery("um")
        self.parts = self._parts(lines)
        self.orders = self._orders()

    @staticmethod
    def _is_cancel(t):
        return sa.func.upper(sa.func.substr(t.c.invoice, 1, 1)) == "C"

    def _fate(self, t):
        """The first enabled rule that removes the line (``_FATES``), 0 = kept."""
        rules = self.rules
        first = sa.func.upper(sa.func.substr(t.c.invoice, 1, 1))
        is_cancel = self._is_cancel(t)
        whens = []
        if rules.drop_bad_debt:
            whens.append((first == "A", _FATES["bad_debt"]))
        if rules.drop_non_product:
            wanted = sorted({code.strip().upper() for code in rules.non_product_codes})
            whens.append(
                (
                    sa.or_(t.c.stock_code.in_(wanted), _gift_voucher(t.c.stock_code)),
                    _FATES["non_product"],
                )
            )
        if rules.drop_non_positive_price:
            whens.append((t.c.price <= 0, _FATES["non_positive_price"]))
        if rules.drop_write_offs:
            whens.append((sa.and_(t.c.quantity < 0, sa.not_(is_cancel)), _FATES["write_offs"]))
        if not rules.net_cancellations:
            whens.append((is_cancel, _FATES["cancellations_dropped"]))
        return sa.case(*whens, else_=0) if whens else sa.literal(0, sa.Integer)

    def _lines(self, inp, *, windows: bool):
        """Deduplicated lines of ``inp`` with their fate, line total and unmatched units."""
        keys = [
            inp.c[n]
            for n in (
                "customer_id",
                "stock_code",
                "invoice_date",
                "invoice",
                "quantity",
                "price",
                "description",
                "country",
            )
        ]
        if self.rules.drop_duplicates:
            extra = [sa.func.min(inp.c.line_no).label("line_no")] if self.has_line_no else []
            copies = sa.cast(sa.func.count(), sa.Integer)  # sum(int) is cheaper than numeric
            base = sa.select(*keys, copies.label("copies"), *extra).group_by(*keys)
        else:
            extra = [inp.c.line_no] if self.has_line_no else []
            base = sa.select(*keys, sa.literal(1, sa.Integer).label("copies"), *extra)
        b = base.subquery()
        # narrow rows from here on (the description only matters for duplicates)
        fl = sa.select(
            *(col for col in b.c if col.name != "description"),
            (b.c.quantity * b.c.price).label("line_total"),
            sa.case((self._is_cancel(b), 1), else_=0).label("is_cancel"),
            self._fate(b).label("fate"),
        ).subquery()
        if not windows:
            return sa.select(fl, sa.literal(0, sa.Integer).label("unmatched")).subquery()
        return self._unmatched(fl, self.has_line_no)

    @staticmethod
    def _unmatched(fl, has_line_no: bool):
        """``cleaning._unmatched_return_units`` as windows: per (customer, stock code), in time
        order with purchases before returns at equal timestamps, the running excess of returned
        over bought units (window 1) and its maximum over the earlier lines (window 2); a return
        line's unmatched units are the increase of the running maximum floored at 0. Only kept
        lines of known customers count."""
        kept = sa.and_(fl.c.fate == 0, fl.c.customer_id.is_not(None))
        is_ret = sa.and_(kept, fl.c.is_cancel == 1, fl.c.quantity < 0)
        rel = sa.select(
            fl,
            sa.case((is_ret, 1), else_=0).label("is_ret"),
            sa.case(
                (is_ret, -fl.c.quantity),
                (sa.and_(kept, fl.c.quantity > 0), -fl.c.quantity),
                else_=0,
            ).label("bal"),
        ).subquery("rel")

        def window(t):
            ties = [t.c.line_no] if has_line_no else [t.c.invoice, t.c.price, t.c.quantity]
            return dict(
                partition_by=[t.c.customer_id, t.c.stock_code],
                order_by=[t.c.invoice_date, t.c.is_ret, *ties],
            )

        w1 = sa.select(
            rel, sa.func.sum(rel.c.bal).over(**window(rel), rows=(None, 0)).label("excess")
        ).subquery("w1")
        w2 = sa.select(
            w1, sa.func.max(w1.c.excess).over(**window(w1), rows=(None, -1)).label("pm")
        ).subquery("w2")
        # increase of the floored running maximum: max(0, excess - max(0, previous maximum))
        floor_pm = sa.case((w2.c.pm > 0, w2.c.pm), else_=0)
        unmatched = sa.case(
            (sa.and_(w2.c.is_ret == 1, w2.c.excess > floor_pm), w2.c.excess - floor_pm), else_=0
        )
        return sa.select(*(w2.c[c.name] for c in fl.c), unmatched.label("unmatched")).subquery()

    @staticmethod
    def _parts(li):
        """One row per (invoice, fate, missing customer) with the ledger's counts and money
        and the invoice's net revenue and line count after the unmatched-return rule."""
        touched = li.c.unmatched > 0
        full = sa.and_(touched, li.c.unmatched >= -li.c.quantity)
        nocust = sa.case((li.c.customer_id.is_(None), 1), else_=0)
        return (
            sa.select(
                li.c.invoice,
                li.c.fate,
                nocust.label("nocust"),
                sa.func.max(li.c.is_cancel).label("is_cancel"),
                sa.func.min(li.c.customer_id).label("customer_id"),
                sa.func.min(li.c.invoice_date).label("invoice_date"),
                sa.func.min(li.c.country).label("country"),
                sa.func.count().label("n"),
                sa.func.sum(li.c.copies).label("copies"),
                sa.func.sum(li.c.line_total).label("money"),
                sa.func.sum((li.c.copies - 1) * li.c.line_total).label("dup_money"),
                sa.func.sum(li.c.line_total + li.c.unmatched * li.c.price).label("revenue"),
                sa.func.count(sa.case((sa.not_(full), 1))).label("lines"),
                sa.func.count(sa.case((touched, 1))).label("touched"),
                sa.func.sum(-li.c.unmatched * li.c.price).label("unmatched_money"),
                sa.func.count(sa.case((full, 1))).label("full"),
            )
            .group_by(li.c.invoice, li.c.fate, nocust)
            .cte("parts")
        )

    def _orders(self):
        """``cleaning.invoice_table`` in SQL: the kept parts of each invoice."""
        p = self.parts
        return (
            sa.select(
                p.c.invoice,
                sa.func.min(p.c.customer_id).label("customer_id"),
                sa.func.min(p.c.invoice_date).label("invoice_date"),
                sa.func.min(p.c.country).label("country"),
                sa.func.max(p.c.is_cancel).label("is_cancel"),
                sa.func.sum(p.c.revenue).label("revenue"),
                sa.func.sum(p.c.lines).label("lines"),
            )
            .where(p.c.fate == 0)
            .group_by(p.c.invoice)
            .having(sa.func.sum(p.c.lines) > 0)
            .cte("orders")
        )

    def filtered(self, start=None, end=None, countries=None):
        """The orders within an inclusive day range and countries (``filter_transactions``)."""
        o = self.orders
        conds = []
        if start is not None and start != "":
            conds.append(o.c.invoice_date >= _py(pd.Timestamp(start).normalize()))
        if end is not None and end != "":
            conds.append(
                o.c.invoice_date < _py(pd.Timestamp(end).normalize() + pd.Timedelta(days=1))
            )
        if countries:
            conds.append(o.c.country.in_(sorted({str(c) for c in countries})))
        if not conds:
            return o
        return sa.select(o).where(*conds).cte("filtered")

    def ledger_parts(self) -> dict[str, sa.Select]:
        p = self.parts
        return {
            "fate": sa.select(
                p.c.fate,
                p.c.is_cancel.label("cancel"),
                p.c.nocust,
                *(
                    sa.func.sum(p.c[name]).label(name)
                    for name in (
                        "n",
                        "copies",
                        "money",
                        "dup_money",
                        "touched",
                        "unmatched_money",
                        "full",
                    )
                ),
            ).group_by(p.c.fate, p.c.is_cancel, p.c.nocust)
        }

    def build_ledger(self, got: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
        r = self.rules
        f = got["fate"].copy()
        for col in ("n", "copies", "fate", "cancel", "nocust", "touched", "full"):
            f[col] = f[col].fillna(0).astype(np.int64)
        for col in ("money", "dup_money", "unmatched_money"):
            f[col] = f[col].fillna(0.0).astype(float)
        rows: list[dict] = []

        def record(rule, enabled, count=0, money=0.0):
            title, meaning, action = cleaning.RULE_INFO[rule]
            rows.append(
                {
                    "rule": rule,
                    "title": title,
                    "meaning": meaning,
                    "action": action,
                    "enabled": enabled,
                    "rows": int(count),
                    "money": round(float(money), 2),
                }
            )

        def by_fate(rule):
            sel = f[f["fate"] == _FATES[rule]]
            return sel["n"].sum(), sel["money"].sum()

        if r.drop_duplicates:
            record("duplicates", True, f["copies"].sum() - f["n"].sum(), f["dup_money"].sum())
        else:
            record("duplicates", False)
        for rule, on in (
            ("bad_debt", r.drop_bad_debt),
            ("non_product", r.drop_non_product),
            ("non_positive_price", r.drop_non_positive_price),
            ("write_offs", r.drop_write_offs),
        ):
            if on:
                record(rule, True, *by_fate(rule))
            else:
                record(rule, False)
        kept = f[f["fate"] == 0]
        if r.net_cancellations:
            kc = kept[kept["cancel"] == 1]
            record("cancellations", True, kc["n"].sum(), kc["money"].sum())
            record("unmatched_returns", True, kept["touched"].sum(), kept["unmatched_money"].sum())
            record("cancellations_dropped", False)
        else:
            record("cancellations", False)
            record("unmatched_returns", False)
            record("cancellations_dropped", True, *by_fate("cancellations_dropped"))
        nocust = kept[kept["nocust"] == 1]
        record("missing_customer", True, nocust["n"].sum(), nocust["money"].sum())
        ledger = pd.DataFrame(rows, columns=cleaning.LEDGER_COLUMNS)
        ledger.attrs["rows_in"] = int(f["copies"].sum())
        ledger.attrs["rows_out"] = int(kept["n"].sum() - kept["full"].sum())
        return ledger


# --------------------------------------------------------------------------------------------
# Page results: the small SELECTs over the filtered orders
# --------------------------------------------------------------------------------------------


def _overview_parts(q: _Query, fo) -> dict[str, sa.Select]:
    month = _month_key(fo.c.invoice_date)
    purchase = fo.c.is_cancel == 0
    known = fo.c.customer_id.is_not(None)
    per_cust = (
        sa.select(fo.c.customer_id, sa.func.count().label("n"))
        .where(purchase, known)
        .group_by(fo.c.customer_id)
        .subquery("per_cust")
    )
    return {
        "month": sa.select(
            month.label("month"),
            sa.func.sum(fo.c.revenue).label("revenue"),
            sa.func.sum(sa.case((known, fo.c.revenue), else_=0.0)).label("customer_revenue"),
            sa.func.count(sa.case((purchase, 1))).label("orders"),
            sa.func.count(sa.distinct(sa.case((sa.and_(known, purchase), fo.c.customer_id)))).label(
                "customers"
            ),
            sa.func.sum(sa.case((purchase, fo.c.revenue), else_=0.0)).label("purchase_revenue"),
            sa.func.sum(sa.case((known, 0.0), else_=fo.c.revenue)).label("unknown_revenue"),
        ).group_by(month),
        "buyers": sa.select(
            sa.func.count().label("buyers"),
            sa.func.count(sa.case((per_cust.c.n >= 2, 1))).label("repeat"),
        ),
        "all": sa.select(
            sa.func.min(q.orders.c.invoice_date).label("first"),
            sa.func.max(q.orders.c.invoice_date).label("last"),
        ),
    }


def _rfm_parts(fo) -> dict[str, sa.Select]:
    purchase = fo.c.is_cancel == 0
    return {
        "rfm": sa.select(
            fo.c.customer_id,
            sa.func.count(sa.case((purchase, 1))).label("frequency"),
            sa.func.sum(fo.c.revenue).label("monetary"),
            sa.func.min(sa.case((purchase, fo.c.invoice_date))).label("first"),
            sa.func.max(sa.case((purchase, fo.c.invoice_date))).label("last"),
        )
        .where(fo.c.customer_id.is_not(None))
        .group_by(fo.c.customer_id),
        "rfm_max": sa.select(sa.func.max(fo.c.invoice_date).label("max_ts")),
    }


@dataclass(frozen=True)
class _CalibrationWindow:
    cal: pd.Timestamp
    obs: pd.Timestamp | None
    unit: float  # days per time unit of the durations (7.0 = weeks)

    @classmethod
    def build(cls, calibration_end, observation_end, time_unit_days: float) -> _CalibrationWindow:
        if (
            isinstance(time_unit_days, bool)
            or not isinstance(time_unit_days, numbers.Real)
            or not math.isfinite(time_unit_days)
            or time_unit_days <= 0
        ):
            raise ValueError(
                "time_unit_days must be a positive number of days (7.0 for weeks), "
                f"got {time_unit_days!r}"
            )
        cal = pd.Timestamp(calibration_end).normalize()
        obs = None if observation_end is None else pd.Timestamp(observation_end).normalize()
        if obs is not None and obs < cal:
            raise ValueError("observation_end must not be before calibration_end")
        return cls(cal, obs, float(time_unit_days))


def _calibration_parts(fo, w: _CalibrationWindow) -> dict[str, sa.Select]:
    last = w.cal if w.obs is None else w.obs
    day = _day_key(fo.c.invoice_date)
    days = (
        sa.select(fo.c.customer_id, day.label("day"), sa.func.sum(fo.c.revenue).label("total"))
        .where(
            fo.c.is_cancel == 0,
            fo.c.customer_id.is_not(None),
            fo.c.invoice_date < _py(last + pd.Timedelta(days=1)),
        )
        .group_by(fo.c.customer_id, day)
        .subquery("days")
    )
    cd = sa.select(
        days, sa.func.min(days.c.day).over(partition_by=days.c.customer_id).label("first_day")
    ).subquery("cd")
    in_cal = cd.c.day <= _day_int(w.cal)
    return {
        "calibration": sa.select(
            cd.c.customer_id,
            sa.func.count(sa.case((in_cal, 1))).label("n_days"),
            sa.func.min(cd.c.day).label("first"),
            sa.func.max(sa.case((in_cal, cd.c.day))).label("last"),
            sa.func.sum(
                sa.case((sa.and_(in_cal, cd.c.day != cd.c.first_day), cd.c.total), else_=0.0)
            ).label("repeat_total"),
            sa.func.count(sa.case((sa.not_(in_cal), 1))).label("h_days"),
            sa.func.sum(sa.case((sa.not_(in_cal), cd.c.total), else_=0.0)).label("h_revenue"),
        )
        .group_by(cd.c.customer_id)
        .having(sa.func.count(sa.case((in_cal, 1))) > 0)
    }


def _cohort_parts(fo) -> dict[str, sa.Select]:
    month = _month_key(fo.c.invoice_date)
    purchase = fo.c.is_cancel == 0
    first = (
        sa.select(fo.c.customer_id, sa.func.min(month).label("cohort"))
        .where(purchase, fo.c.customer_id.is_not(None))
        .group_by(fo.c.customer_id)
        .subquery("first")
    )
    k = month - first.c.cohort
    return {
        "cohort_cell": sa.select(
            first.c.cohort,
            k.label("k"),
            sa.func.count(sa.distinct(sa.case((purchase, fo.c.customer_id)))).label("active"),
            sa.func.sum(fo.c.revenue).label("revenue"),
        )
        .select_from(fo.join(first, fo.c.customer_id == first.c.customer_id))
        .where(month >= first.c.cohort)
        .group_by(first.c.cohort, k),
        "cohort_size": sa.select(first.c.cohort, sa.func.count().label("customers")).group_by(
            first.c.cohort
        ),
        "cohort_range": sa.select(
            sa.func.min(fo.c.invoice_date).label("first"),
            sa.func.max(fo.c.invoice_date).label("last"),
        ),
    }
