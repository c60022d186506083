"""Synthetic demo data in the raw UCI "Online Retail II" layout.

Pure module (numpy, pandas, pyarrow; no dash / flask). The demo goes through the same loader
and cleaning path as a real file, so it carries the real dataset's quirks:

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
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["DEMO_VERSION", "RAW_COLUMNS", "demo_dataset_path", "generate_demo_transactions"]

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

START = np.datetime64("2009-12-01", "D")
END = np.datetime64("2011-12-09", "D")  # inclusive; trading stops at 12:50
LAST_MINUTE = 12 * 60 + 50
FIRST_INVOICE = 489434
FIRST_CUSTOMER_ID = 12346

# (country, relative weight among the non-UK customers)
_COUNTRIES = (
    ("Germany", 107),
    ("France", 95),
    ("EIRE", 5),
    ("Spain", 41),
    ("Belgium", 29),
    ("Netherlands", 23),
    ("Switzerland", 25),
    ("Portugal", 24),
    ("Italy", 17),
    ("Australia", 15),
    ("Finland", 14),
    ("Sweden", 19),
    ("Norway", 12),
    ("Denmark", 12),
    ("Austria", 13),
    ("Channel Islands", 10),
    ("Cyprus", 9),
    ("Japan", 10),
    ("Poland", 7),
    ("USA", 8),
    ("Greece", 6),
    ("Unspecified", 6),
    ("Israel", 5),
    ("Canada", 4),
    ("United Arab Emirates", 3),
    ("Hong Kong", 3),
    ("Singapore", 2),
    ("Malta", 3),
    ("Iceland", 2),
    ("Lithuania", 2),
    ("RSA", 2),
    ("Bahrain", 2),
    ("Thailand", 2),
    ("Brazil", 1),
    ("Korea", 2),
    ("European Community", 1),
    ("West Indies", 1),
    ("Czech Republic", 1),
    ("Saudi Arabia", 1),
)
_UK = "United Kingdom"
_UK_CUSTOMER_SHARE = 0.90

_ADJ = (
    "WHITE",
    "RED",
    "PINK",
    "BLUE",
    "GREEN",
    "IVORY",
    "VINTAGE",
    "RETRO SPOT",
    "REGENCY",
    "HEART",
    "STAR",
    "JUMBO",
    "SMALL",
    "LARGE",
    "SET OF 3",
    "PACK OF 12",
    "ANTIQUE",
    "GLASS",
    "WOODEN",
    "ENAMEL",
    "PAPER",
    "CERAMIC",
    "FELTCRAFT",
    "CHRISTMAS",
    "PAISLEY",
    "POLKADOT",
    "SPACEBOY",
    "DOLLY GIRL",
    "LOVE",
    "PARTY",
    "GARDEN",
    "FAIRY",
    "SWEETHEART",
    "BIRD",
)
_NOUN = (
    "T-LIGHT HOLDER",
    "LUNCH BAG",
    "MUG",
    "TEACUP AND SAUCER",
    "CAKE CASES",
    "BUNTING",
    "HOT WATER BOTTLE",
    "DOORMAT",
    "CUSHION COVER",
    "PHOTO FRAME",
    "NAPKINS",
    "CANDLE",
    "STORAGE JAR",
    "WALL CLOCK",
    "SHOPPER BAG",
    "CHALKBOARD",
    "TISSUES",
    "GIFT WRAP",
    "ALARM CLOCK",
    "TRINKET BOX",
    "HANGING DECORATION",
    "PLATE",
    "BOWL",
    "SIGN",
    "JAM MAKING SET",
    "WATER BOTTLE",
    "SPONGE",
    "NOTEBOOK",
    "PENCILS",
    "LANTERN",
    "PURSE",
    "DOORSTOP",
    "CHARM",
    "BAKING SET",
    "SNACK BOXES",
    "JUMBO BAG",
    "ORNAMENT",
    "COASTER",
)
# price points (GBP) seen in the real data
_PRICE_LADDER = np.array(
    [
        0.19,
        0.29,
        0.39,
        0.42,
        0.55,
        0.65,
        0.72,
        0.83,
        0.85,
        1.25,
        1.45,
        1.65,
        1.69,
        1.95,
        2.1,
        2.46,
        2.55,
        2.95,
        3.25,
        3.75,
        4.25,
        4.95,
        5.45,
        5.95,
        6.75,
        7.95,
        8.5,
        9.95,
        10.95,
        12.75,
        14.95,
        16.95,
        18.0,
        24.95,
        35.75,
    ]
)
_PACKS = np.array([1, 2, 3, 4, 6, 8, 10, 12, 24, 25, 36, 48, 72, 96, 144])
_PACK_P = np.array([18, 10, 5, 6, 10, 3, 4, 20, 8, 3, 2, 3, 1, 1, 0.6])
# (StockCode, Description) of non-product lines; index order is used below
_SPECIAL = (
    ("POST", "POSTAGE"),
    ("DOT", "DOTCOM POSTAGE"),
    ("M", "Manual"),
    ("C2", "CARRIAGE"),
    ("D", "Discount"),
    ("BANK CHARGES", "Bank Charges"),
    ("AMAZONFEE", "AMAZON FEE"),
    ("ADJUST", "Adjustment by john on 26/01/2010 17"),
    ("CRUK", "CRUK Commission"),
    ("PADS", "PADS TO MATCH ALL CUSHIONS"),
    ("B", "Adjust bad debt"),
    ("TEST001", "This is a test product."),
    ("S", "SAMPLES"),
)
(
    _POST,
    _DOT,
    _MANUAL,
    _C2,
    _DISCOUNT,
    _BANK,
    _AMAZON,
    _ADJUST,
    _CRUK,
    _PADS,
    _BADDEBT,
    _TEST,
    _SAMPLES,
) = range(len(_SPECIAL))
_WRITE_OFF_TEXT = (
    "damaged",
    "?",
    "check",
    "missing",
    "lost",
    "wet damaged",
    "smashed",
    "found",
    "sold as set on dotcom",
    "Damaged",
    "mixed up",
    "crushed",
    "thrown away",
)
_MONTH_WEIGHT = {
    1: 0.80,
    2: 0.78,
    3: 1.0,
    4: 0.85,
    5: 0.95,
    6: 0.95,
    7: 0.92,
    8: 0.9,
    9: 1.30,
    10: 1.45,
    11: 1.90,
    12: 1.05,
}
_HOURS = np.arange(7, 21)
_HOUR_P = np.array([0.4, 2.5, 5.5, 9.5, 12.5, 14.0, 13.0, 11.0, 8.0, 4.5, 1.8, 0.9, 0.5, 0.3])


def _calendar() -> tuple[np.ndarray, np.ndarray]:
    """Days of the period and their cumulative trading intensity (for inverse-CDF sampling)."""
    days = np.arange(START, END + np.timedelta64(1, "D"))
    dow = (days.view("int64") + 3) % 7  # Monday = 0
    month = days.astype("datetime64[M]").view("int64") % 12 + 1
    md = (days - days.astype("datetime64[M]")).view("int64") + 1
    w = np.array([_MONTH_WEIGHT[m] for m in range(1, 13)])[month - 1]
    w = w * np.where(dow == 6, 0.75, 1.0) * np.where(dow == 5, 0.0, 1.0)
    closed = ((month == 12) & (md >= 23)) | ((month == 1) & (md <= 3))
    w = np.where(closed, 0.0, w)
    return days, np.cumsum(w)


def _timestamps(day_idx: np.ndarray, days: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n = len(day_idx)
    minutes = rng.choice(_HOURS, size=n, p=_HOUR_P / _HOUR_P.sum()) * 60 + rng.integers(0, 60, n)
    last = day_idx == len(days) - 1
    minutes = np.where(last, rng.integers(8 * 60, LAST_MINUTE + 1, n), minutes)
    return days[day_idx].astype("datetime64[m]") + minutes.astype("timedelta64[m]")


def _group_rank(counts: np.ndarray) -> np.ndarray:
    """Position 0..k-1 of every element inside its group, for groups laid out by np.repeat."""
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    return np.arange(int(counts.sum())) - starts


def _catalogue(rng: np.random.Generator, n_products: int):
    codes_num = np.sort(rng.choice(np.arange(10002, 90000), size=n_products, replace=False))
    suffix = np.where(
        rng.random(n_products) < 0.2, rng.choice(np.array(list("ABCDELPSW")), n_products), ""
    )
    codes = np.char.add(codes_num.astype(str), suffix)
    adj = rng.choice(np.array(_ADJ), size=n_products)
    noun = rng.choice(np.array(_NOUN), size=n_products)
    desc = np.char.add(np.char.add(adj, " "), noun)
    desc = np.where(rng.random(n_products) < 0.08, np.char.add(desc, " "), desc)  # trailing space
    raw = rng.lognormal(np.log(2.4), 0.75, n_products)
    price = _PRICE_LADDER[np.clip(np.searchsorted(_PRICE_LADDER, raw), 0, len(_PRICE_LADDER) - 1)]
    popularity = rng.lognormal(0.0, 1.1, n_products)
    return codes.tolist(), desc.tolist(), price, np.cumsum(popularity / popularity.sum())


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
    rng = np.random.default_rng(seed)
    days, cum = _calendar()
    total_w = float(cum[-1])

    def day_of(u: np.ndarray) -> np.ndarray:
        return np.minimum(np.searchsorted(cum, u, side="right"), len(days) - 1)

    # ---- catalogue: products then special codes; descriptions add write-off notes ----------
    n_products = int(np.clip(n_customers * 0.5, 200, 4000))
    p_codes, p_desc, p_price, p_cdf = _catalogue(rng, n_products)
    codes = p_codes + [c for c, _ in _SPECIAL]
    descs = p_desc + [d for _, d in _SPECIAL] + list(_WRITE_OFF_TEXT)
    special_code = n_products  # index of the first special stock code
    special_desc = n_products
    wo_desc = n_products + len(_SPECIAL)

    def products(k: int) -> np.ndarray:
        return np.minimum(np.searchsorted(p_cdf, rng.random(k)), n_products - 1)

    # ---- customers ----------------------------------------------------------------------
    nc = n_customers
    ids = FIRST_CUSTOMER_ID + np.sort(rng.choice(int(nc * 1.05) + 10, size=nc, replace=False))
    countries = [_UK] + [c for c, _ in _COUNTRIES]
    cw = np.array([w for _, w in _COUNTRIES], dtype=float)
    is_uk = rng.random(nc) < _UK_CUSTOMER_SHARE
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
    u0 = rng.beta(0.75, 1.0 + 0.15 * np.log(freq), nc) * total_w * 0.97
    alive = rng.random(nc) < 0.45
    span = np.where(alive, 1.0, rng.beta(1.4, 1.2, nc))
    u1 = u0 + (total_w - u0) * span

    # ---- registered purchase invoices -----------------------------------------------------
    inv_cust = np.repeat(np.arange(nc), freq)
    rank = _group_rank(freq)
    u = np.where(
        rank == 0, u0[inv_cust], u0[inv_cust] + rng.random(len(inv_cust)) * (u1 - u0)[inv_cust]
    )
    p_time = _timestamps(day_of(u), days, rng)
    n_p = len(inv_cust)
    lines_p = np.clip(np.round(rng.lognormal(np.log(basket[inv_cust]), 0.6)), 1, 250).astype(
        np.int64
    )

    # line level
    l_inv = np.repeat(np.arange(n_p), lines_p)
    l_cust = inv_cust[l_inv]
    nl = len(l_inv)
    l_item = products(nl)
    l_code = l_item.copy()
    l_desc = l_item.copy()
    l_qty = rng.choice(_PACKS, size=nl, p=_PACK_P / _PACK_P.sum()) * pack_mult[l_cust]
    l_price = p_price[l_item] * np.where(l_qty >= 100, 0.85, 1.0)
    l_price = np.round(l_price, 2)
    pos = _group_rank(lines_p)
    # foreign customers pay postage on 2 invoices out of 3: the first line becomes POST
    first = np.cumsum(lines_p) - lines_p
    post = (~is_uk[inv_cust]) & (rng.random(n_p) < 0.66)
    pl = first[post]
    l_code[pl] = special_code + _POST
    l_desc[pl] = special_desc + _POST
    l_qty[pl] = rng.integers(1, 4, len(pl))
    l_price[pl] = np.where(rng.random(len(pl)) < 0.7, 18.0, 15.0)
    # a few manual lines, carriage and samples
    for code, share, lo, hi in (
        (_MANUAL, 0.004, 0.5, 60.0),
        (_C2, 0.002, 50.0, 50.0),
        (_PADS, 0.0005, 0.001, 0.001),
        (_SAMPLES, 0.0003, 5.0, 40.0),
    ):
        m = np.flatnonzero((pos > 0) & (rng.random(nl) < share))
        l_code[m] = special_code + code
        l_desc[m] = special_desc + code
        l_qty[m] = 1
        l_price[m] = np.round(rng.uniform(lo, hi, len(m)), 3 if lo < 0.01 else 2)
    # zero prices (free items)
    z = rng.random(nl) < 0.001
    l_price[z] = 0.0
    # exact duplicate lines (the previous line of the same invoice, repeated)
    dup = np.flatnonzero((pos > 0) & (rng.random(nl) < 0.012))
    l_code[dup], l_desc[dup] = l_code[dup - 1], l_desc[dup - 1]
    l_qty[dup], l_price[dup] = l_qty[dup - 1], l_price[dup - 1]

    inv_time = [p_time]
    inv_kind = [np.zeros(n_p, np.int8)]  # 0 purchase, 1 cancellation, 2 bad-debt adjustment
    inv_cid = [ids[inv_cust].astype(np.float64)]
    inv_cty = [cust_country[inv_cust]]
    parts = [(l_inv, l_code, l_desc, l_qty, l_price)]
    n_inv = n_p

    # ---- cancellations: copy lines of a purchase of the same customer, negated ------------
    cancel = np.flatnonzero(rng.random(n_p) < 0.045)
    nc_inv = len(cancel)
    delay = np.round(rng.exponential(9 * 24 * 60, nc_inv)).astype(np.int64) + 12
    c_time = np.minimum(
        p_time[cancel] + delay.astype("timedelta64[m]"),
        END.astype("datetime64[m]") + np.timedelta64(LAST_MINUTE, "m"),
    )
    full = rng.random(nc_inv) < 0.44
    c_lines = np.where(
        full, lines_p[cancel], 1 + np.floor(rng.random(nc_inv) * np.minimum(lines_p[cancel], 4))
    ).astype(np.int64)
    src = np.repeat(first[cancel], c_lines) + _group_rank(c_lines)
    partial = np.repeat(~full, c_lines) & (rng.random(len(src)) < 0.5)
    c_qty = -np.where(partial, np.maximum(1, l_qty[src] // 2), l_qty[src])
    parts.append(
        (
            n_inv + np.repeat(np.arange(nc_inv), c_lines),
            l_code[src],
            l_desc[src],
            c_qty,
            l_price[src],
        )
    )
    inv_time.append(c_time)
    inv_kind.append(np.ones(nc_inv, np.int8))
    inv_cid.append(ids[inv_cust[cancel]].astype(np.float64))
    inv_cty.append(cust_country[inv_cust[cancel]])
    n_inv += nc_inv

    # ---- lines without customer: dotcom baskets, write-offs, fees, bad debt ---------------
    registered_lines = nl + len(src)
    target_anon = int(registered_lines * 0.25)  # -> about 20% of all lines
    a_lines_med = 30.0
    n_anon = max(1, int(round(target_anon / (a_lines_med * 1.35))))
    a_lines = np.clip(np.round(rng.lognormal(np.log(a_lines_med), 0.75, n_anon)), 1, 600)
    a_lines = a_lines.astype(np.int64)
    a_time = _timestamps(day_of(rng.random(n_anon) * total_w), days, rng)
    na = int(a_lines.sum())
    a_inv = n_inv + np.repeat(np.arange(n_anon), a_lines)
    a_item = products(na)
    a_code, a_desc = a_item.copy(), a_item.copy()
    a_qty = rng.choice(np.array([1, 2, 3, 4, 6]), size=na, p=[0.66, 0.18, 0.06, 0.05, 0.05])
    a_price = np.round(p_price[a_item] * np.where(rng.random(na) < 0.6, 1.3, 1.0), 2)
    a_first = np.cumsum(a_lines) - a_lines
    dot = a_first[rng.random(n_anon) < 0.35]
    a_code[dot], a_desc[dot] = special_code + _DOT, special_desc + _DOT
    a_qty[dot] = 1
    a_price[dot] = np.round(np.minimum(a_lines[a_inv[dot] - n_inv] * 2.4, 4000), 2)
    a_pos = _group_rank(a_lines)
    adup = np.flatnonzero((a_pos > 0) & (rng.random(na) < 0.02))
    a_code[adup], a_desc[adup] = a_code[adup - 1], a_desc[adup - 1]
    a_qty[adup], a_price[adup] = a_qty[adup - 1], a_price[adup - 1]
    parts.append((a_inv, a_code, a_desc, a_qty, a_price))
    inv_time.append(a_time)
    inv_kind.append(np.zeros(n_anon, np.int8))
    inv_cid.append(np.full(n_anon, np.nan))
    a_cty = np.where(rng.random(n_anon) < 0.99, 0, 1 + rng.integers(0, 5, n_anon))
    inv_cty.append(a_cty)
    n_inv += n_anon

    # stock write-offs: one negative line, price 0, no customer, note or missing description
    n_wo = max(3, int(round(registered_lines * 0.003)))
    wo_item = products(n_wo)
    wo_note = rng.integers(-1, len(_WRITE_OFF_TEXT), n_wo)  # -1 -> missing description
    parts.append(
        (
            n_inv + np.arange(n_wo),
            wo_item,
            np.where(wo_note < 0, -1, wo_desc + wo_note),
            -np.round(rng.lognormal(np.log(20), 1.2, n_wo)).astype(np.int64) - 1,
            np.zeros(n_wo),
        )
    )
    inv_time.append(_timestamps(day_of(rng.random(n_wo) * total_w), days, rng))
    inv_kind.append(np.zeros(n_wo, np.int8))
    inv_cid.append(np.full(n_wo, np.nan))
    inv_cty.append(np.zeros(n_wo, np.int64))
    n_inv += n_wo

    # single-line fee / discount / adjustment invoices (some cancellations, some customers)
    fee_specs = [  # (special code, count, kind, quantity, price lo, hi, with customer)
        (_BANK, 8, 0, 1, 15.0, 15.0, True),
        (_BANK, 4, 1, -1, 15.0, 15.0, True),
        (_AMAZON, 6, 1, -1, 500.0, 13500.0, False),
        (_ADJUST, 6, 0, 1, 5.0, 300.0, True),
        (_ADJUST, 4, 1, -1, 5.0, 300.0, True),
        (_DISCOUNT, 10, 1, -1, 1.0, 80.0, True),
        (_CRUK, 4, 1, -1, 20.0, 400.0, True),
        (_TEST, 2, 0, 1, 0.0, 0.0, False),
        (_BADDEBT, 2, 2, 1, -11062.06, -8000.0, False),
        (_BADDEBT, 1, 2, 1, 11062.06, 11062.06, False),
    ]
    scale = max(1.0, nc / 6000)
    for code, count, kind, q, lo, hi, with_customer in fee_specs:
        k = int(round(count * scale))
        parts.append(
            (
                n_inv + np.arange(k),
                np.full(k, special_code + code),
                np.full(k, special_desc + code),
                np.full(k, q),
                np.round(rng.uniform(lo, hi, k), 2),
            )
        )
        inv_time.append(_timestamps(day_of(rng.random(k) * total_w), days, rng))
        inv_kind.append(np.full(k, kind, np.int8))
        who = rng.integers(0, nc, k)
        inv_cid.append(ids[who].astype(np.float64) if with_customer else np.full(k, np.nan))
        inv_cty.append(cust_country[who] if with_customer else np.zeros(k, np.int64))
        n_inv += k

    # ---- number invoices by time and assemble ---------------------------------------------
    t_all = np.concatenate(inv_time)
    kind = np.concatenate(inv_kind)
    cid = np.concatenate(inv_cid)
    cty = np.concatenate(inv_cty)
    order = np.lexsort((kind, t_all))
    numbers = np.empty(n_inv, np.int64)
    numbers[order] = FIRST_INVOICE + np.cumsum(
        np.concatenate([[0], 1 + rng.poisson(0.25, n_inv - 1)])
    )
    prefix = np.array(["", "C", "A"])[kind]
    inv_label = np.char.add(prefix, numbers.astype(str))
    irank = np.empty(n_inv, np.int64)
    irank[order] = np.arange(n_inv)

    li = np.concatenate([p[0] for p in parts])
    lc = np.concatenate([p[1] for p in parts])
    ld = np.concatenate([p[2] for p in parts])
    lq = np.concatenate([p[3] for p in parts]).astype(np.int64)
    lp = np.concatenate([p[4] for p in parts]).astype(np.float64)
    lorder = np.argsort(irank[li], kind="stable")
    li, lc, ld, lq, lp = li[lorder], lc[lorder], ld[lorder], lq[lorder], lp[lorder]

    code_arr = np.asarray(codes, dtype=object)
    desc_arr = np.asarray(descs + [None], dtype=object)  # index -1 -> missing
    country_arr = np.asarray(countries, dtype=object)
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


def demo_dataset_path(
    cache_dir: str | os.PathLike, *, n_customers: int = 6000, seed: int = 7
) -> Path:
    """Path of the demo dataset as a parquet file, generated and written once.

    The file ``<cache_dir>/demo_online_retail_II-v<DEMO_VERSION>-c<n_customers>-s<seed>.parquet``
    is written atomically (temp file + os.replace), so concurrent callers never see a partial
    file; later calls return the existing path at once. Load it with
    ``loading.load_transactions`` like any uploaded file.
    """
    cache = Path(cache_dir)
    target = cache / f"demo_online_retail_II-v{DEMO_VERSION}-c{n_customers}-s{seed}.parquet"
    if target.exists():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    df = generate_demo_transactions(n_customers=n_customers, seed=seed)
    for col in ("Invoice", "StockCode", "Description", "Country"):
        df[col] = df[col].astype("category")  # dictionary-encoded: smaller and faster to read
    fd, tmp = tempfile.mkstemp(dir=cache, prefix=f".{target.stem}-", suffix=".tmp")
    os.close(fd)
    try:
        df.to_parquet(tmp, index=False, compression="zstd")
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return target
