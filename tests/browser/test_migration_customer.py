"""Segment migration (click a flow, list its customers, follow one to the customer page) and
the customer page (search box, messages) in headless Chromium."""

from __future__ import annotations

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from tests.browser.conftest import console_errors, save_screenshot, settle, wait_until

BIGGEST_LINK = """
var links = Array.from(document.querySelectorAll('#mig-sankey .sankey-link'));
if (!links.length) return null;
return links.reduce(function (a, b) {
    return a.__data__.link.value >= b.__data__.link.value ? a : b;
});
"""


def test_a_click_on_a_flow_lists_its_customers_and_links_to_the_customer(dash_duo, browser_app):
    dash_duo.start_server(browser_app)
    dash_duo.driver.get(dash_duo.server_url + "/migration?mig_period=quarter")
    dash_duo.wait_for_element("#mig-sankey .sankey-link", timeout=60)
    settle(dash_duo)
    assert "2011Q2" in dash_duo.find_element("#mig-summary").text
    link = dash_duo.driver.execute_script(BIGGEST_LINK)
    ActionChains(dash_duo.driver).move_to_element(link).pause(0.3).click().perform()
    wait_until(lambda: "→" in dash_duo.find_element("#mig-flow-title").text, what="flow title")
    title = dash_duo.find_element("#mig-flow-title").text
    dash_duo.wait_for_element("#mig-flow-grid .ag-row", timeout=30)
    shown = int(title.rsplit(":", 1)[1].split()[0].replace(",", ""))
    assert shown > 0
    from_state = title.split("→")[0].strip()

    def from_states() -> set[str]:  # the rows of the first block, once it has arrived
        cells = dash_duo.driver.find_elements(
            By.CSS_SELECTOR, "#mig-flow-grid [col-id='from_state']"
        )
        return {c.text for c in cells if c.text and c.text != "From"}

    wait_until(from_states, what="the flow's first block of rows")
    assert from_states() == {from_state}
    assert dash_duo.find_element("#mig-download-btn").is_enabled()
    save_screenshot(dash_duo, "migration-flow")
    link = dash_duo.find_element("#mig-flow-grid a.customer-link")
    customer = link.text
    assert f"id={customer}" in link.get_attribute("href")
    assert "mig_period=quarter" in link.get_attribute("href")  # the query is kept
    dash_duo.driver.execute_script("arguments[0].click();", link)
    dash_duo.wait_for_element("#cust-segment", timeout=60)
    assert dash_duo.driver.current_url.split("?")[0].endswith("/customer")
    box = dash_duo.find_element('input[id=\'{"key":"id","kind":"state"}\']')
    assert box.get_attribute("value") == customer
    assert console_errors(dash_duo) == []


def test_customer_page_path_search_and_messages(dash_duo, browser_app):
    dash_duo.start_server(browser_app)
    dash_duo.driver.get(dash_duo.server_url + "/customer/12490")
    dash_duo.wait_for_element("#cust-segment", timeout=60)
    settle(dash_duo)
    assert dash_duo.find_element("#cust-country").text == "France"
    assert "Recommended action" in dash_duo.find_element("#cust-action").text
    dash_duo.wait_for_element("#cust-timeline .scatterlayer .point", timeout=30)
    dash_duo.wait_for_element("#cust-alive .scatterlayer .point", timeout=30)
    dash_duo.wait_for_element("#cust-invoices .ag-row", timeout=30)
    # top product types beside the top products: customer 12490's largest is BAG
    types = dash_duo.find_element("#cust-types-table").text
    assert types.splitlines()[1].startswith("BAG")
    save_screenshot(dash_duo, "customer")
    box = dash_duo.find_element('input[id=\'{"key":"id","kind":"state"}\']')
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys("99999999")
    box.send_keys(Keys.ENTER)
    dash_duo.wait_for_contains_text("#cust-message", "no customer '99999999'", timeout=30)
    assert "id=99999999" in dash_duo.driver.current_url
    assert not dash_duo.driver.find_elements(By.CSS_SELECTOR, "#cust-segment")
    # filtered out: the same customer under a country they never bought in
    dash_duo.driver.get(dash_duo.server_url + "/customer?id=12490&countries=Spain")
    dash_duo.wait_for_contains_text(
        "#cust-message", "no purchase under the current filters", timeout=60
    )
    assert console_errors(dash_duo) == []


