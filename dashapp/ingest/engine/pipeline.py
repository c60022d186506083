"""The cleaning rules as one ibis expression, compiled for whichever engine holds the lines.

:func:`invoice_parts` takes canonical order lines (an ibis table with the columns of
:data:`LINE_SCHEMA`, wherever they live: DuckDB, PostgreSQL, Spark, a warehouse) and returns one
expression whose result has **one row per (invoice, fate)**: the kept lines of an invoice
(``fate`` NULL) give its row of the invoice table, the removed lines give the ledger's counts
and money. The whole cleaning is therefore one statement that returns a small result (about one
row per invoice); :func:`dashapp.ingest.parts.split_parts` turns it into the invoice
table and the ledger. It never keeps a copy of the lines: three sets of rows are summed per
(invoice, fate) (every line; minus the extra copies of duplicates; plus what return matching
changes, see :func:`invoice_parts`), which is what lets DuckDB clean 10M lines within its
memory limit.

The rules, in ledger order (:data:`dashapp.ingest.cleaning.RULES`):

* *duplicates*: identical lines (equal in all eight source columns) are grouped; a group of
  ``copies`` identical lines keeps one (or all ``copies`` when the rule is off: ``weight``) and
  counts the others as duplicates. Only lines that share invoice, stock code, units and time
  with another line are grouped by all eight columns (:func:`_duplicated`). Identical lines
  are interchangeable, so nothing depends on which one is kept;
* *bad debt, non-product codes, non-positive prices, write-offs* (and *cancellations dropped*
  when netting is off): the first enabled rule that matches gives the line its ``fate``. The
  stock code's test runs once per distinct code, joined back; the invoice's on each line;
* *unmatched returns*: for each (customer, stock code) with a kept return, the running excess
  of returned over bought units, in the **order defined by the data**: time, purchases before
  returns, then invoice, price, quantity, description and country, so every column takes part,
  every engine orders identically and no physical row order is used. The increase of the
  floored running maximum on a return line is that line's unmatched units. A line whose units
  are all unmatched leaves (counted in ``removed_lines``); a partly unmatched one keeps its
  matched units;
* *returns booked against their orders* and *cancelled orders*: each matched return takes its
  units back from the latest earlier purchases of the same customer and stock code (last in,
  first out), so a return lowers the value of the order it cancels, not the day it arrived.
  An order whose every unit came back is no purchase occasion: it leaves the invoice table
  (ledger rule ``cancelled_orders``), and the return that cancelled it keeps no money.

Money is carried as integer thousandths of the currency unit (``price`` rounded to 3
decimals), so sums are exact and equal to the penny on every engine (floating-point sums differ
in their last bits between engines and with the order of rows).
"""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt

from dashapp.ingest.cleaning import NON_PRODUCT_PATTERNS, CleaningRules
from dashapp.ingest.engine.product_type import product_type
from dashapp.ingest.parts import MILLI, PART_COLUMNS, PRODUCT_COLUMNS

#: Canonical columns a source must provide to the engine, with their ibis types.
LINE_SCHEMA = ibis.schema(
    {
        "invoice": "string",
        "stock_code": "string",
        "description": "string",
        "quantity": "int64",
        "invoice_date": "timestamp",
        "price": "float64",
        "customer_id": "string",
        "country": "string",
    }
)
SOURCE_COLUMNS: tuple[str, ...] = tuple(LINE_SCHEMA.names)

_PAIR = ["pair_customer", "pair_stock"]


def _non_product(code: ibis.Value, rules: CleaningRules) -> ibis.Value:
    """Configured codes (trimmed, case-insensitive) and the code families of
    :data:`NON_PRODUCT_PATTERNS` (full match; ``\\d`` written as ``[0-9]`` for every engine)."""
    up = code.strip().upper()
    pattern = "^(?:" + "|".join(p.replace("\\d", "[0-9]") for p in NON_PRODUCT_PATTERNS) + ")$"
    hit = up.re_search(pattern)
    wanted = sorted({c.strip().upper() for c in rules.non_product_codes})
    if wanted:
        hit = up.isin(wanted) | hit
    return code.notnull() & hit


def _code_flags(lines: ibis.Table, rules: CleaningRules) -> ibis.Table:
    """The non-product test (a regular expression), once per distinct stock code of ``lines``
    (a few thousand; joined back): ``flag_code`` with ``flag_non_product``."""
    codes = lines.select(flag_code=lines.stock_code).distinct()
    return codes.mutate(flag_non_product=_non_product(codes.flag_code, rules).fill_null(False))


