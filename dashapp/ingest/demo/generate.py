"""Synthetic demo transactions in the raw UCI "Online Retail II" layout.

Pure module (numpy, pandas; no dash / flask). The demo goes through the same loader and
cleaning path as a real file, so it carries the real dataset's quirks:

* ``C`` cancellation invoices: negative quantities copying lines of an earlier purchase of the
  same customer (full or partial), a few days later;
* about 20% of lines without ``Customer ID`` (large "dotcom" baskets with a DOT postage line);
* non-product stock codes: POST, DOT, M, C2, D, BANK CHARGES, AMAZONFEE, ADJUST, CRUK, PADS, ...;
* ``A`` "Adjust bad debt" invoices (stock code B, negative price, no customer);
* zero prices, stock write-offs (negative quantity on a non-C invoice, no customer, price 0,
  descriptions such as "damaged" or missing), exact duplicate lines;
* seasonality with a November peak, no Saturday trading, Christmas closures,
  2009-12-01 .. 2011-12-09 12:50;
* heavy-tailed purchase frequency (about 28% one-time buyers, the busiest customer 150
  invoices) and spend; 40 countries, about 90% of lines from the United Kingdom.

All of it is vectorised numpy: 6,000 customers (~300k lines) take well under a second.

``generate_demo_transactions`` runs the steps below in a fixed order on one random generator.
Every step's draws (their number, order and arguments) are part of the output: moving a draw
from one step to another, or reordering the steps, changes the data and requires bumping
``DEMO_VERSION``. Line arrays hold catalogue indices (products, then ``SPECIAL`` codes, then
``WRITE_OFF_TEXT`` notes; -1 = missing description) until ``_assemble`` turns them into text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dashapp.ingest.demo.vocabulary import (
    ADJUST,
    AMAZON,
    BADDEBT,
    BANK,
    C2,
    COUNTRIES,
    CRUK,
    DISCOUNT,
    DOT,
    END,
    FIRST_CUSTOMER_ID,
    FIRST_INVOICE,
    HOUR_P,
    HOURS,
    LAST_MINUTE,
    MANUAL,
    MONTH_WEIGHT,
    PACK_P,
    PACKS,
    PADS,
    POST,
    SAMPLES,
    SPECIAL,
    START,
    TEST,
    UK,
    UK_CUSTOMER_SHARE,
    WRITE_OFF_TEXT,
    build_catalogue,
)

__all__ = ["DEMO_VERSION", "RAW_COLUMNS", "generate_demo_transactions"]

#: Bumped whenever the generator's output changes, so cached demo files are rebuilt.
DEMO_VERSION = "1"

#: Columns of the raw Online Retail II layout, in file order.
RAW_COLUMNS = (
    "Invoice",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "Price",
    "Customer ID",
    "Country",
)

#: Country names, indexed by the country codes of the generator (0 = United Kingdom).
_COUNTRY_NAMES = (UK, *(c for c, _ in COUNTRIES))


def _calendar() -> tuple[np.ndarray, np.ndarray]:
    """Days of the period and their cumulative trading intensity (for inverse-CDF sampling)."""
    days = np.arange(START, END + np.timedelta64(1, "D"))
    dow = (days.view("int64") + 3) % 7  # Monday = 0
    month = days.astype("datetime64[M]").view("int64") % 12 + 1
    md = (days - days.astype("datetime64[M]")).view("int64") + 1
    w = np.array([MONTH_WEIGHT[m] for m in range(1, 13)])[month - 1]
    w = w * np.where(dow == 6, 0.75, 1.0) * np.where(dow == 5, 0.0, 1.0)
    closed = ((month == 12) & (md >= 23)) | ((month == 1) & (md <= 3))
    w = np.where(closed, 0.0, w)
    return days, np.cumsum(w)


def _timestamps(day_idx: np.ndarray, days: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A trading time (by hour of day) on each day; the last day stops at 12:50."""
    n = len(day_idx)
    minutes = rng.choice(HOURS, size=n, p=HOUR_P / HOUR_P.sum()) * 60 + rng.integers(0, 60, n)
    last = day_idx == len(days) - 1
    minutes = np.where(last, rng.integers(8 * 60, LAST_MINUTE + 1, n), minutes)
    return days[day_idx].astype("datetime64[m]") + minutes.astype("timedelta64[m]")