def test_products_page_grid_pages_and_a_segment_changes_the_lift_alone(dash_duo, browser_app):
    """The product grid shows blocks served by the service, largest revenue first; a segment
    change re-renders the lift table and leaves the charts and the grid alone."""
    from dashapp import service

    # the product lines ready first: while they are prepared the page asks again by itself
    # (test_products_page_fills_itself_once_the_product_lines_are_prepared)
    extract = service.Filters.build()
    service.store.products(extract.dataset, extract.rules, wait_s=120)
    dash_duo.start_server(browser_app)
    dash_duo.driver.get(dash_duo.server_url + "/products?prod_segment=Champions")
    dash_duo.wait_for_element("#prod-revenue .bars .point", timeout=60)
    dash_duo.wait_for_element("#prod-grid .ag-row", timeout=60)
    dash_duo.wait_for_element("#prod-lift table", timeout=60)
    settle(dash_duo)
    revenue = dash_duo.driver.find_elements(
        By.CSS_SELECTOR, "#prod-grid .ag-center-cols-container [col-id='revenue']"
    )
    values = [float(c.text.replace(",", "").lstrip("£")) for c in revenue if c.text]
    assert len(values) >= 5 and values == sorted(values, reverse=True)
    assert "products; the best customers are" in dash_duo.find_element("#prod-summary").text
    before = dash_duo.find_element("#prod-lift").text
    chart = dash_duo.driver.execute_script(
        "return document.querySelector('#prod-revenue .js-plotly-plot')._fullData[0].x.length"
    )
    dash_duo.driver.execute_script("window.__posts = [];")
    dash_duo.driver.execute_script(
        """var realFetch = window.fetch; window.fetch = function (url, o) {
            if (String(url).indexOf('_dash-update-component') >= 0) {
                window.__posts.push(JSON.parse(o.body).output);
            }
            return realFetch.apply(this, arguments); };"""
    )
    select = dash_duo.find_element('select[id=\'{"key":"prod_segment","kind":"state"}\']')
    Select(select).select_by_value("At Risk")
    wait_until(lambda: dash_duo.find_element("#prod-lift").text != before, what="new lift")
    settle(dash_duo)
    posts = dash_duo.driver.execute_script("return window.__posts;")
    assert posts and all("prod-lift" in p for p in posts), posts
    assert "prod_segment=At" in dash_duo.driver.current_url
    assert chart == dash_duo.driver.execute_script(
        "return document.querySelector('#prod-revenue .js-plotly-plot')._fullData[0].x.length"
    )
    # the fewest segment buyers: 10 unless set; lowered to 2, more products come in, the URL
    # keeps it and only the lift is asked for again
    summary = dash_duo.find_element("#prod-lift-summary").text
    assert "fewer than 10 of the segment's customers are left out" in summary
    rows = len(dash_duo.find_elements("#prod-lift-table tbody tr"))
    box = dash_duo.find_element('input[id=\'{"key":"prod_min_buyers","kind":"state"}\']')
    dash_duo.driver.execute_script("window.__posts = [];")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys("2", Keys.ENTER)
    wait_until(
        lambda: "fewer than 2 " in dash_duo.find_element("#prod-lift-summary").text,
        what="the lift under the new minimum",
    )
    settle(dash_duo)
    assert len(dash_duo.find_elements("#prod-lift-table tbody tr")) >= rows
    assert "prod_min_buyers=2" in dash_duo.driver.current_url
    posts = dash_duo.driver.execute_script("return window.__posts;")
    assert posts and all("prod-lift" in p for p in posts), posts
    # by product type: the chart and the table
    assert "BAG" in dash_duo.find_element("#prod-types-table").text
    assert (
        dash_duo.driver.execute_script(
            "return document.querySelector('#prod-types-chart .js-plotly-plot')._fullData[0].x.length"
        )
        > 0
    )
    assert console_errors(dash_duo) == []


WATERFALL = """var g = document.querySelector('#cust-explain .js-plotly-plot');
return g && g.data && g.data.length ? {type: g.data[0].type, y: g.data[0].y,
    x: g.data[0].x, measure: g.data[0].measure} : null;"""