def _flagged(t: ibis.Table, lines: ibis.Table, rules: CleaningRules) -> ibis.Table:
    """``t`` (some of ``lines``, or their distinct lines, with any other columns) with
    ``is_cancellation``, ``is_return``, ``price_milli`` and ``fate`` (the first enabled removal
    rule that matches; NULL when the line passes them all). A line's flags depend on its own
    values only, so the flags of any subset are the ones it has in the whole.

    The invoice tests (a prefix) run on each line: joining them from a table of the distinct
    invoices, as the stock code's test is, put one hash table of every invoice (~5M at 100M
    lines) in memory per place the statement flags lines, and together they exceeded
    DuckDB's 1 GB at 100M lines (docs/benchmarks.md, "Data engine")."""
    codes = _code_flags(lines, rules)
    kept_columns = list(t.columns)
    head = t.invoice.strip().upper()
    t = t.left_join(codes, t.stock_code == codes.flag_code)
    t = t.select(
        *kept_columns,
        is_cancellation=head.startswith("C").fill_null(False),
        is_bad_debt=head.startswith("A").fill_null(False),
        is_non_product=t.flag_non_product.fill_null(False),
    )
    t = t.mutate(price_milli=(t.price * MILLI).round().cast("int64"))
    conditions = [
        ("bad_debt", rules.drop_bad_debt, t.is_bad_debt),
        ("non_product", rules.drop_non_product, t.is_non_product),
        ("non_positive_price", rules.drop_non_positive_price, t.price_milli <= 0),
        ("write_offs", rules.drop_write_offs, (t.quantity < 0) & ~t.is_cancellation),
        ("cancellations_dropped", not rules.net_cancellations, t.is_cancellation),
    ]
    fate = ibis.null(dt.string)
    for name, enabled, condition in reversed(conditions):
        if enabled:
            fate = ibis.ifelse(condition.fill_null(False), ibis.literal(name), fate)
    return t.mutate(
        fate=fate,
        is_return=(
            t.is_cancellation & (t.quantity < 0) & t.customer_id.notnull()
            if rules.net_cancellations
            else ibis.literal(False)
        ),
    ).drop("is_bad_debt", "is_non_product")


def distinct_lines(
    lines: ibis.Table, rules: CleaningRules | None = None, of: ibis.Table | None = None
) -> ibis.Table:
    """The distinct lines of ``of`` (some of ``lines``; all of them when None), with
    ``copies`` (how many identical lines there are: exact duplicates are grouped by all eight
    source columns), flagged (:func:`_flagged`), each with ``weight``: the lines that go on to
    the rules (1 when duplicates are removed, else all copies). Identical lines are
    interchangeable, so nothing depends on which one is kept."""
    rules = rules or CleaningRules()
    # ``lines`` is referenced, never re-selected: a shared projection would become a common
    # table expression that DuckDB materialises (a copy of every line).
    t = lines if of is None else of
    t = _flagged(t.group_by(list(SOURCE_COLUMNS)).aggregate(copies=t.count()), lines, rules)
    return t.mutate(
        weight=ibis.literal(1, "int64") if rules.drop_duplicates else t.copies,
    )


def _pairs(lines: ibis.Table, rules: CleaningRules) -> ibis.Table:
    """The (customer, stock code) pairs with a kept return (``pair_customer``,
    ``pair_stock``: the code, '' when missing). Only lines with negative units and a customer
    can be returns, so only those are flagged (a few percent of the lines)."""
    t = lines.filter((lines.quantity < 0) & lines.customer_id.notnull()).select(*SOURCE_COLUMNS)
    candidates = _flagged(t, lines, rules)
    returns = candidates.filter(candidates.fate.isnull() & candidates.is_return)
    return returns.select(
        pair_customer=returns.customer_id, pair_stock=returns.stock_code.fill_null("")
    ).distinct()


