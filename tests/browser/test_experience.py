"""End-to-end experience: upload with column mapping, shareable URLs, back button, every page
loads without console errors (screenshots saved to test-artifacts/)."""

from __future__ import annotations

import dash
import pandas as pd
from selenium.webdriver.common.keys import Keys

from tests.browser.conftest import console_errors, save_screenshot, settle, wait_until

NONSTANDARD = {  # our header -> canonical
    "Order No": "Invoice",
    "Order Date": "InvoiceDate",
    "Client": "Customer ID",
    "Units": "Quantity",
    "Unit Cost": "Price",
    "Market": "Country",
    "SKU": "StockCode",
    "Item name": "Description",
}


def _input_value(dash_duo, dom_id):
    el = dash_duo.driver.find_element("css selector", f"input[id='{dom_id}']")
    return el.get_attribute("value")


def test_upload_nonstandard_headers_map_columns_and_all_pages_update(
    dash_duo, browser_app, sample_lines, tmp_path
):
    # A CSV of real extract lines with headers the loader does not know.
    lines = sample_lines.head(12000).copy()
    frame = pd.DataFrame(
        {
            "Order No": lines["invoice"].astype(str),
            "SKU": lines["stock_code"].astype(str),
            "Item name": lines["description"].astype(str),
            "Units": lines["quantity"],
            "Order Date": lines["invoice_date"].dt.strftime("%Y-%m-%d %H:%M:%S"),
            "Unit Cost": lines["price"],
            "Client": lines["customer_id"].astype(str).replace("nan", ""),
            "Market": lines["country"].astype(str),
        }
    )
    path = tmp_path / "my_shop_export.csv"
    frame.to_csv(path, index=False)

    dash_duo.start_server(browser_app)
    dash_duo.driver.get(dash_duo.server_url + "/upload")
    upload = dash_duo.wait_for_element("#upload-file input[type=file]", timeout=20)
    settle(dash_duo)  # the page's callbacks have run: no message before anything was sent
    assert dash_duo.find_element("#upload-result").text.strip() == ""
    upload.send_keys(str(path))
    dash_duo.wait_for_element("#upload-mapping .alert", timeout=30)
    assert "mapping" in dash_duo.find_element("#upload-mapping").text.lower()
    save_screenshot(dash_duo, "upload-mapping")
    button = dash_duo.find_element("#upload-apply")
    dash_duo.driver.execute_script("arguments[0].scrollIntoView(); arguments[0].click();", button)
    dash_duo.wait_for_element("#upload-open", timeout=30)
    result = dash_duo.find_element("#upload-result").text
    assert "Loaded" in result and "customers" in result
    save_screenshot(dash_duo, "upload-loaded")
    open_link = dash_duo.find_element("#upload-open").get_attribute("href")
    upload_id = open_link.split("dataset=")[1]

    # Every page now runs on the uploaded dataset (the dataset is in the URL they share).
    pages = (
        ("/", "#kpi-revenue"),
        ("/rfm", "#rfm-grid .ag-row"),
        ("/clv", "#clv-message"),
        ("/cohorts", "#cohorts-summary"),
        ("/clustering", "#cl-scatter .main-svg"),
        ("/actions", "#actions-grid"),
    )
    for path_, ready in pages:
        page = dash.get_relative_path(path_)
        dash_duo.driver.get(f"{dash_duo.server_url}{page}?dataset={upload_id}")
        try:
            dash_duo.wait_for_element(".filter-bar", timeout=30)
            dash_duo.wait_for_element(ready, timeout=30)
            dash_duo.wait_for_no_elements("._dash-loading-callback", timeout=60)
        except Exception:
            save_screenshot(dash_duo, "upload-page-failure")
            raise
        assert (
            "my_shop_export.csv" in dash_duo.driver.find_element("css selector", ".filter-bar").text
        ), path_
        body = dash_duo.driver.find_element("css selector", "body").text
        assert "Something went wrong" not in body, path_
        save_screenshot(dash_duo, f"upload-{path_.strip('/') or 'overview'}")
    assert console_errors(dash_duo) == []

    # A second browser session (no cookies, empty session storage) opening the shared link:
    # the upload is not available to it; the page says so and shows the default dataset.
    driver = dash_duo.driver
    owner_cookies = driver.get_cookies()
    assert any(c["name"] == "segments_session" and c.get("httpOnly") for c in owner_cookies)
    driver.delete_all_cookies()
    driver.execute_script("window.sessionStorage.clear()")
    driver.get(f"{dash_duo.server_url}{dash.get_relative_path('/rfm')}?dataset={upload_id}")
    dash_duo.wait_for_element("#rfm-grid .ag-row", timeout=30)
    dash_duo.wait_for_no_elements("._dash-loading-callback", timeout=60)
    body = driver.find_element("css selector", "body").text
    save_screenshot(dash_duo, "upload-stranger")
    assert "not available to you" in body and "Showing the default dataset" in body
    assert "my_shop_export.csv" not in body
    assert "Something went wrong" not in body
    # back in the owner's session, the same link shows the upload again
    driver.delete_all_cookies()
    for cookie in owner_cookies:
        driver.add_cookie({k: cookie[k] for k in ("name", "value", "path") if k in cookie})
    driver.get(f"{dash_duo.server_url}{dash.get_relative_path('/rfm')}?dataset={upload_id}")
    dash_duo.wait_for_element("#rfm-grid .ag-row", timeout=30)
    wait_until(
        lambda: "my_shop_export.csv" in driver.find_element("css selector", ".filter-bar").text,
        what="the owner's upload in the filter bar",
    )