def test_products_page_fills_itself_once_the_product_lines_are_prepared(
    dash_duo, browser_app, monkeypatch
):
    """A fresh process: the product lines are still being prepared when the page loads. The
    page says so, without waiting for them, and fills its charts, grid, lift and types by
    itself once they are there (its retry ticks), then stops asking."""
    import threading

    from dashapp import service
    from dashapp.service.views import products as product_views

    ready = threading.Event()
    asked = []

    def until_ready(real):
        def view(*args, **kwargs):
            asked.append(real.__name__)
            if not ready.is_set():
                raise service.DataPreparing("The product lines of the extract are being prepared.")
            return real(*args, **kwargs)

        return view

    for name in ("product_table_view", "segment_lift_view", "product_type_view"):
        monkeypatch.setattr(product_views, name, until_ready(getattr(product_views, name)))
    dash_duo.start_server(browser_app)
    dash_duo.driver.get(dash_duo.server_url + "/products?prod_segment=Champions")
    wait_until(
        lambda: "being prepared" in dash_duo.find_element("#prod-message").text,
        what="the being-prepared message",
    )
    ready.set()
    dash_duo.wait_for_element("#prod-revenue .bars .point", timeout=60)
    dash_duo.wait_for_element("#prod-grid .ag-row", timeout=60)
    dash_duo.wait_for_element("#prod-lift table", timeout=60)
    dash_duo.wait_for_element("#prod-types-table", timeout=60)
    settle(dash_duo)
    assert "being prepared" not in dash_duo.find_element("#prod-message").text
    pause = "return new Promise(r => setTimeout(r, arguments[0]));"
    dash_duo.driver.execute_script(pause, 3000)  # the one more round after the answer
    calls = len(asked)
    dash_duo.driver.execute_script(pause, 6000)
    assert len(asked) == calls  # the ticks have stopped
    assert console_errors(dash_duo) == []


def _open_explanation(dash_duo) -> None:
    toggle = dash_duo.find_element("#cust-explain-toggle")
    assert toggle.text == "Explain this forecast"
    dash_duo.driver.execute_script("arguments[0].click();", toggle)
    wait_until(lambda: toggle.text == "Hide", what="the explanation's panel open")


def test_customer_page_explains_the_machine_learned_forecast(dash_duo, browser_app):
    """A real customer of the extract: the waterfall from the average customer to this
    customer, its steps adding up; under a date range too short to train on, a neutral
    message instead (the filters in the URL are respected)."""
    dash_duo.start_server(browser_app)
    dash_duo.driver.get(dash_duo.server_url + "/customer/12490")
    dash_duo.wait_for_element("#cust-segment", timeout=60)
    assert dash_duo.driver.execute_script(WATERFALL) is None  # computed when shown
    _open_explanation(dash_duo)
    dash_duo.wait_for_element("#cust-explain .waterfalllayer .point", timeout=90)
    settle(dash_duo)
    fig = dash_duo.driver.execute_script(WATERFALL)
    assert fig["type"] == "waterfall"
    assert fig["y"][0] == "Average customer" and fig["y"][-1] == "This customer"
    assert fig["measure"][0] == "absolute" and fig["measure"][-1] == "total"
    steps = sum(fig["x"][1:-1])
    assert abs(fig["x"][0] + steps - fig["x"][-1]) < 1e-3
    assert any(label.startswith("other ") for label in fig["y"])  # 11 features, 6 shown
    assert "trained on" in dash_duo.find_element("#cust-explain-note").text
    text = dash_duo.find_element("#cust-explain").text
    assert "Average customer" in text and "Expected purchase days" in text
    save_screenshot(dash_duo, "customer-waterfall")
    # three months of data leave no earlier split to train the model on: a plain message
    dash_duo.driver.get(dash_duo.server_url + "/customer/12490?start=2011-09-01")
    dash_duo.wait_for_element("#cust-segment", timeout=60)
    _open_explanation(dash_duo)
    dash_duo.wait_for_contains_text(
        "#cust-explain-note", "trains on an earlier split of the range", timeout=90
    )
    assert "Widen the date range" in dash_duo.find_element("#cust-explain-note").text
    assert dash_duo.find_element("#cust-segment")  # the rest of the page is there
    assert dash_duo.driver.execute_script(WATERFALL) is None
    assert console_errors(dash_duo) == []