def _involved(lines: ibis.Table, rules: CleaningRules) -> ibis.Table:
    """The distinct kept lines of the pairs of :func:`_pairs` (the only lines return
    matching changes), each with ``copies`` and ``weight`` as in :func:`distinct_lines`:
    identical lines belong to the same pair, so grouping this subset gives the same distinct
    lines as grouping all lines."""
    pairs = _pairs(lines, rules)
    # an inner join (the pairs are distinct, so each line matches at most once): engines
    # build its hash table on the few pairs (DuckDB built a semi join's on all the lines)
    t = lines.join(
        pairs,
        [
            lines.customer_id == pairs.pair_customer,
            lines.stock_code.fill_null("") == pairs.pair_stock,
        ],
    ).select(*SOURCE_COLUMNS)
    t = distinct_lines(lines, rules, of=t)
    t = t.filter(t.fate.isnull() & t.customer_id.notnull())
    return t.mutate(pair_customer=t.customer_id, pair_stock=t.stock_code.fill_null(""))


def _data_order(t: ibis.Table) -> list:
    """The order of a (customer, stock code)'s lines for return matching, from the data alone."""
    return [
        t.invoice_date,
        ibis.ifelse(t.is_return, 1, 0),
        t.invoice,
        t.price_milli,
        t.quantity,
        t.description.fill_null(""),
        t.country.fill_null(""),
        t.price,  # prices equal to the thousandth but not equal
    ]


def _matched(lines: ibis.Table, rules: CleaningRules) -> ibis.Table:
    """Matches returns to purchases and books them against the orders they cancel.

    The distinct kept lines of the (customer, stock code) pairs with a kept return
    (:func:`_involved`; every other line keeps its units and money), each with
    ``unmatched`` (the units of a kept return that no earlier purchase of the same customer
    and stock code explains; 0 elsewhere), ``kept_money`` (what the line leaves in the
    invoice table, in thousandths), ``returned_money`` (the money of a purchase line that
    later returns took back) and ``survives`` (a purchase line with units nobody returned).

    Per pair, in the order of :func:`_data_order`, purchases push units on a stack and matched
    returns take them from its top (last in, first out: a cancellation cancels the latest
    order). ``height`` is the stack after a line; a purchase's units at levels
    ``[height - units, height)`` survive only where the stack never falls below them later, so
    its surviving units are ``min(height over this and later lines) - (height - units)``,
    clipped to ``[0, units]``. The returns' money moves onto the purchases they cancel, valued
    at the purchase's price; what differs when a return was credited at another price stays on
    the pair's last return with matched units (a fully unmatched return leaves the invoice
    table, so it cannot hold it), so every total is unchanged. Identical lines (``weight`` > 1,
    when duplicates are kept) are consecutive in the order and match as one line of
    ``weight * quantity`` units."""
    involved = _involved(lines, rules)
    units = involved.weight * involved.quantity
    bought = ibis.ifelse(involved.is_return, 0, ibis.greatest(units, 0))
    balance = ibis.ifelse(involved.is_return, -units, -bought)
    step = involved.mutate(bought=bought)

    def running(t: ibis.Table, **frame):
        return ibis.window(group_by=[t[c] for c in _PAIR], order_by=_data_order(t), **frame)

    step = step.mutate(excess=balance.sum().over(running(step, preceding=None, following=0)))
    step = step.mutate(
        ceiling=ibis.greatest(step.excess.max().over(running(step, preceding=None, following=0)), 0)
    )
    step = step.mutate(
        unmatched=ibis.ifelse(
            step.is_return, step.ceiling - step.ceiling.lag().over(running(step)).fill_null(0), 0
        ).cast("int64"),
        height=step.ceiling - step.excess,
    )
    # Returns with matched units, counted in order: the pair's last one keeps any price
    # difference (a fully unmatched return leaves the invoice table, so it cannot).
    matching = step.is_return & (step.weight * step.quantity + step.unmatched < 0)
    step = step.mutate(
        lowest_later=step.height.min().over(running(step, preceding=0, following=None)),
        matching=matching,
        returns_to_here=ibis.ifelse(matching, 1, 0)
        .sum()
        .over(running(step, preceding=None, following=0)),
    )
    return _booked(step)


