"""The cleaning rules as one ibis expression, compiled for whichever engine holds the lines.

:func:`invoice_parts` takes canonical order lines (an ibis table with the columns of
:data:`LINE_SCHEMA`, wherever they live: DuckDB, PostgreSQL, Spark, a warehouse) and returns one
expression whose result has **one row per (invoice, fate)**: the kept lines of an invoice
(``fate`` NULL) give its row of the invoice table, the removed lines give the ledger's counts
and money. The whole cleaning is therefore one statement that reads the lines once and returns a
small result (about one row per invoice); :func:`dashapp.ingest.engine.results.split_parts`
turns it into the invoice table and the ledger.

The rules, in ledger order (:data:`dashapp.ingest.cleaning.RULES`):

* *duplicates*: the lines are grouped by all eight source columns; a group of ``copies``
  identical lines keeps one (or all ``copies`` when the rule is off: ``weight``) and counts the
  others as duplicates. Identical lines are interchangeable, so nothing depends on which one
  is kept;
* *bad debt, non-product codes, non-positive prices, write-offs* (and *cancellations dropped*
  when netting is off): the first enabled rule that matches gives the line its ``fate``. The
  text tests run once per distinct invoice and stock code, joined back;
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

#: Money is carried as integer thousandths of the currency unit.
MILLI = 1000

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

#: Columns of the result of :func:`invoice_parts`.
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
)

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


def distinct_lines(lines: ibis.Table, rules: CleaningRules | None = None) -> ibis.Table:
    """Stage 1: the distinct lines (``copies``: how many identical lines there are), each with
    ``weight`` (the lines that go on to the rules: 1 when duplicates are removed, else all
    copies), ``is_cancellation``, ``is_return``, ``price_milli`` and ``fate`` (the first enabled
    removal rule that matches; NULL when the line passes them all)."""
    rules = rules or CleaningRules()
    t = lines.select(*SOURCE_COLUMNS)
    t = t.group_by(list(SOURCE_COLUMNS)).aggregate(copies=t.count())
    # Text tests run once per distinct invoice and stock code (tens of thousands), not once
    # per line: string functions over a million lines cost more than the joins.
    invoices = t.select(flag_invoice=t.invoice).distinct()
    head = invoices.flag_invoice.strip().upper()
    invoices = invoices.mutate(
        flag_cancel=head.startswith("C").fill_null(False),
        flag_bad_debt=head.startswith("A").fill_null(False),
    )
    codes = t.select(flag_code=t.stock_code).distinct()
    codes = codes.mutate(flag_non_product=_non_product(codes.flag_code, rules).fill_null(False))
    t = t.left_join(invoices, t.invoice == invoices.flag_invoice).left_join(
        codes, t.stock_code == codes.flag_code
    )
    t = t.select(
        *SOURCE_COLUMNS,
        "copies",
        is_cancellation=t.flag_cancel.fill_null(False),
        is_bad_debt=t.flag_bad_debt.fill_null(False),
        is_non_product=t.flag_non_product.fill_null(False),
    )
    t = t.mutate(
        weight=ibis.literal(1, "int64") if rules.drop_duplicates else t.copies,
        price_milli=(t.price * MILLI).round().cast("int64"),
    )
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
        pair_customer=t.customer_id,
        pair_stock=t.stock_code.fill_null(""),
    ).drop("is_bad_debt", "is_non_product")


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


def _with_matching(distinct: ibis.Table) -> ibis.Table:
    """Matches returns to purchases and books them against the orders they cancel.

    Adds, per line, ``unmatched`` (the units of a kept return that no earlier purchase of the
    same customer and stock code explains; 0 elsewhere), ``kept_money`` (what the line leaves in
    the invoice table, in thousandths), ``returned_money`` (the money of a purchase line that
    later returns took back) and ``survives`` (a purchase line with units nobody returned).

    Only the lines of (customer, stock code) pairs with a kept return go through the windows.
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
    kept = distinct.filter(distinct.fate.isnull() & distinct.customer_id.notnull())
    pairs = kept.filter(kept.is_return).select(*_PAIR).distinct()
    involved = kept.semi_join(pairs, _PAIR)
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
    step = _booked(step)
    others = distinct.filter(distinct.fate.notnull() | distinct.customer_id.isnull()).union(
        kept.anti_join(pairs, _PAIR), distinct=False
    )
    others = others.mutate(
        unmatched=ibis.literal(0, "int64"),
        kept_money=(others.weight * others.quantity * others.price_milli).cast("int64"),
        returned_money=ibis.literal(0, "int64"),
        survives=others.quantity > 0,
    )
    return others.union(step.select(*others.columns), distinct=False)


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


