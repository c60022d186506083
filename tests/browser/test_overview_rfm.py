"""Overview and RFM pages in headless Chromium."""

from __future__ import annotations

import time
from pathlib import Path

from selenium.webdriver.common.keys import Keys

from tests.browser.conftest import console_errors, save_screenshot


def _text(dash_duo, selector):
    return dash_duo.find_element(selector).text


def _wait_text_change(dash_duo, selector, old, timeout=15):
    end = time.time() + timeout
    while time.time() < end:
        try:
            now = _text(dash_duo, selector)
        except Exception:  # element being re-rendered
            now = old
        if now != old and now.strip():
            return now
        time.sleep(0.2)
    raise AssertionError(f"{selector} still shows {old!r} after {timeout}s")


def _set_date(dash_duo, key, value):
    box = dash_duo.find_element(f'input[id=\'{{"key":"{key}","kind":"date"}}\']')
    box.click()
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(value)
    box.send_keys(Keys.ENTER)


def test_overview_kpis_follow_the_date_range(dash_duo, browser_app):
    dash_duo.start_server(browser_app)
    dash_duo.wait_for_text_to_equal("h2", "Overview", timeout=20)
    dash_duo.wait_for_element("#kpi-revenue", timeout=30)
    revenue = _text(dash_duo, "#kpi-revenue")
    customers = _text(dash_duo, "#kpi-customers")
    assert revenue.startswith("£")
    _set_date(dash_duo, "start", "2011-06-01")
    new_revenue = _wait_text_change(dash_duo, "#kpi-revenue", revenue)
    assert _text(dash_duo, "#kpi-customers") != customers
    assert "start=2011-06-01" in dash_duo.driver.current_url
    assert new_revenue.startswith("£")
    dash_duo.wait_for_element(".ledger-table")
    save_screenshot(dash_duo, "overview")
    assert console_errors(dash_duo) == []


def test_rfm_page_table_heatmap_date_change_and_download(dash_duo, browser_app, tmp_path):
    dash_duo.start_server(browser_app)
    dash_duo.driver.get(dash_duo.server_url + "/rfm")
    dash_duo.wait_for_element("#rfm-heatmap .heatmaplayer", timeout=30)
    dash_duo.wait_for_element("#rfm-grid .ag-row", timeout=30)
    first_kpi = _text(dash_duo, "#rfm-kpis")
    assert "customers scored" in first_kpi
    _set_date(dash_duo, "end", "2010-12-31")
    changed = _wait_text_change(dash_duo, "#rfm-kpis", first_kpi)
    assert "as of 2011-01-01" in changed  # the day after the end of the chosen range
    dash_duo.wait_for_element("#rfm-grid .ag-row", timeout=30)
    save_screenshot(dash_duo, "rfm")
    # Download: Chromium writes the file into the download folder set by dash_duo.
    button = dash_duo.find_element("#rfm-download-btn")
    dash_duo.driver.execute_script("arguments[0].scrollIntoView(); arguments[0].click();", button)
    folder = Path(dash_duo.download_path)
    end = time.time() + 15
    target = None
    while time.time() < end:
        found = [p for p in folder.glob("*_rfm_*.csv")] if folder else []
        if found:
            target = found[0]
            break
        time.sleep(0.3)
    assert target is not None, "the CSV was not downloaded"
    lines = target.read_text().splitlines()
    # what the file holds, in comment lines: dataset, filters, as-of date, units
    notes = [line for line in lines if line.startswith("# ")]
    assert target.name.startswith("online_retail_II_sample_rfm_"), target.name
    assert any("dates first day to 2010-12-31" in n for n in notes), notes
    assert any(n.startswith("# As of 2011-01-01") for n in notes), notes
    assert any("monetary = Monetary (£)" in n for n in notes), notes
    header = lines[len(notes)]
    # the grid's columns, in its order (issue 16: AOV, tenure and the dates were missing)
    assert header == (
        "customer_id,segment,rfm_code,recency,frequency,monetary,aov,tenure,first_purchase,"
        "last_purchase,r_score,f_score,m_score"
    )
    assert len(lines) > 50
    assert console_errors(dash_duo) == []