def _booked(step: ibis.Table) -> ibis.Table:
    """The money columns of :func:`_with_matching` from the stack of a pair's lines
    (``bought``, ``height``, ``lowest_later``, ``unmatched``, ``matching``,
    ``returns_to_here``)."""
    surviving = ibis.greatest(
        ibis.least(step.lowest_later - (step.height - step.bought), step.bought), 0
    )
    step = step.mutate(surviving=ibis.ifelse(step.bought > 0, surviving, 0).cast("int64"))
    lost_money = (step.bought - step.surviving) * step.price_milli
    # The matched units of a return are worth ``-(units + unmatched) * price`` (negative).
    matched_money = ibis.ifelse(
        step.is_return, (step.weight * step.quantity + step.unmatched) * step.price_milli, 0
    )
    pair = ibis.window(group_by=[step[c] for c in _PAIR])
    step = step.mutate(
        lost_money=lost_money,
        residual=(lost_money + matched_money).sum().over(pair),
        last_return=step.matching
        & (step.returns_to_here == ibis.ifelse(step.matching, 1, 0).sum().over(pair)),
    )
    return step.mutate(
        kept_money=ibis.ifelse(
            step.is_return,
            ibis.ifelse(step.last_return, step.residual, 0),
            ibis.ifelse(
                step.bought > 0,
                step.surviving * step.price_milli,
                step.weight * step.quantity * step.price_milli,
            ),
        ).cast("int64"),
        returned_money=step.lost_money.cast("int64"),
        survives=step.surviving > 0,
    ).drop(
        "bought",
        "excess",
        "ceiling",
        "returns_to_here",
        "matching",
        "height",
        "lowest_later",
        "surviving",
        "lost_money",
        "residual",
        "last_return",
    )


def _duplicated(lines: ibis.Table, rules: CleaningRules) -> ibis.Table | None:
    """The distinct lines with copies removed as exact duplicates (``extra``: how many),
    flagged; None when the rule is off. Identical lines share their invoice, stock code,
    units and time, so only lines that share those with another line are grouped by all
    eight columns (a few percent): the narrow grouping costs a third of grouping every line
    by every column. The narrowing only selects candidates (missing values are read as '' and
    0 there, which can add candidates, never lose one); the exact grouping decides."""
    if not rules.drop_duplicates:
        return None
    key = {
        "key_invoice": lines.invoice.fill_null(""),
        "key_stock": lines.stock_code.fill_null(""),
        "key_quantity": lines.quantity.fill_null(0),
        "key_date": lines.invoice_date.fill_null(ibis.timestamp("1970-01-01 00:00:00")),
    }
    shared = lines.group_by(**key).aggregate(key_lines=lines.count())
    shared = shared.filter(shared.key_lines > 1)
    candidates = lines.mutate(**key).join(shared, list(key)).select(*SOURCE_COLUMNS)
    d = distinct_lines(lines, rules, of=candidates)
    d = d.filter(d.copies > d.weight)
    return d.mutate(extra=d.copies - d.weight)


#: Columns of :data:`PART_COLUMNS` that are sums.
_PART_SUMS = PART_COLUMNS[6:]


def invoice_parts(lines: ibis.Table, rules: CleaningRules | None = None) -> ibis.Table:
    """The whole cleaning of ``lines`` as one expression: one row per (invoice, fate), columns
    :data:`PART_COLUMNS`, money in integer thousandths. The (invoice, NULL) row holds the
    lines that passed the removal rules, before return matching: ``removed_lines`` of them left
    as fully unmatched returns; ``kept_money_milli`` is the money of what stays, with matched
    returns booked against the purchases they cancel (see :func:`_matched`);
    ``returned_money_milli`` is what returns took back from this invoice's purchases, and
    ``surviving_lines`` counts its purchase lines with units nobody returned (0 on an order
    cancelled in full). ``duplicate_lines`` and ``duplicate_money_milli`` count the extra
    copies of exact duplicates among the row's lines (removed when the rule is on), whatever
    their fate: the ledger's *duplicates* line.

    Three sets of rows summed per (invoice, fate), none of which keeps a copy of the lines:
    (1) every line, flagged, as if no copy were a duplicate and no return matched anything;
    (2) minus the extra copies of exact duplicates (:func:`_duplicated`); (3) plus what return
    matching changes (:func:`_matched`, on the few lines of pairs with a kept return). Exact:
    integer sums; the smallest text and date and the largest flag of an invoice's lines are
    the same with or without their copies."""
    rules = rules or CleaningRules()
    return _summed(
        [_every_line_rows(lines, rules), _copies_rows(lines, rules), _matching_rows(lines, rules)]
    )


_NO_TEXT = {
    "fate": ibis.null(dt.string),
    "is_cancellation": ibis.null(dt.boolean),
    "customer_id": ibis.null(dt.string),
    "invoice_date": ibis.null(dt.timestamp),
    "country": ibis.null(dt.string),
}


