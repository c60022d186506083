"""Segment migration, the customer page and the countries view on the real extract: service
views and page callbacks called as the browser calls them."""

from __future__ import annotations

import pandas as pd
import pytest

from dashapp import service
from dashapp.analytics import migration as mig
from dashapp.analytics import rfm
from dashapp.service import params
from dashapp.service.views import customer as customer_views
from dashapp.service.views import geo as geo_views
from dashapp.service.views import migration as views

CLV = {"clv_model": "bgnbd", "clv_horizon": "12", "clv_margin": "30", "clv_discount": "10"}


def test_default_periods_are_the_last_full_quarter_and_the_one_before(filters):
    view = views.migration_view(filters)
    assert view.reason is None
    assert (view.first.label, view.second.label) == ("2011Q2", "2011Q3")
    table = view.customers
    assert table["customer_id"].is_unique
    # the state at the second end is the RFM table's segment as of that day, exactly
    scored = rfm.rfm_scores(
        rfm.customer_rfm(
            service.filtered_orders(filters).pipe(
                lambda o: o[o["invoice_date"] < pd.Timestamp("2011-10-01")]
            ),
            as_of="2011-10-01",
        )
    )
    to = table.set_index("customer_id")["to_state"]
    assert (to == scored["segment"].reindex(to.index)).all() and len(to) == len(scored)
    # the matrix and the net change agree with the customer list
    assert int(view.counts.to_numpy().sum()) == len(table)
    net = view.net.set_index("state")
    for state in rfm.SEGMENT_ORDER:
        assert net.loc[state, "customers_second"] == int((table["to_state"] == state).sum())
        assert net.loc[state, "customers_first"] == int((table["from_state"] == state).sum())
    assert net.loc[mig.NEW, "customers_first"] == int((table["from_state"] == mig.NEW).sum())
    # monthly sizes: the last month end is the RFM page's segment count
    last = view.sizes[view.sizes["month_end"] == view.sizes["month_end"].max()]
    page = service.rfm_view(filters).summary.set_index("segment")["customers"]
    assert last.set_index("state")["customers"].reindex(page.index).tolist() == page.tolist()


def test_the_rfm_pages_cut_points_carry_over_and_bad_periods_are_named(filters):
    cut = views.migration_view(filters, "month", None, None, None, "14,30,90,180")
    plain = views.migration_view(filters, "month")
    assert cut.second.label == plain.second.label == "2011-11"
    assert not cut.customers["to_state"].equals(plain.customers["to_state"])
    with pytest.raises(params.ParamError, match="must come before the second period"):
        views.migration_view(filters, "quarter", "2011-08-01", "2011-07-01")
    with pytest.raises(params.ParamError, match="Second period must be a date from"):
        views.migration_view(filters, "quarter", None, "2013-01-01")
    with pytest.raises(params.ParamError, match="History window"):
        views.migration_view(filters, "quarter", None, None, 0)
    # a partial second period is said so
    partial = views.migration_view(filters, "month", None, "2011-12-05")
    assert partial.second.partial and any("not over" in n for n in partial.notes)


def test_a_window_makes_lapsed_customers_and_a_country_filter_shrinks_the_view(filters):
    windowed = views.migration_view(filters, "quarter", None, None, 6)
    assert (windowed.customers["to_state"] == mig.LAPSED).sum() > 0
    france = service.Filters.build(dataset=filters.dataset, countries=["France"])
    view = views.migration_view(france)
    assert 0 < len(view.customers) < len(views.migration_view(filters).customers)
    tiny = service.Filters.build(dataset=filters.dataset, start="2011-12-08", end="2011-12-09")
    assert views.migration_view(tiny).reason  # no earlier period inside the range