def _group_rank(counts: np.ndarray) -> np.ndarray:
    """Position 0..k-1 of every element inside its group, for groups laid out by np.repeat."""
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    return np.arange(int(counts.sum())) - starts


@dataclass
class _Setting:
    """What every step shares: the random generator, the trading calendar and the catalogue."""

    rng: np.random.Generator
    days: np.ndarray
    cum: np.ndarray  # cumulative trading intensity of ``days``
    total_w: float  # cum[-1]
    n_products: int
    price: np.ndarray  # unit price of every product
    cdf: np.ndarray  # cumulative popularity of the products
    codes: list[str]  # stock codes: products, then SPECIAL codes
    descs: list[str]  # descriptions: products, then SPECIAL, then WRITE_OFF_TEXT

    @property
    def special(self) -> int:
        """Index of the first special stock code (and of its description)."""
        return self.n_products

    @property
    def write_off(self) -> int:
        """Index of the first write-off note among the descriptions."""
        return self.n_products + len(SPECIAL)

    def day_of(self, u: np.ndarray) -> np.ndarray:
        return np.minimum(np.searchsorted(self.cum, u, side="right"), len(self.days) - 1)

    def products(self, k: int) -> np.ndarray:
        return np.minimum(np.searchsorted(self.cdf, self.rng.random(k)), self.n_products - 1)

    def random_times(self, k: int) -> np.ndarray:
        """``k`` timestamps spread over the whole period by trading intensity."""
        return _timestamps(self.day_of(self.rng.random(k) * self.total_w), self.days, self.rng)


def _setting(rng: np.random.Generator, n_customers: int) -> _Setting:
    """Calendar, then the catalogue: products then special codes; descriptions add write-off
    notes."""
    days, cum = _calendar()
    n_products = int(np.clip(n_customers * 0.5, 200, 4000))
    p_codes, p_desc, p_price, p_cdf = build_catalogue(rng, n_products)
    return _Setting(
        rng=rng,
        days=days,
        cum=cum,
        total_w=float(cum[-1]),
        n_products=n_products,
        price=p_price,
        cdf=p_cdf,
        codes=p_codes + [c for c, _ in SPECIAL],
        descs=p_desc + [d for _, d in SPECIAL] + list(WRITE_OFF_TEXT),
    )


@dataclass
class _Customers:
    """Registered customers (one entry per customer)."""

    ids: np.ndarray  # Customer ID
    country: np.ndarray  # index into _COUNTRY_NAMES
    is_uk: np.ndarray
    freq: np.ndarray  # number of purchase invoices
    basket: np.ndarray  # median lines per invoice
    pack_mult: np.ndarray  # multiplier of pack quantities
    u0: np.ndarray  # first purchase, on the cumulative trading-intensity scale
    u1: np.ndarray  # end of the purchase window, same scale


def _customers(s: _Setting, nc: int) -> _Customers:
    rng = s.rng
    ids = FIRST_CUSTOMER_ID + np.sort(rng.choice(int(nc * 1.05) + 10, size=nc, replace=False))
    cw = np.array([w for _, w in COUNTRIES], dtype=float)
    is_uk = rng.random(nc) < UK_CUSTOMER_SHARE
    cust_country = np.where(is_uk, 0, 1 + rng.choice(len(cw), size=nc, p=cw / cw.sum()))
    foreign = rng.permutation(np.flatnonzero(~is_uk))
    if len(foreign) >= 4 * len(cw):  # every country has at least one customer
        cust_country[foreign[: len(cw)]] = 1 + np.arange(len(cw))
    one_time = rng.random(nc) < 0.28
    freq = np.where(
        one_time, 1, 2 + np.floor(rng.lognormal(np.log(2.6), 1.05, nc)).astype(np.int64)
    )
    freq = np.minimum(freq, 150)
    freq[int(np.argmax(freq))] = 150
    basket = rng.lognormal(np.log(7.0), 0.55, nc)  # median lines per invoice, per customer
    pack_mult = np.maximum(1, np.round(rng.lognormal(0.0, 0.55, nc))).astype(np.int64)
    pack_mult = np.where(is_uk, pack_mult, pack_mult * 2)  # wholesale buyers abroad

    # purchase windows: first purchase by inverse CDF (early for frequent buyers), then alive
    # until the end or until a Beta-distributed share of the remaining time
    u0 = rng.beta(0.75, 1.0 + 0.15 * np.log(freq), nc) * s.total_w * 0.97
    alive = rng.random(nc) < 0.45
    span = np.where(alive, 1.0, rng.beta(1.4, 1.2, nc))
    u1 = u0 + (s.total_w - u0) * span
    return _Customers(ids, cust_country, is_uk, freq, basket, pack_mult, u0, u1)