def _part_rows(table: ibis.Table) -> ibis.Table:
    """``table`` with the columns of :data:`PART_COLUMNS` (missing sums 0)."""
    zero = ibis.literal(0, "int64")
    return table.mutate(**{c: zero for c in _PART_SUMS if c not in table.columns}).select(
        *PART_COLUMNS
    )


def _every_line_rows(lines: ibis.Table, rules: CleaningRules) -> ibis.Table:
    """Set (1) of :func:`invoice_parts`: every line, flagged, per (invoice, fate)."""
    t = _flagged(lines, lines, rules)
    value = t.quantity * t.price_milli
    missing = t.customer_id.isnull()
    every = t.group_by(["invoice", "fate"]).aggregate(
        is_cancellation=t.is_cancellation.max(),
        customer_id=t.customer_id.min(),
        invoice_date=t.invoice_date.min(),
        country=t.country.min(),
        lines=t.count(),
        money_milli=value.sum(),
        kept_money_milli=value.sum(),
        surviving_lines=ibis.ifelse(t.quantity > 0, 1, 0).sum(),
        missing_lines=ibis.ifelse(missing, 1, 0).sum(),
        missing_money_milli=ibis.ifelse(missing, value, 0).sum(),
    )
    return _part_rows(every)


def _copies_rows(lines: ibis.Table, rules: CleaningRules) -> ibis.Table | None:
    """Set (2) of :func:`invoice_parts`: the extra copies of exact duplicates taken out of
    their (invoice, fate) and counted as duplicates; None when the rule is off."""
    d = _duplicated(lines, rules)
    if d is None:
        return None
    value = d.extra * d.quantity * d.price_milli
    missing = d.customer_id.isnull()
    copies = d.group_by(["invoice", "fate"]).aggregate(
        lines=-d.extra.sum(),
        money_milli=-value.sum(),
        kept_money_milli=-value.sum(),
        surviving_lines=-ibis.ifelse(d.quantity > 0, d.extra, 0).sum(),
        missing_lines=-ibis.ifelse(missing, d.extra, 0).sum(),
        missing_money_milli=-ibis.ifelse(missing, value, 0).sum(),
        duplicate_lines=d.extra.sum(),
        duplicate_money_milli=value.sum(),
    )
    return _part_rows(copies.mutate(**{k: v for k, v in _NO_TEXT.items() if k != "fate"}))