def test_customer_view_and_its_messages(filters):
    view = customer_views.customer_view(filters, "12490.0", *CLV.values())
    assert view.reason is None and view.customer_id == "12490"
    assert view.country == "France"
    assert view.rfm["segment"] == service.rfm_table(filters).loc["12490", "segment"]
    assert len(view.invoices) >= view.rfm["frequency"]
    assert view.history["month_end"].is_monotonic_increasing
    assert view.history["p_alive"].between(0, 1).all()
    clv = service.clv_view(filters).customers.set_index("customer_id").loc["12490"]
    assert view.clv["clv"] == clv["clv"]
    # the last month end is the range's end: P(alive) there is the CLV page's
    assert abs(view.history["p_alive"].iloc[-1] - clv["p_alive"]) < 1e-3
    assert view.action and "P(alive)" in view.why
    assert "no customer '99999'" in customer_views.customer_view(filters, "99999").reason
    spain = service.Filters.build(dataset=filters.dataset, countries=["Spain"])
    assert "no purchase under the current filters" in (
        customer_views.customer_view(spain, "12490").reason
    )
    assert customer_views.customer_view(filters, "").reason.startswith("Enter a customer id")
    with pytest.raises(params.ParamError):
        customer_views.customer_view(filters, "x" * 65)


def test_countries_view(filters):
    view = geo_views.country_view(filters)
    table = view.table
    assert view.reason is None and set(table["country"]) == set(
        service.filtered_orders(filters)["country"].dropna().astype(str)
    )
    assert abs(table["revenue"].sum() - service.filtered_orders(filters)["revenue"].sum()) < 0.05
    assert table["customers"].sum() == len(service.rfm_table(filters))
    assert list(view.unplaced["country"]) == ["Unspecified"]
    assert table["churn_risk"].dropna().between(0, 1).all()


def test_products_view(filters):
    from dashapp.service.views import products as product_views

    # prepared first: the Products page's views wait 1 s for them, then ask again by themselves
    service.store.products(filters.dataset, filters.rules, wait_s=600)
    view = product_views.product_view(filters)
    table = view.table
    assert view.reason is None and table["stock_code"].is_unique
    # net revenue of all products = net revenue of the invoice table (same cleaning)
    orders = service.filtered_orders(filters)
    assert abs(table["revenue"].sum() - orders["revenue"].sum()) < 0.05
    assert abs(table["best_share"].sum() - 1) < 1e-9 and abs(table["rest_share"].sum() - 1) < 1e-9
    assert view.n_best == int((service.rfm_table(filters)["segment"] == "Champions").sum())
    assert (table["returns_rate"].dropna() >= 0).all()
    assert view.lift["lift_low"].is_monotonic_decreasing  # ranked conservatively
    assert (view.lift["in_segment"] >= params.PRODUCT_MIN_BUYERS.default).all()
    assert (view.lift["lift_low"] <= view.lift["lift"]).all()
    assert (view.lift["lift"] <= view.lift["lift_high"]).all()
    loose = product_views.segment_lift_view(filters, "Champions", 1)
    assert len(loose) == len(view.lift) + view.lift.attrs["below"]
    with pytest.raises(service.ParamError, match="Fewest segment buyers"):
        product_views.segment_lift_view(filters, "Champions", 0)
    # by product type: every product under one type, the revenue adds up
    types = view.types
    assert types["product_type"].is_unique and types["products"].sum() == len(table)
    assert abs(types["revenue"].sum() - table["revenue"].sum()) < 0.05
    assert types["customers"].max() <= len(service.rfm_table(filters))
    top = product_views.product_view(filters, "At Risk", "top_clv")
    assert top.n_best == round(0.2 * len(service.clv_view(filters).customers))
    spain = service.Filters.build(dataset=filters.dataset, countries=["Spain"], end="2010-12-31")
    small = product_views.product_view(spain)
    assert 0 < small.table["revenue"].sum() < table["revenue"].sum()
    # the customer page's top products: the customer's own lines
    mine = customer_views.customer_view(filters, "12490").products
    assert len(mine) == 10 and mine["revenue"].is_monotonic_decreasing
