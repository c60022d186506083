"""CLV and Cohorts pages in headless Chromium, over the real Online Retail II extract."""

from __future__ import annotations

import re
import time

from selenium.webdriver.common.by import By

from tests.browser.conftest import console_errors, save_screenshot
from tests.callback_client import CallbackClient, state_key


def _wait_for(predicate, timeout=30, what="condition"):
    end = time.time() + timeout
    while time.time() < end:
        try:
            if predicate():
                return
        except Exception:  # element being re-rendered
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _full_page_screenshot(dash_duo, name):
    """Screenshot of the whole page (the window grown to the page's height), for review."""
    driver = dash_duo.driver
    size = driver.get_window_size()
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(size["width"], min(int(height) + 100, 9000))
    time.sleep(1.0)  # let Plotly resize the graphs
    try:
        save_screenshot(dash_duo, name)
    finally:
        driver.set_window_size(size["width"], size["height"])


def test_clv_page_fits_validates_and_switches_model(dash_duo, browser_app):
    dash_duo.start_server(browser_app)
    dash_duo.driver.get(dash_duo.server_url + "/clv")
    dash_duo.wait_for_element("#clv-params-table", timeout=30)
    # the holdout check is computed when its panel is opened
    assert dash_duo.find_element("#clv-holdout-toggle").text == "Show the holdout check"
    dash_duo.driver.execute_script("document.getElementById('clv-holdout-toggle').click();")
    dash_duo.wait_for_element("#clv-tracking .scatterlayer .trace", timeout=30)
    dash_duo.wait_for_element("#clv-grid .ag-row", timeout=30)
    dash_duo.wait_for_element("#clv-scorecard-table", timeout=30)
    dash_duo.wait_for_element("#clv-palive .heatmaplayer", timeout=30)
    params = dash_duo.find_element("#clv-params-table").text
    assert "BG/NBD" in params and "Gamma-Gamma" in params and "α" in params
    assert dash_duo.find_element("#clv-kpi-total").text.startswith("£")
    assert "Naive baseline" in dash_duo.find_element("#clv-scorecard-table").text
    assert "Pearson" in dash_duo.find_element("#clv-indep-alert").text
    _full_page_screenshot(dash_duo, "clv")

    # Switch the purchase model: the parameter table must show Pareto/NBD's s and beta.
    label = dash_duo.driver.find_element(By.XPATH, "//label[normalize-space()='Pareto/NBD']")
    dash_duo.driver.execute_script("arguments[0].click();", label)
    _wait_for(
        lambda: "Pareto/NBD" in dash_duo.find_element("#clv-params-table").text,
        what="the Pareto/NBD parameter table",
    )
    params = dash_duo.find_element("#clv-params-table").text
    assert "β" in params and "BG/NBD" not in params
    assert "clv_model=pareto_nbd" in dash_duo.driver.current_url
    # the open holdout panel follows the model
    _wait_for(
        lambda: "β" in dash_duo.find_element("#clv-cal-info").text,
        what="the holdout check of Pareto/NBD",
    )
    dash_duo.wait_for_element("#clv-scorecard-table", timeout=30)
    dash_duo.wait_for_element("#clv-grid .ag-row", timeout=30)
    _full_page_screenshot(dash_duo, "clv_pareto")
    assert console_errors(dash_duo) == []


def test_cohorts_page_heatmaps(dash_duo, browser_app):
    dash_duo.start_server(browser_app)
    dash_duo.driver.get(dash_duo.server_url + "/cohorts")
    dash_duo.wait_for_element("#cohorts-retention .heatmaplayer", timeout=30)
    dash_duo.wait_for_element("#cohorts-revenue .heatmaplayer", timeout=30)
    dash_duo.wait_for_element("#cohorts-cumulative .scatterlayer .trace", timeout=30)
    summary = dash_duo.find_element("#cohorts-summary-text").text
    assert "monthly cohorts" in summary and "partial" in summary
    # The left-censored first cohort is labelled on the heatmap's axis.
    assert "2009-12 ‡" in dash_duo.find_element("#cohorts-retention").text
    _full_page_screenshot(dash_duo, "cohorts")
    assert console_errors(dash_duo) == []