def _matching_rows(lines: ibis.Table, rules: CleaningRules) -> ibis.Table:
    """Set (3) of :func:`invoice_parts`: what return matching changes, per invoice (fate
    NULL). A distinct line stands for ``weight`` identical lines of ``quantity`` units: its
    ``unmatched`` units are the last ones, so ``unmatched // |quantity|`` whole lines leave
    and a remainder leaves one line partly matched."""
    m = _matched(lines, rules)
    size = ibis.greatest(-m.quantity, 1)
    full = ibis.ifelse(m.unmatched > 0, m.unmatched // size, 0)
    touched = full + ibis.ifelse((m.unmatched > 0) & (m.unmatched % size > 0), 1, 0)
    changes = m.group_by("invoice").aggregate(
        removed_lines=full.sum(),
        kept_money_milli=(m.kept_money - m.weight * m.quantity * m.price_milli).sum(),
        returned_money_milli=m.returned_money.sum(),
        surviving_lines=(
            ibis.ifelse(m.survives, m.weight, 0) - ibis.ifelse(m.quantity > 0, m.weight, 0)
        ).sum(),
        unmatched_lines=touched.sum(),
        unmatched_money_milli=(-m.unmatched * m.price_milli).sum(),
    )
    return _part_rows(changes.mutate(**_NO_TEXT))


def _summed(sets: list) -> ibis.Table:
    """The sets of part rows (None: left out) summed per (invoice, fate)."""
    sets = [x for x in sets if x is not None]
    both = sets[0]
    for more in sets[1:]:
        both = both.union(more, distinct=False)
    return (
        both.group_by(["invoice", "fate"])
        .aggregate(
            is_cancellation=both.is_cancellation.max(),
            customer_id=both.customer_id.min(),
            invoice_date=both.invoice_date.min(),
            country=both.country.min(),
            **{c: both[c].sum() for c in _PART_SUMS},
        )
        .select(*PART_COLUMNS)
    )


#: Name under which :func:`cleaning_sql` and the Spark source materialise the lines.
STAGE_TABLE = "canonical_lines"


def cleaning_sql(lines: ibis.Table, rules: CleaningRules | None, dialect: str, then=None) -> str:
    """The whole cleaning (``then``: :func:`invoice_parts`, or :func:`product_parts` for the
    product lines) as one SQL statement for ``dialect``, with ``lines`` (a source's canonical
    lines: text normalised by expressions, :mod:`.sources`) as a common table expression that
    the passes of the cleaning read, so the normalisation runs once per statement.

    ibis inlines a subquery at each place it is used; written as a CTE, the database computes
    it once (``MATERIALIZED`` says so explicitly where the dialect has it)."""
    first = ibis.to_sql(lines, dialect=dialect)
    second = ibis.to_sql(
        (then or invoice_parts)(ibis.table(lines.schema(), name=STAGE_TABLE), rules),
        dialect=dialect,
    )
    quote = "`" if dialect in ("pyspark", "databricks", "mysql", "bigquery") else '"'
    keyword = " MATERIALIZED" if dialect in ("postgres", "duckdb") else ""
    head = f"WITH {quote}{STAGE_TABLE}{quote} AS{keyword} (\n{first}\n)"
    if second.lstrip().upper().startswith("WITH "):
        return head + ",\n" + second.lstrip()[5:]
    return head + "\n" + second


def product_parts(lines: ibis.Table, rules: CleaningRules | None = None) -> ibis.Table:
    """The lines that stay after every rule, one row per (invoice, stock code): ``units``
    kept (units sold on a purchase; a return's matched units, negative, its unmatched ones
    removed as in the invoice table), ``money_milli`` as the invoice table books it (a
    return's money on the order it cancels, which is the same stock code), ``description`` the
    smallest of the invoice's descriptions of the code. The same rules and the same three sets
    of rows as :func:`invoice_parts`: summed over an invoice's codes, ``money_milli`` is its
    ``kept_money_milli``. ``product_type``: :func:`product_type` of ``description``, computed
    once per distinct description of the lines (a few thousand) and joined back."""
    rules = rules or CleaningRules()
    t = _flagged(lines, lines, rules)
    t = t.filter(t.fate.isnull())
    sets = [_per_code(t, t.quantity, t.quantity * t.price_milli)]
    nothing = {
        "description": ibis.null(dt.string),
        "customer_id": ibis.null(dt.string),
        "invoice_date": ibis.null(dt.timestamp),
        "country": ibis.null(dt.string),
        "is_cancellation": ibis.null(dt.boolean),
    }
    d = _duplicated(lines, rules)
    if d is not None:
        d = d.filter(d.fate.isnull())
        units = d.extra * d.quantity
        sets.append(
            d.group_by(["invoice", "stock_code"])
            .aggregate(units=-units.sum(), money_milli=-(units * d.price_milli).sum())
            .mutate(**nothing)
        )
    m = _matched(lines, rules)
    sets.append(
        m.group_by(["invoice", "stock_code"])
        .aggregate(
            units=m.unmatched.sum(),
            money_milli=(m.kept_money - m.weight * m.quantity * m.price_milli).sum(),
        )
        .mutate(**nothing)
    )
    summed = [c for c in PRODUCT_COLUMNS if c != "product_type"]  # joined at the end
    both = sets[0].select(*summed)
    for more in sets[1:]:
        both = both.union(more.select(*summed), distinct=False)
    out = _per_code(both, both.units, both.money_milli)
    out = out.filter(out.units != 0)
    described = lines.select(type_description=lines.description).distinct()
    described = described.mutate(product_type=product_type(described.type_description))
    out = out.left_join(described, out.description == described.type_description)
    return out.select(*PRODUCT_COLUMNS)


def _per_code(t: ibis.Table, units: ibis.Value, money_milli: ibis.Value) -> ibis.Table:
    """One row per (invoice, stock code) of ``t``: the smallest of each text (a NULL, as the
    sets of corrections carry, is never chosen), the sums of ``units`` and ``money_milli``."""
    return t.group_by(["invoice", "stock_code"]).aggregate(
        description=t.description.min(),
        customer_id=t.customer_id.min(),
        invoice_date=t.invoice_date.min(),
        country=t.country.min(),
        is_cancellation=t.is_cancellation.max(),
        units=units.sum(),
        money_milli=money_milli.sum(),
    )