@dataclass
class _Purchases:
    """Registered purchase invoices (``cust`` .. ``first``) and their lines (``inv`` .. ``pos``)."""

    cust: np.ndarray  # customer of each invoice
    time: np.ndarray
    n_lines: np.ndarray  # lines of each invoice
    first: np.ndarray  # index of each invoice's first line
    inv: np.ndarray  # invoice of each line
    code: np.ndarray
    desc: np.ndarray
    qty: np.ndarray
    price: np.ndarray
    pos: np.ndarray  # position of each line inside its invoice


def _purchases(s: _Setting, c: _Customers) -> _Purchases:
    """Registered purchase invoices, their lines and postage lines."""
    rng = s.rng
    inv_cust = np.repeat(np.arange(len(c.ids)), c.freq)
    rank = _group_rank(c.freq)
    u = np.where(
        rank == 0,
        c.u0[inv_cust],
        c.u0[inv_cust] + rng.random(len(inv_cust)) * (c.u1 - c.u0)[inv_cust],
    )
    p_time = _timestamps(s.day_of(u), s.days, rng)
    n_p = len(inv_cust)
    lines_p = np.clip(np.round(rng.lognormal(np.log(c.basket[inv_cust]), 0.6)), 1, 250).astype(
        np.int64
    )

    # line level
    l_inv = np.repeat(np.arange(n_p), lines_p)
    l_cust = inv_cust[l_inv]
    nl = len(l_inv)
    l_item = s.products(nl)
    l_code = l_item.copy()
    l_desc = l_item.copy()
    l_qty = rng.choice(PACKS, size=nl, p=PACK_P / PACK_P.sum()) * c.pack_mult[l_cust]
    l_price = s.price[l_item] * np.where(l_qty >= 100, 0.85, 1.0)
    l_price = np.round(l_price, 2)
    pos = _group_rank(lines_p)
    # foreign customers pay postage on 2 invoices out of 3: the first line becomes POST
    first = np.cumsum(lines_p) - lines_p
    post = (~c.is_uk[inv_cust]) & (rng.random(n_p) < 0.66)
    pl = first[post]
    l_code[pl] = s.special + POST
    l_desc[pl] = s.special + POST
    l_qty[pl] = rng.integers(1, 4, len(pl))
    l_price[pl] = np.where(rng.random(len(pl)) < 0.7, 18.0, 15.0)
    return _Purchases(inv_cust, p_time, lines_p, first, l_inv, l_code, l_desc, l_qty, l_price, pos)


