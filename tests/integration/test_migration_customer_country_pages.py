"""The Segment migration, Customer and Countries pages' callbacks, called over HTTP as the
browser calls them, and their layouts, on the session's app over the real extract (no
``filters`` fixture here: it would reconfigure the service under the session's app)."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from dashapp.service import params
from tests.callback_client import CallbackClient, state_key

CLV = {"clv_model": "bgnbd", "clv_horizon": "12", "clv_margin": "30", "clv_discount": "10"}


@pytest.fixture(scope="module")
def client(extract_app, shared_sample_xlsx):
    client = CallbackClient(extract_app)
    client.dataset = shared_sample_xlsx.stem
    return client


def _reply(response):
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return response.get_json()["response"]


def test_page_callbacks(client):
    base = {state_key("dataset"): client.dataset}
    reply = _reply(client.call("update_migration", {**base, state_key("mig_period"): "quarter"}))
    sankey = reply["mig-sankey"]["figure"]["data"][0]
    assert sankey["type"] == "sankey" and sum(sankey["link"]["value"]) > 0
    # a click on a matrix cell lists that flow; the CSV holds the same customers
    click = {"points": [{"x": "Loyal Customers", "y": "Champions"}]}
    flow = _reply(client.call("pick_flow", {"mig-matrix.clickData": click}, "mig-matrix.clickData"))
    assert flow["mig-flow"]["data"] == ["Champions", "Loyal Customers"]
    # a Sankey link reports its label (the graph keeps a point's plain values); a node does not
    links = sankey["link"]["label"]
    assert "Champions → Loyal Customers" in links
    click = {"points": [{"pointNumber": 3, "label": "Champions → Loyal Customers"}]}
    flow = _reply(client.call("pick_flow", {"mig-sankey.clickData": click}, "mig-sankey.clickData"))
    assert flow["mig-flow"]["data"] == ["Champions", "Loyal Customers"]
    click = {"points": [{"pointNumber": 0, "label": "Champions (2011Q2)"}]}
    flow = _reply(client.call("pick_flow", {"mig-sankey.clickData": click}, "mig-sankey.clickData"))
    assert flow["mig-flow"]["data"] is None
    values = {"mig-flow.data": ["Champions", "Loyal Customers"], **base,
              state_key("mig_period"): "quarter"}  # fmt: skip
    # the flow's customers travel a block at a time (a flow can hold many thousands)
    block = {"startRow": 0, "endRow": 5, "sortModel": [], "filterModel": {}}
    reply = _reply(client.call("serve_mig_flow_grid", {"mig-flow-grid.getRowsRequest": block,
                                                        **values}))  # fmt: skip
    page = reply["mig-flow-grid"]["getRowsResponse"]
    count = page["rowCount"]
    assert len(page["rowData"]) == min(5, count) and count > 0
    assert f": {count:,} customers" in str(reply["mig-flow-title"]["children"])
    assert (
        reply["mig-download-btn"]["disabled"] is False and reply["mig-flow-box"]["hidden"] is False
    )
    block["endRow"] = count
    rows = _reply(client.call("serve_mig_flow_grid", {"mig-flow-grid.getRowsRequest": block,
                                                       **values}))  # fmt: skip
    rows = rows["mig-flow-grid"]["getRowsResponse"]["rowData"]
    assert len(rows) == count and {r["from_state"] for r in rows} == {"Champions"}
    csv = _reply(client.call("download_flow", {"mig-download-btn.n_clicks": 1, **values}))
    frame = pd.read_csv(io.StringIO(csv["mig-download"]["data"]["content"]), dtype=str)
    assert sorted(frame["customer_id"]) == sorted(r["customer_id"] for r in rows)
    # no flow: the grid hidden and left unanswered (dash-ag-grid 35.3 would drop the answer
    # after one of 0 rows: see components.serve_rows), the download off
    reply = _reply(client.call("serve_mig_flow_grid", {"mig-flow-grid.getRowsRequest": block,
                                                        **values, "mig-flow.data": None}))  # fmt: skip
    assert "mig-flow-grid" not in reply
    assert reply["mig-download-btn"]["disabled"] is True and reply["mig-flow-box"]["hidden"] is True
    # the customer page
    values = {**base, state_key("id"): "12490", **{state_key(k): v for k, v in CLV.items()}}
    reply = _reply(client.call("update_customer", values))
    assert reply["cust-invoices"]["rowData"] and reply["cust-message"]["children"] is None
    assert "cust-types-table" in str(reply["cust-types"])
    # the explanation is its own callback (it trains a model the rest need not wait for)
    assert "cust-explain" not in reply
    explain = {**base, state_key("id"): "12490"}
    reply = _reply(client.call("update_customer_explanation", explain))
    waterfall = reply["cust-explain"]["figure"]["data"][0]
    assert waterfall["type"] == "waterfall" and waterfall["y"][-1] == "This customer"
    assert "trained on" in str(reply["cust-explain-note"]["children"])
    values[state_key("id")] = "no-such-id"
    reply = _reply(client.call("update_customer", values))
    assert "no customer 'no-such-id'" in str(reply["cust-message"]["children"])
    for wrong in ("no-such-id", "", "x" * 500):  # blank, unknown, refused: left blank
        reply = _reply(client.call("update_customer_explanation", {**base, state_key("id"): wrong}))
        assert reply["cust-explain"]["figure"]["data"] == []
        assert reply["cust-explain-note"]["children"] is None
    # countries: the map and a click that filters the app
    values = {**base, **{state_key(k): v for k, v in CLV.items()}, state_key("geo_measure"): "clv"}
    maps = _reply(client.call("update_countries", values))["geo-map-choices"]["data"]
    assert set(maps) == set(params.COUNTRY_MEASURE.values)
    assert "FRA" in maps["revenue"]["data"][0]["locations"]
    # a click on a country sets the filter in the browser (tests/browser/test_callback_rounds.py)


@pytest.mark.parametrize(
    "page, query",
    [
        ("migration", {"mig_period": "month", "r_cuts": "14,30,90,180"}),
        ("customer", {"id": "12490"}),
        ("customer", {"customer_id": "12490"}),  # /customer/12490
        ("customer", {}),
        ("countries", {"geo_measure": "churn"}),
        ("products", {"prod_segment": "At Risk", "prod_best": "top_clv", "prod_min_buyers": "5"}),
    ],
)
def test_page_layouts_render(extract_app, page, query):
    import importlib

    module = importlib.import_module(f"dashapp.web.pages.{page}")
    with extract_app.server.test_request_context("/"):
        tree = module.layout(**query)
    assert "filter-bar" in str(tree)


def test_docs_sections_fill_their_tables():
    from dashapp.analytics.geo import UNPLACED
    from dashapp.web.help import SECTIONS, section_markdown

    assert {"migration", "customer", "countries"} <= dict(SECTIONS).keys()
    text = section_markdown("migration")
    assert "`mig_window`" in text and "`mig_period`" in text and "{" not in text
    countries = section_markdown("countries")
    assert all(name in countries for name in UNPLACED) and "{" not in countries
    assert "/customer?id=13085" in section_markdown("customer")


def test_products_page_callback(client):
    from dashapp import service

    # prepared first: the Products page's views wait 1 s for them, then ask again by themselves
    extract = service.Filters.build(dataset=client.dataset)
    service.store.products(extract.dataset, extract.rules, wait_s=600)
    values = {
        state_key("dataset"): client.dataset,
        **{state_key(k): v for k, v in CLV.items()},
        state_key("prod_best"): "champions",
    }
    reply = _reply(client.call("update_products", values))
    assert reply["prod-revenue"]["figure"]["data"][0]["type"] == "bar"
    assert "prod-grid" not in reply and "prod-lift" not in reply  # rows and lift apart
    # the grid asks for a block of rows: only those travel, largest revenue first
    request = {"startRow": 0, "endRow": 100, "sortModel": [], "filterModel": {}}
    page = _reply(client.call("serve_prod_grid", {"prod-grid.getRowsRequest": request, **values}))
    rows, count = (
        page["prod-grid"]["getRowsResponse"]["rowData"],
        page["prod-grid"]["getRowsResponse"]["rowCount"],
    )
    assert len(rows) == 100 < count and rows[0]["revenue"] >= rows[-1]["revenue"]
    # a segment change re-renders the lift alone
    lift = {state_key("dataset"): client.dataset, state_key("prod_segment"): "Loyal Customers",
            state_key("prod_min_buyers"): 10}  # fmt: skip
    reply = _reply(client.call("update_lift", lift))
    assert "Lift" in str(reply["prod-lift"]) and reply["prod-lift-message"]["children"] is None
    assert "Buyers in segment" in str(reply["prod-lift"]) and "95 % range" in str(
        reply["prod-lift"]
    )
    # nobody reaches the minimum: said, with what to do
    reply = _reply(client.call("update_lift", {**lift, state_key("prod_min_buyers"): 99_999}))
    assert "lower the fewest segment buyers" in str(reply["prod-lift"])
    reply = _reply(client.call("update_lift", {**lift, state_key("prod_min_buyers"): 0}))
    assert "Fewest segment buyers (customers) must be a whole number" in str(
        reply["prod-lift-message"]
    )
    # by product type: a chart and a table, on the filters alone
    types = _reply(client.call("update_types", {state_key("dataset"): client.dataset}))
    assert types["prod-types-chart"]["figure"]["data"][0]["type"] == "bar"
    assert "BAG" in str(types["prod-types"])
    lift[state_key("prod_segment")] = "Nobody"
    reply = _reply(client.call("update_lift", lift))
    assert "Segment to profile must be one of" in str(reply["prod-lift-message"])
    values[state_key("prod_best")] = "everyone"
    reply = _reply(client.call("update_products", values))
    assert "prod-message" in reply and "param-error" in str(reply["prod-message"])


def test_products_page_says_the_lines_are_being_prepared_and_asks_again(client, monkeypatch):
    """While the product lines are prepared (a fresh process), the page says so at once and
    starts its retry ticks; the first answer with data allows one more round, then none."""
    from dashapp import service
    from dashapp.service.views import products as product_views

    def preparing(*args, **kwargs):
        raise service.DataPreparing("The product lines of shop are being prepared.")

    for name in ("product_table_view", "segment_lift_view", "product_type_view"):
        monkeypatch.setattr(product_views, name, preparing)
    values = {
        state_key("dataset"): client.dataset,
        **{state_key(k): v for k, v in CLV.items()},
        state_key("prod_best"): "champions",
        "prod-retry.max_intervals": 0,
    }
    reply = _reply(client.call("update_products", values))
    assert "being prepared" in str(reply["prod-message"])
    assert reply["prod-retry"]["max_intervals"] == -1  # ticks until answered
    request = {"startRow": 0, "endRow": 100, "sortModel": [], "filterModel": {}}
    grid = {**values, "prod-grid.getRowsRequest": request, "prod-retry.n_intervals": 1}
    page = _reply(client.call("serve_prod_grid", grid))
    assert page["prod-grid"]["getRowsResponse"]["rowCount"] == 0
    lift = {state_key("dataset"): client.dataset, state_key("prod_segment"): "Champions",
            state_key("prod_min_buyers"): 10}  # fmt: skip
    assert _reply(client.call("update_lift", lift))["prod-lift"]["children"] is None
    monkeypatch.undo()
    ticked = {**values, "prod-retry.n_intervals": 3, "prod-retry.max_intervals": -1}
    reply = _reply(client.call("update_products", ticked, "prod-retry.n_intervals"))
    assert reply["prod-revenue"]["figure"]["data"][0]["type"] == "bar"
    assert reply["prod-retry"]["max_intervals"] == 4  # one more round, then the ticks stop
    assert (
        _reply(client.call("serve_prod_grid", grid))["prod-grid"]["getRowsResponse"]["rowCount"]
        > 100
    )
    assert "Lift" in str(_reply(client.call("update_lift", lift))["prod-lift"])
    reply = _reply(client.call("update_products", {**ticked, "prod-retry.n_intervals": 4,
                                                   "prod-retry.max_intervals": 4}))  # fmt: skip
    assert "prod-retry" not in reply  # left as it is: no more ticks