def parts_of(distinct: ibis.Table) -> ibis.Table:
    """Stage 2: from :func:`distinct_lines`, one row per (invoice, fate) with the columns of
    :data:`PART_COLUMNS` (money in integer thousandths). The (invoice, NULL) row holds the
    lines that passed the removal rules, before return matching: ``removed_lines`` of them left
    as fully unmatched returns; ``kept_money_milli`` is the money of what stays, with matched
    returns booked against the purchases they cancel (see :func:`_with_matching`);
    ``returned_money_milli`` is what returns took back from this invoice's purchases, and
    ``surviving_lines`` counts its purchase lines with units nobody returned (0 on an order
    cancelled in full)."""
    t = _with_matching(distinct)
    # A distinct line stands for ``weight`` identical lines of ``quantity`` units: its
    # ``unmatched`` units are the last ones, so ``unmatched // |quantity|`` whole lines leave
    # and a remainder leaves one line partly matched.
    size = ibis.greatest(-t.quantity, 1)
    full = ibis.ifelse(t.unmatched > 0, t.unmatched // size, 0)
    touched = full + ibis.ifelse((t.unmatched > 0) & (t.unmatched % size > 0), 1, 0)
    t = t.mutate(
        full=full.cast("int64"),
        touched=touched.cast("int64"),
        line_money=t.weight * t.quantity * t.price_milli,
        missing=t.customer_id.isnull(),
    )
    kept_parts = t.group_by(["invoice", "fate"]).aggregate(
        is_cancellation=t.is_cancellation.max(),
        customer_id=t.customer_id.min(),
        invoice_date=t.invoice_date.min(),
        country=t.country.min(),
        lines=t.weight.sum(),
        money_milli=t.line_money.sum(),
        removed_lines=t.full.sum(),
        kept_money_milli=t.kept_money.sum(),
        returned_money_milli=t.returned_money.sum(),
        surviving_lines=ibis.ifelse(t.survives, t.weight, 0).sum(),
        unmatched_lines=t.touched.sum(),
        unmatched_money_milli=(-t.unmatched * t.price_milli).sum(),
        missing_lines=ibis.ifelse(t.missing, t.weight, 0).sum(),
        missing_money_milli=ibis.ifelse(t.missing, t.line_money, 0).sum(),
    )
    dups = distinct.filter(distinct.copies > distinct.weight)
    extra = dups.copies - dups.weight
    zero = ibis.literal(0, "int64")
    dup_parts = dups.group_by("invoice").aggregate(
        fate=ibis.literal("duplicates"),
        is_cancellation=dups.is_cancellation.max(),
        customer_id=dups.customer_id.min(),
        invoice_date=dups.invoice_date.min(),
        country=dups.country.min(),
        lines=extra.sum(),
        money_milli=(extra * dups.quantity * dups.price_milli).sum(),
    )
    dup_parts = dup_parts.mutate(**{c: zero for c in PART_COLUMNS if c not in dup_parts.columns})
    return kept_parts.select(*PART_COLUMNS).union(dup_parts.select(*PART_COLUMNS), distinct=False)


#: Name of the first stage in :func:`cleaning_sql`'s statement.
STAGE_TABLE = "distinct_lines"


def cleaning_sql(lines: ibis.Table, rules: CleaningRules | None, dialect: str, then=None) -> str:
    """The whole cleaning as one SQL statement for ``dialect``, with the first stage
    (:func:`distinct_lines`) as a common table expression that the second (``then``:
    :func:`parts_of`, or :func:`product_parts` for the product lines) reads several times.

    ibis inlines a subquery at each place it is used; written as a CTE, the database computes
    the stage once (PostgreSQL materialises a CTE used more than once; ``MATERIALIZED`` says
    so explicitly where the dialect has it)."""
    stage = distinct_lines(lines, rules)
    first = ibis.to_sql(stage, dialect=dialect)
    second_stage = (then or parts_of)(ibis.table(stage.schema(), name=STAGE_TABLE))
    second = ibis.to_sql(second_stage, dialect=dialect)
    quote = "`" if dialect in ("pyspark", "databricks", "mysql", "bigquery") else '"'
    keyword = " MATERIALIZED" if dialect in ("postgres", "duckdb") else ""
    head = f"WITH {quote}{STAGE_TABLE}{quote} AS{keyword} (\n{first}\n)"
    if second.lstrip().upper().startswith("WITH "):
        return head + ",\n" + second.lstrip()[5:]
    return head + "\n" + second


def invoice_parts(lines: ibis.Table, rules: CleaningRules | None = None) -> ibis.Table:
    """The whole cleaning of ``lines`` as one expression (:func:`distinct_lines`, then
    :func:`parts_of`): one row per (invoice, fate), columns :data:`PART_COLUMNS`."""
    return parts_of(distinct_lines(lines, rules))


#: Columns of the result of :func:`product_parts`.
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

#: Words that end many descriptions without naming the product: colours, patterns and design
#: themes, sizes, and the connectors they leave behind ("SET OF 4 FRUITS"). Dropped from the
#: end of a description before its last word is taken as the product type
#: (:func:`product_type`). Chosen by revenue on the Online Retail II extract.
PRODUCT_TYPE_STOP_WORDS: tuple[str, ...] = (
    # colours
    "RED", "PINK", "BLUE", "GREEN", "WHITE", "BLACK", "IVORY", "CREAM", "GOLD", "SILVER",
    "PURPLE", "YELLOW", "ORANGE", "BROWN", "GREY", "GRAY", "TURQUOISE", "LILAC", "COLOUR",
    "COLOURS", "COLOURED", "PASTEL", "BRIGHT", "NATURAL", "CLEAR",
    # patterns and design themes
    "RETROSPOT", "RETRO", "POLKADOT", "POLKADOTS", "SPOTTY", "SPOT", "SPOTS", "DOT", "DOTS",
    "DOTTY", "STRIPE", "STRIPES", "STRIPEY", "STRIPED", "PAISLEY", "FLORAL", "FLOWER",
    "FLOWERS", "DESIGN", "DESIGNS", "STYLE", "VINTAGE", "ASSORTED", "WOODLAND", "ANIMALS",
    "SPACEBOY", "DOLLY", "GIRL", "CIRCUS", "PARADE", "SKULL", "SKULLS", "FRUIT", "FRUITS",
    "APPLE", "APPLES", "LONDON", "LOVE", "CHRISTMAS", "MAGIC", "GARDEN", "RUSTIC",
    "SCANDINAVIAN", "ROSE", "ROSES", "SUKI",
    # sizes
    "SMALL", "LARGE", "MEDIUM", "MINI", "JUMBO", "BIG", "TALL", "GIANT", "TIER", "PIECE",
    # connectors
    "OF", "WITH", "AND", "IN", "FOR", "THE",
)  # fmt: skip


def product_type(description: ibis.Value) -> ibis.Value:
    """The product type derived from a description, the same on every engine (a heuristic:
    the data have no category column). Letters only (any other character, digits and
    non-ASCII letters included, separates words), upper-cased; trailing single letters and
    :data:`PRODUCT_TYPE_STOP_WORDS` dropped (never the first word); the last word left, in
    the singular (``-IES`` -> ``-Y``; ``-XES``, ``-SHES``, ``-CHES``, ``-SSES`` lose ``ES``;
    another final ``S`` after a letter other than ``S`` goes). NULL for a description
    without letters. "WHITE HANGING HEART T-LIGHT HOLDER" -> ``HOLDER``, "JUMBO BAG RED
    RETROSPOT" -> ``BAG``, "PACK OF 72 RETROSPOT CAKE CASES" -> ``CASE``.

    Written with regular expressions every engine reads alike (POSIX classes and anchors,
    no back-references, no word boundaries: PostgreSQL's ``\\b`` is not a word boundary)."""
    words = description.re_replace("[^A-Za-z]+", " ").upper().re_replace("^ +| +$", "")
    stop = "( (" + "|".join(PRODUCT_TYPE_STOP_WORDS) + "|[A-Z]))+$"
    last = words.re_replace(stop, "").re_replace("^.* ", "")
    size = last.length()
    singular = ibis.cases(
        (last.re_search("IES$"), last.substr(0, size - 3) + "Y"),
        (last.re_search("(XES|SHES|CHES|SSES)$"), last.substr(0, size - 2)),
        (last.re_search("[^S]S$"), last.substr(0, size - 1)),
        else_=last,
    )
    return singular.nullif("")


def product_parts(distinct: ibis.Table) -> ibis.Table:
    """From :func:`distinct_lines`, the lines that stay after every rule, one row per
    (invoice, stock code): ``units`` kept (units sold on a purchase; a return's matched units,
    negative, its unmatched ones removed as in the invoice table), ``money_milli`` as the
    invoice table books it (a return's money on the order it cancels, which is the same stock
    code), ``description`` the smallest of the invoice's descriptions of the code. The same
    rules as :func:`parts_of`: summed over an invoice's codes, ``money_milli`` is its
    ``kept_money_milli``. ``product_type``: :func:`product_type` of ``description``, computed
    once per distinct description of the lines (a few thousand) and joined back."""
    t = _with_matching(distinct)
    t = t.filter(t.fate.isnull())
    t = t.mutate(kept_units=t.weight * t.quantity + t.unmatched)
    out = t.group_by(["invoice", "stock_code"]).aggregate(
        description=t.description.min(),
        customer_id=t.customer_id.min(),
        invoice_date=t.invoice_date.min(),
        country=t.country.min(),
        is_cancellation=t.is_cancellation.max(),
        units=t.kept_units.sum(),
        money_milli=t.kept_money.sum(),
    )
    out = out.filter(out.units != 0)
    described = distinct.select(type_description=distinct.description).distinct()
    described = described.mutate(product_type=product_type(described.type_description))
    out = out.left_join(described, out.description == described.type_description)
    return out.select(*PRODUCT_COLUMNS)