def _odd_purchase_lines(s: _Setting, p: _Purchases) -> None:
    """Manual, carriage and sample lines, zero prices and exact duplicates, in place."""
    rng = s.rng
    nl = len(p.inv)
    # a few manual lines, carriage and samples
    for code, share, lo, hi in (
        (MANUAL, 0.004, 0.5, 60.0),
        (C2, 0.002, 50.0, 50.0),
        (PADS, 0.0005, 0.001, 0.001),
        (SAMPLES, 0.0003, 5.0, 40.0),
    ):
        m = np.flatnonzero((p.pos > 0) & (rng.random(nl) < share))
        p.code[m] = s.special + code
        p.desc[m] = s.special + code
        p.qty[m] = 1
        p.price[m] = np.round(rng.uniform(lo, hi, len(m)), 3 if lo < 0.01 else 2)
    # zero prices (free items)
    z = rng.random(nl) < 0.001
    p.price[z] = 0.0
    # exact duplicate lines (the previous line of the same invoice, repeated)
    dup = np.flatnonzero((p.pos > 0) & (rng.random(nl) < 0.012))
    p.code[dup], p.desc[dup] = p.code[dup - 1], p.desc[dup - 1]
    p.qty[dup], p.price[dup] = p.qty[dup - 1], p.price[dup - 1]


@dataclass
class _Ledger:
    """Invoices gathered by the steps: per batch, one array entry per invoice in ``time`` ..
    ``country`` and an (invoice, code, description, quantity, price) tuple of line arrays."""

    time: list[np.ndarray] = field(default_factory=list)
    kind: list[np.ndarray] = field(default_factory=list)  # 0 purchase, 1 cancel, 2 bad debt
    customer: list[np.ndarray] = field(default_factory=list)  # Customer ID, NaN when missing
    country: list[np.ndarray] = field(default_factory=list)  # index into _COUNTRY_NAMES
    lines: list[tuple[np.ndarray, ...]] = field(default_factory=list)
    n: int = 0  # invoices so far, i.e. the index of the next invoice

    def add(
        self,
        lines: tuple[np.ndarray, ...],
        time: np.ndarray,
        kind: np.ndarray,
        customer: np.ndarray,
        country: np.ndarray,
    ) -> None:
        self.lines.append(lines)
        self.time.append(time)
        self.kind.append(kind)
        self.customer.append(customer)
        self.country.append(country)
        self.n += len(time)

    @property
    def n_lines(self) -> int:
        return sum(len(part[0]) for part in self.lines)


def _add_purchases(book: _Ledger, c: _Customers, p: _Purchases) -> None:
    book.add(
        (p.inv, p.code, p.desc, p.qty, p.price),
        p.time,
        np.zeros(len(p.cust), np.int8),
        c.ids[p.cust].astype(np.float64),
        c.country[p.cust],
    )


