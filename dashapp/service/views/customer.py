"""The customer page: one customer's invoices, RFM over time, predicted purchases, CLV and
P(alive) over time, and the recommended action (:mod:`dashapp.analytics.customer`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from dashapp.analytics import customer as one
from dashapp.analytics.clv import holdout
from dashapp.analytics.products import customer_lines, customer_products, customer_types
from dashapp.ingest.errors import DataLoadError
from dashapp.service import params
from dashapp.service.caching import memoized
from dashapp.service.filters import Filters
from dashapp.service.results import View
from dashapp.service.store import DataPreparing, cleaned, filtered_orders, filtered_products
from dashapp.service.views.clv import clv_fit, clv_view, customer_explanation
from dashapp.service.views.dataset import analysed_range
from dashapp.service.views.migration import monthly_states
from dashapp.service.views.rfm import rfm_table

#: The CLV settings the customer page reads from the URL (the CLV page's keys).
CLV_SETTINGS = params.CLV_VALUE_PARAMS[:4]


@dataclass(frozen=True, kw_only=True)
class CustomerView(View):
    """``customer_id``; ``country`` (of most invoices) and ``countries``; ``invoices``
    (:data:`~dashapp.analytics.customer.INVOICE_COLUMNS`, oldest first); ``rfm`` (the
    customer's row of the RFM table: scores, segment, recency...); ``history`` (one row per
    month end: RFM scores and state, and, when the model could be fitted, ``p_alive`` and
    ``expected_purchases`` over the horizon as of that day); ``clv`` (the CLV page's row:
    ``p_alive``, ``expected_purchases``, ``clv``... or None); ``action``/``why``; ``notes``
    (e.g. why there is no prediction); ``products`` (the customer's top products by net
    revenue, None when the source has no product lines); ``types`` (the customer's top
    product types by net revenue, derived from the descriptions, or None). The machine-learned
    forecast taken apart is :func:`customer_explanation_view`, computed apart (it trains a
    model: the rest of the page does not wait for it)."""

    customer_id: str = ""
    country: str = ""
    countries: list[str] = field(default_factory=list)
    invoices: pd.DataFrame | None = None
    rfm: pd.Series | None = None
    history: pd.DataFrame | None = None
    clv: pd.Series | None = None
    products: pd.DataFrame | None = None
    types: pd.DataFrame | None = None
    action: str = ""
    why: str = ""
    notes: list[str] = field(default_factory=list)


def customer_view(
    filters: Filters,
    customer_id=None,
    model=params.CLV_MODEL.default,
    horizon_months=params.CLV_HORIZON.default,
    margin_pct=params.CLV_MARGIN.default,
    annual_discount_pct=params.CLV_DISCOUNT.default,
    r_cuts=None,
    f_cuts=None,
    m_cuts=None,
) -> CustomerView:
    """One customer under the filters. A blank id, an id the dataset does not hold and one the
    filters leave out each get their own ``reason``; bad settings raise
    :class:`~dashapp.service.params.ParamError`."""
    raw_id = params.CUSTOMER_ID.parse(customer_id)
    clv_args = params.parse_all(
        zip(CLV_SETTINGS, (model, horizon_months, margin_pct, annual_discount_pct), strict=True)
    )
    thresholds = params.thresholds(r_cuts, f_cuts, m_cuts)
    if not raw_id:
        return CustomerView(reason="Enter a customer id to see that customer.")
    return _customer_view(filters, one.normal_id(raw_id), *clv_args, thresholds)


def _absent(filters: Filters, customer_id: str) -> str:
    everyone = cleaned(filters.dataset, filters.rules).orders["customer_id"]
    if customer_id in set(everyone.cat.categories.astype(str)):
        where = []
        if filters.start or filters.end:
            where.append(f"from {filters.start or 'the start'} to {filters.end or 'the end'}")
        if filters.countries:
            where.append("in " + ", ".join(filters.countries))
        return (
            f"Customer {customer_id} has no purchase under the current filters "
            f"({'; '.join(where) or 'none'}). Widen the date range or clear the country filter."
        )
    return f"There is no customer {customer_id!r} in this dataset. Check the id."


@memoized
def _customer_view(
    dataset, version, start, end, countries, rules, customer_id, model, horizon, margin,
    discount, thresholds,
) -> CustomerView:  # fmt: skip
    filters = Filters.of(dataset, start, end, countries, rules)
    scored = rfm_table(filters, None, thresholds)
    if customer_id not in scored.index:
        return CustomerView(reason=_absent(filters, customer_id), customer_id=customer_id)
    orders = filtered_orders(filters)
    mine = (orders["customer_id"] == customer_id).to_numpy(dtype=bool, na_value=False)
    invoices = one.invoices_of(orders[mine], customer_id)
    country, countries_seen = one.main_country(invoices)
    monthly = monthly_states(filters, None, thresholds)
    history = monthly[monthly["customer_id"] == customer_id].drop(columns="customer_id")
    history = history.reset_index(drop=True)
    notes: list[str] = []
    values = clv_view(filters, model, horizon, margin, discount)
    row = None
    if values.reason:
        notes.append(f"No prediction: {values.reason}")
    else:
        assert values.customers is not None
        table = values.customers.set_index("customer_id")
        row = table.loc[customer_id] if customer_id in table.index else None
        fit = clv_fit(filters, model)
        log = holdout.purchase_log(orders[mine])  # the customer's purchases
        alive = one.alive_history(fit.purchase, log, list(history["month_end"]), horizon)
        history = history.merge(alive, on="month_end", how="left")
    top = types = None
    try:
        lines = customer_lines(filtered_products(filters), customer_id)
        top, types = customer_products(lines, customer_id), customer_types(lines, customer_id)
    except DataPreparing:
        raise  # not cached: the next request gets the product lines
    except DataLoadError as exc:
        notes.append(f"No products: {exc}")
    p_alive = None if row is None else float(row["p_alive"])
    action, why = one.recommendation(scored.loc[customer_id], p_alive)
    return CustomerView(
        customer_id=customer_id,
        country=country,
        countries=countries_seen,
        invoices=invoices,
        rfm=scored.loc[customer_id],
        history=history,
        clv=row,
        products=top,
        types=types,
        action=action,
        why=why,
        notes=notes,
    )


@dataclass(frozen=True, kw_only=True)
class CustomerExplanationView(View):
    """The machine-learned forecast of one customer taken apart (``explanation``:
    :func:`~dashapp.service.views.clv.customer_explanation`, with ``attrs["horizon_days"]``),
    or None and ``note`` saying why not. ``reason`` is set (and nothing else) when there is no
    customer to explain: the customer view says why."""

    explanation: pd.DataFrame | None = None
    note: str = ""


def customer_explanation_view(filters: Filters, customer_id=None) -> CustomerExplanationView:
    """The explanation of the customer :func:`customer_view` shows (a blank, unknown or
    filtered-out id gets only a ``reason``); bad input raises
    :class:`~dashapp.service.params.ParamError`."""
    raw_id = params.CUSTOMER_ID.parse(customer_id)
    if not raw_id:
        return CustomerExplanationView(reason="no customer")
    return _customer_explanation_view(filters, one.normal_id(raw_id))


@memoized
def _customer_explanation_view(
    dataset, version, start, end, countries, rules, customer_id
) -> CustomerExplanationView:
    filters = Filters.of(dataset, start, end, countries, rules)
    if customer_id not in rfm_table(filters).index:  # the customer view says why
        return CustomerExplanationView(reason="no such customer under the filters")
    try:
        return CustomerExplanationView(explanation=customer_explanation(filters, customer_id))
    except ValueError as exc:
        return CustomerExplanationView(note=f"No explanation: {exc}")
    except KeyError:
        return CustomerExplanationView(
            note=f"No explanation: customer {customer_id} has no purchase in the analysed "
            "range for the machine-learned model to score (returns only)."
        )


def as_of(filters: Filters) -> pd.Timestamp | None:
    """The as-of day of the customer's current scores (the day after the range)."""
    rng = analysed_range(filters)
    return None if rng is None else rng[1].normalize() + pd.Timedelta(days=1)
