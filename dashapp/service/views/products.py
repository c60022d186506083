"""The Products page: top products by revenue and by customers, returns rate, what the best
customers buy, and the products that distinguish a segment (:mod:`dashapp.analytics.products`)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pandas as pd

from dashapp.analytics import products
from dashapp.service import params
from dashapp.service.caching import memoized
from dashapp.service.filters import Filters
from dashapp.service.results import View, empty_reason
from dashapp.service.store import filtered_products
from dashapp.service.views.clv import clv_view
from dashapp.service.views.rfm import rfm_table

#: The CLV settings read from the URL (the CLV page's keys), for "top 20% by CLV".
CLV_SETTINGS = params.CLV_VALUE_PARAMS[:4]
#: Share of customers counted as the best by predicted CLV.
TOP_CLV_SHARE = 0.2
#: How long the page's views wait for product lines still being prepared (a fresh process:
#: their background job) before raising DataPreparing; the page says so and asks again.
LINES_WAIT_S = 1.0


@dataclass(frozen=True, kw_only=True)
class ProductView(View):
    """``table`` (:data:`~dashapp.analytics.products.COLUMNS`, largest revenue first),
    ``lift`` (the segment's distinguishing products with descriptions), ``types`` (by product
    type, :data:`~dashapp.analytics.products.TYPE_COLUMNS`), ``best_label`` (who the best
    customers are), ``n_best``, ``notes``."""

    table: pd.DataFrame | None = None
    lift: pd.DataFrame | None = None
    types: pd.DataFrame | None = None
    best_label: str = ""
    n_best: int = 0
    notes: list[str] = field(default_factory=list)


def product_view(
    filters: Filters,
    segment=params.PRODUCT_SEGMENT.default,
    best=params.PRODUCT_BEST.default,
    model=params.CLV_MODEL.default,
    horizon_months=params.CLV_HORIZON.default,
    margin_pct=params.CLV_MARGIN.default,
    annual_discount_pct=params.CLV_DISCOUNT.default,
    min_buyers=params.PRODUCT_MIN_BUYERS.default,
) -> ProductView:
    """Products under the filters, with the segment's lift and the table by product type
    (settings validated by their declarations)."""
    base = product_table_view(filters, best, model, horizon_months, margin_pct,
                              annual_discount_pct)  # fmt: skip
    if base.reason:
        return base
    return replace(
        base,
        lift=segment_lift_view(filters, segment, min_buyers),
        types=product_type_view(filters),
    )


def product_table_view(
    filters: Filters,
    best=params.PRODUCT_BEST.default,
    model=params.CLV_MODEL.default,
    horizon_months=params.CLV_HORIZON.default,
    margin_pct=params.CLV_MARGIN.default,
    annual_discount_pct=params.CLV_DISCOUNT.default,
) -> ProductView:
    """The product table for the best customers, without the lift (the page's charts and
    grid: a segment change does not touch them)."""
    values = params.parse_all(
        zip(
            (params.PRODUCT_BEST, *CLV_SETTINGS),
            (best, model, horizon_months, margin_pct, annual_discount_pct),
            strict=True,
        )
    )
    return _product_table(filters, *values)


def segment_lift_view(
    filters: Filters,
    segment=params.PRODUCT_SEGMENT.default,
    min_buyers=params.PRODUCT_MIN_BUYERS.default,
) -> pd.DataFrame:
    """The products that distinguish ``segment``, bought by at least ``min_buyers`` of its
    customers (:func:`~dashapp.analytics.products.segment_lift`: buyers in and out of the
    segment, the lift's 95 % range; ``attrs`` the segment's size and the products below the
    minimum), ranked by the lower end of the lift's 95 % range."""
    values = params.parse_all(
        ((params.PRODUCT_SEGMENT, segment), (params.PRODUCT_MIN_BUYERS, min_buyers))
    )
    return _segment_lift(filters, *values)


def product_type_view(filters: Filters) -> pd.DataFrame:
    """Net revenue, customers, products and returns rate by product type (derived from the
    descriptions: :func:`~dashapp.ingest.engine.product_type.product_type`), largest revenue
    first (:func:`~dashapp.analytics.products.type_table`)."""
    return _type_table(filters)


@memoized
def _product_table(
    dataset, version, start, end, countries, rules, best, model, horizon, margin, discount
) -> ProductView:
    """The product table for the best customers (a segment change does not recompute it)."""
    filters = Filters.of(dataset, start, end, countries, rules)
    lines = filtered_products(filters, LINES_WAIT_S)
    scored = rfm_table(filters)
    if lines.empty or scored.empty:
        return ProductView(reason=empty_reason(0))
    notes: list[str] = []
    if best == "top_clv":
        values = clv_view(filters, model, horizon, margin, discount)
        if values.reason:
            return ProductView(reason=f"No predicted CLV to rank customers by: {values.reason}")
        assert values.customers is not None
        ranked = values.customers.sort_values("clv", ascending=False)
        chosen = set(ranked["customer_id"].head(max(1, round(TOP_CLV_SHARE * len(ranked)))))
        label = f"the top {TOP_CLV_SHARE:.0%} of customers by predicted CLV"
    else:
        chosen = set(scored.index[scored["segment"] == "Champions"])
        label = "Champions"
    if not chosen:
        notes.append(f"No customer is among {label} under these filters.")
    table = products.product_table(lines, chosen)
    return ProductView(table=table, best_label=label, n_best=len(chosen), notes=notes)


@memoized
def _segment_lift(
    dataset, version, start, end, countries, rules, segment, min_buyers
) -> pd.DataFrame:
    filters = Filters.of(dataset, start, end, countries, rules)
    scored = rfm_table(filters)
    return products.segment_lift(
        filtered_products(filters, LINES_WAIT_S), scored["segment"], segment, min_buyers
    )


@memoized
def _type_table(dataset, version, start, end, countries, rules) -> pd.DataFrame:
    filters = Filters.of(dataset, start, end, countries, rules)
    return products.type_table(filtered_products(filters, LINES_WAIT_S))