def _cancellations(s: _Setting, c: _Customers, p: _Purchases, book: _Ledger) -> None:
    """Cancellations: copy lines of a purchase of the same customer, negated."""
    rng = s.rng
    cancel = np.flatnonzero(rng.random(len(p.cust)) < 0.045)
    nc_inv = len(cancel)
    delay = np.round(rng.exponential(9 * 24 * 60, nc_inv)).astype(np.int64) + 12
    c_time = np.minimum(
        p.time[cancel] + delay.astype("timedelta64[m]"),
        END.astype("datetime64[m]") + np.timedelta64(LAST_MINUTE, "m"),
    )
    full = rng.random(nc_inv) < 0.44
    c_lines = np.where(
        full,
        p.n_lines[cancel],
        1 + np.floor(rng.random(nc_inv) * np.minimum(p.n_lines[cancel], 4)),
    ).astype(np.int64)
    src = np.repeat(p.first[cancel], c_lines) + _group_rank(c_lines)
    partial = np.repeat(~full, c_lines) & (rng.random(len(src)) < 0.5)
    c_qty = -np.where(partial, np.maximum(1, p.qty[src] // 2), p.qty[src])
    book.add(
        (
            book.n + np.repeat(np.arange(nc_inv), c_lines),
            p.code[src],
            p.desc[src],
            c_qty,
            p.price[src],
        ),
        c_time,
        np.ones(nc_inv, np.int8),
        c.ids[p.cust[cancel]].astype(np.float64),
        c.country[p.cust[cancel]],
    )


def _anonymous_baskets(s: _Setting, book: _Ledger, registered_lines: int) -> None:
    """Lines without customer: large "dotcom" baskets, some with a DOT postage line."""
    rng = s.rng
    target_anon = int(registered_lines * 0.25)  # -> about 20% of all lines
    a_lines_med = 30.0
    n_anon = max(1, int(round(target_anon / (a_lines_med * 1.35))))
    a_lines = np.clip(np.round(rng.lognormal(np.log(a_lines_med), 0.75, n_anon)), 1, 600)
    a_lines = a_lines.astype(np.int64)
    a_time = s.random_times(n_anon)
    na = int(a_lines.sum())
    a_inv = book.n + np.repeat(np.arange(n_anon), a_lines)
    a_item = s.products(na)
    a_code, a_desc = a_item.copy(), a_item.copy()
    a_qty = rng.choice(np.array([1, 2, 3, 4, 6]), size=na, p=[0.66, 0.18, 0.06, 0.05, 0.05])
    a_price = np.round(s.price[a_item] * np.where(rng.random(na) < 0.6, 1.3, 1.0), 2)
    a_first = np.cumsum(a_lines) - a_lines
    dot = a_first[rng.random(n_anon) < 0.35]
    a_code[dot], a_desc[dot] = s.special + DOT, s.special + DOT
    a_qty[dot] = 1
    a_price[dot] = np.round(np.minimum(a_lines[a_inv[dot] - book.n] * 2.4, 4000), 2)
    a_pos = _group_rank(a_lines)
    adup = np.flatnonzero((a_pos > 0) & (rng.random(na) < 0.02))
    a_code[adup], a_desc[adup] = a_code[adup - 1], a_desc[adup - 1]
    a_qty[adup], a_price[adup] = a_qty[adup - 1], a_price[adup - 1]
    lines = (a_inv, a_code, a_desc, a_qty, a_price)
    a_cty = np.where(rng.random(n_anon) < 0.99, 0, 1 + rng.integers(0, 5, n_anon))
    book.add(lines, a_time, np.zeros(n_anon, np.int8), np.full(n_anon, np.nan), a_cty)


def _write_offs(s: _Setting, book: _Ledger, registered_lines: int) -> None:
    """Stock write-offs: one negative line, price 0, no customer, note or missing description."""
    rng = s.rng
    n_wo = max(3, int(round(registered_lines * 0.003)))
    wo_item = s.products(n_wo)
    wo_note = rng.integers(-1, len(WRITE_OFF_TEXT), n_wo)  # -1 -> missing description
    lines = (
        book.n + np.arange(n_wo),
        wo_item,
        np.where(wo_note < 0, -1, s.write_off + wo_note),
        -np.round(rng.lognormal(np.log(20), 1.2, n_wo)).astype(np.int64) - 1,
        np.zeros(n_wo),
    )
    wo_time = s.random_times(n_wo)
    book.add(
        lines, wo_time, np.zeros(n_wo, np.int8), np.full(n_wo, np.nan), np.zeros(n_wo, np.int64)
    )


# (special code, count per 6,000 customers, kind, quantity, price lo, hi, with customer)
_FEE_SPECS = (
    (BANK, 8, 0, 1, 15.0, 15.0, True),
    (BANK, 4, 1, -1, 15.0, 15.0, True),
    (AMAZON, 6, 1, -1, 500.0, 13500.0, False),
    (ADJUST, 6, 0, 1, 5.0, 300.0, True),
    (ADJUST, 4, 1, -1, 5.0, 300.0, True),
    (DISCOUNT, 10, 1, -1, 1.0, 80.0, True),
    (CRUK, 4, 1, -1, 20.0, 400.0, True),
    (TEST, 2, 0, 1, 0.0, 0.0, False),
    (BADDEBT, 2, 2, 1, -11062.06, -8000.0, False),
    (BADDEBT, 1, 2, 1, 11062.06, 11062.06, False),
)


def _fee_invoices(s: _Setting, c: _Customers, book: _Ledger) -> None:
    """Single-line fee / discount / adjustment invoices (some cancellations, some customers)."""
    rng = s.rng
    nc = len(c.ids)
    scale = max(1.0, nc / 6000)
    for code, count, kind, q, lo, hi, with_customer in _FEE_SPECS:
        k = int(round(count * scale))
        lines = (
            book.n + np.arange(k),
            np.full(k, s.special + code),
            np.full(k, s.special + code),
            np.full(k, q),
            np.round(rng.uniform(lo, hi, k), 2),
        )
        time = s.random_times(k)
        who = rng.integers(0, nc, k)
        book.add(
            lines,
            time,
            np.full(k, kind, np.int8),
            c.ids[who].astype(np.float64) if with_customer else np.full(k, np.nan),
            c.country[who] if with_customer else np.zeros(k, np.int64),
        )


def _assemble(s: _Setting, book: _Ledger) -> pd.DataFrame:
    """Number the invoices by time and build the raw frame, lines in invoice order."""
    n_inv = book.n
    t_all = np.concatenate(book.time)
    kind = np.concatenate(book.kind)
    cid = np.concatenate(book.customer)
    cty = np.concatenate(book.country)
    order = np.lexsort((kind, t_all))
    numbers = np.empty(n_inv, np.int64)
    numbers[order] = FIRST_INVOICE + np.cumsum(
        np.concatenate([[0], 1 + s.rng.poisson(0.25, n_inv - 1)])
    )
    prefix = np.array(["", "C", "A"])[kind]
    inv_label = np.char.add(prefix, numbers.astype(str))
    irank = np.empty(n_inv, np.int64)
    irank[order] = np.arange(n_inv)

    parts = book.lines
    li = np.concatenate([p[0] for p in parts])
    lc = np.concatenate([p[1] for p in parts])
    ld = np.concatenate([p[2] for p in parts])
    lq = np.concatenate([p[3] for p in parts]).astype(np.int64)
    lp = np.concatenate([p[4] for p in parts]).astype(np.float64)
    lorder = np.argsort(irank[li], kind="stable")
    li, lc, ld, lq, lp = li[lorder], lc[lorder], ld[lorder], lq[lorder], lp[lorder]

    code_arr = np.asarray(s.codes, dtype=object)
    desc_arr = np.asarray(s.descs + [None], dtype=object)  # index -1 -> missing
    country_arr = np.asarray(_COUNTRY_NAMES, dtype=object)
    return pd.DataFrame(
        {
            "Invoice": pd.array(inv_label[li].astype(object), dtype="str"),
            "StockCode": pd.array(code_arr[lc], dtype="str"),
            "Description": pd.array(desc_arr[ld], dtype="str"),
            "Quantity": lq,
            "InvoiceDate": t_all[li].astype("datetime64[ns]"),
            "Price": lp,
            "Customer ID": cid[li],
            "Country": pd.array(country_arr[cty[li]], dtype="str"),
        }
    )


def generate_demo_transactions(n_customers: int = 6000, seed: int = 7) -> pd.DataFrame:
    """Synthetic transactions in the raw UCI Online Retail II layout.

    Columns (as ``pandas.read_excel`` of the UCI file gives them, with text as str):
    Invoice (str; 'C'/'A' prefixes), StockCode (str), Description (str, missing for some
    write-offs), Quantity (int64, units), InvoiceDate (datetime64[ns]), Price (float64, GBP per
    unit), Customer ID (float64 such as 13085.0, NaN when missing), Country (str).

    About 50 lines per customer (6,000 customers -> roughly 300k lines, ~0.5 s). Deterministic
    for a given (n_customers, seed). Rows are in invoice order (invoice numbers increase with
    time from 489434).
    """
    if n_customers < 1:
        raise ValueError("n_customers must be >= 1")
    s = _setting(np.random.default_rng(seed), n_customers)
    customers = _customers(s, n_customers)
    purchases = _purchases(s, customers)
    _odd_purchase_lines(s, purchases)
    book = _Ledger()
    _add_purchases(book, customers, purchases)
    _cancellations(s, customers, purchases, book)
    # lines without customer (dotcom baskets, write-offs) scale with the registered lines
    registered_lines = book.n_lines
    _anonymous_baskets(s, book, registered_lines)
    _write_offs(s, book, registered_lines)
    _fee_invoices(s, customers, book)
    return _assemble(s, book)