def test_shared_url_reproduces_the_view_and_back_button_works(dash_duo, browser_app):
    dash_duo.start_server(browser_app)
    url = (
        f"{dash_duo.server_url}/rfm?start=2010-03-01&end=2011-02-28&heat=revenue"
        "&f_cuts=2%2C3%2C5%2C10&countries=France%2CSpain"
    )
    dash_duo.driver.get(url)
    dash_duo.wait_for_element("#rfm-grid .ag-row", timeout=30)
    start_id = '{"key":"start","kind":"date"}'
    assert _input_value(dash_duo, start_id) == "2010-03-01"
    assert _input_value(dash_duo, '{"key":"f_cuts","kind":"state"}') == "2,3,5,10"
    filter_text = dash_duo.find_element(".filter-bar").text
    assert "France" in filter_text and "Spain" in filter_text
    checked = dash_duo.driver.find_element(
        "css selector", "input[type=radio][value=revenue]"
    ).is_selected()
    assert checked, "the heatmap colour choice from the URL is applied"
    kpis = dash_duo.find_element("#rfm-kpis").text
    # The same URL opened again (a shared link) shows the same numbers.
    dash_duo.driver.get(url)
    wait_until(lambda: dash_duo.find_element("#rfm-kpis").text == kpis, what="same KPIs")

    # Change a control: the URL follows; the back button restores the previous view.
    box = dash_duo.driver.find_element("css selector", f"input[id='{start_id}']")
    box.click()
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys("2010-06-01")
    box.send_keys(Keys.ENTER)
    wait_until(lambda: "start=2010-06-01" in dash_duo.driver.current_url, what="URL update")
    wait_until(lambda: dash_duo.find_element("#rfm-kpis").text != kpis, what="new KPIs")
    dash_duo.driver.back()
    wait_until(lambda: "start=2010-03-01" in dash_duo.driver.current_url, what="URL back")
    wait_until(lambda: _input_value(dash_duo, start_id) == "2010-03-01", what="control restored")
    wait_until(lambda: dash_duo.find_element("#rfm-kpis").text == kpis, what="view restored")
    assert console_errors(dash_duo) == []


def test_an_upload_whose_dates_read_both_ways_offers_the_date_order(
    dash_duo, browser_app, tmp_path
):
    """Every day <= 12: nothing loads until the user picks day first or month first (how the
    choice is read is checked in tests/integration/test_bad_input.py)."""
    from tests.badinput.make_corpus import HEADER, _csv, _rows

    rows = [[*r[:4], f"{i % 12 + 1:02d}/01/2011 10:00", *r[5:]] for i, r in enumerate(_rows())]
    path = tmp_path / "shop_dates.csv"
    path.write_bytes(_csv(rows, header=HEADER))
    dash_duo.start_server(browser_app)
    dash_duo.driver.get(dash_duo.server_url + "/upload")
    upload = dash_duo.wait_for_element("#upload-file input[type=file]", timeout=20)
    assert not dash_duo.find_element("#upload-dates").is_displayed()
    upload.send_keys(str(path))
    wait_until(lambda: dash_duo.find_element("#upload-dates").is_displayed(), timeout=30)
    result = dash_duo.find_element("#upload-result").text
    assert "Which date order does this file use?" in result and "Loaded" not in result
    save_screenshot(dash_duo, "upload-date-order")
    labels = dash_duo.find_element("#upload-dates").text
    assert "Day first (31/01/2011 = 31 January)" in labels
    assert "Month first (01/31/2011 = 31 January)" in labels
    day_first = dash_duo.driver.find_element(
        "css selector", "#upload-date-order input[value='dmy']"
    )
    dash_duo.driver.execute_script("arguments[0].click();", day_first)
    button = dash_duo.find_element("#upload-date-apply")
    dash_duo.driver.execute_script("arguments[0].scrollIntoView(); arguments[0].click();", button)
    dash_duo.wait_for_element("#upload-open", timeout=30)
    assert "Loaded" in dash_duo.find_element("#upload-result").text
    assert not dash_duo.find_element("#upload-dates").is_displayed()
    assert "90 lines, 30 customers" in dash_duo.find_element("#upload-result").text
    assert console_errors(dash_duo) == []