def test_clv_callbacks_over_http(browser_app, shared_sample_xlsx):
    """The page's callbacks as the browser calls them: the download is the full customer
    table; a bad input or too few customers give a message, not an error."""
    client = CallbackClient(browser_app)
    dataset = shared_sample_xlsx.stem  # the session app's dataset
    base = {
        state_key("dataset"): dataset,
        state_key("clv_model"): "bgnbd",
        state_key("clv_horizon"): 12,
        state_key("clv_margin"): 30,
        state_key("clv_discount"): 10,
        state_key("clv_lifespan"): 3,
        state_key("clv_churn"): 90,
        state_key("clv_level"): "90",
    }
    resp = client.call("download_clv", {**base, "clv-download-btn.n_clicks": 1})
    assert resp.status_code == 200
    data = resp.get_json()["response"]["clv-download"]["data"]
    assert re.fullmatch(rf"{dataset}_clv_\d{{4}}-\d\d-\d\d\.csv", data["filename"])
    lines = [line for line in data["content"].splitlines() if not line.startswith("# ")]
    assert lines[0].split(",")[:3] == ["customer_id", "rank", "clv"] and len(lines) > 200
    assert "# Columns: customer_id = Customer; rank = Rank; clv = Predicted CLV" in data["content"]
    assert {"p_churn", "p_not_alive"} <= set(lines[0].split(","))
    resp = client.call("download_clv_intervals", {**base, "clv-intervals-download-btn.n_clicks": 1})
    data = resp.get_json()["response"]["clv-intervals-download"]["data"]
    header = data["content"].splitlines()[0].split(",")
    assert header[:4] == ["customer_id", "clv", "clv_lo", "clv_hi"]
    assert len(data["content"].splitlines()) == len(lines)
    resp = client.call("update_clv_values", {**base, state_key("clv_churn"): 1000})
    assert resp.status_code == 200 and b"Churn horizon H (days)" in resp.data
    resp = client.call("update_clv_comparison", {**base, state_key("countries"): ["Italy"]})
    assert resp.status_code == 200 and b"at least 20 repeat customers" in resp.data
    resp = client.call("update_clv_intervals", {**base, state_key("clv_level"): "95"})
    assert resp.status_code == 200 and b"Interval must be one of" in resp.data
    resp = client.call("update_clv_values", {**base, state_key("clv_horizon"): None})
    assert resp.status_code == 200 and b"Horizon (months of 30 days) is required" in resp.data
    resp = client.call("update_clv_model", {**base, state_key("countries"): ["Italy"]})
    assert resp.status_code == 200 and b"at least 20 repeat customers" in resp.data
    for name in ("serve_clv_grid", "update_clv_validation", "update_cohorts"):
        assert client.call(name, base).status_code == 200, name


SHOWN = """var e = document.getElementById(arguments[0]);
return e && !e.hidden && getComputedStyle(e).display !== 'none' ? e.innerText : '';"""


def shown(dash_duo, id_: str = "clv-progress") -> str:
    """The text of a progress note while it is shown, '' while hidden."""
    return dash_duo.driver.execute_script(SHOWN, id_)


def test_a_slow_fit_says_what_is_being_computed(dash_duo, browser_app, monkeypatch):
    """The model fit made slow (3 s) in the server: after a model switch, a note naming the
    model being fitted appears while the fit runs, and goes when it is done (set in the
    browser by the callback's ``running``, no request of its own)."""
    from dashapp import service

    fit = service.clv_model

    def slow_fit(*args, **kwargs):
        time.sleep(3.0)
        return fit(*args, **kwargs)

    monkeypatch.setattr(service, "clv_model", slow_fit)
    dash_duo.start_server(browser_app)
    dash_duo.driver.get(dash_duo.server_url + "/clv")
    dash_duo.wait_for_element("#clv-params-table", timeout=120)
    _wait_for(lambda: not shown(dash_duo), what="the progress note to go after the load")
    label = dash_duo.driver.find_element(By.XPATH, "//label[normalize-space()='Pareto/NBD']")
    dash_duo.driver.execute_script("arguments[0].click();", label)
    # shown while the fit runs (faded in after 1 s: a quick fit does not flash it)
    _wait_for(lambda: shown(dash_duo), timeout=30, what="the progress note")
    text = shown(dash_duo)
    assert text.startswith("Fitting Pareto/NBD and the Gamma-Gamma spend model"), text
    assert "in progress" in text
    save_screenshot(dash_duo, "clv_fit_progress")
    _wait_for(
        lambda: "Pareto/NBD" in dash_duo.find_element("#clv-params-table").text,
        what="the Pareto/NBD parameter table",
    )
    _wait_for(lambda: not shown(dash_duo), what="the progress note to go")
    assert console_errors(dash_duo) == []
