"""A value outside its declared limits, typed in the browser, gets the declaration's message
on the page (issue 13, point 6): the number box must not snap back to the old value silently."""

from __future__ import annotations

import time

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from dashapp.service import params
from tests.browser.conftest import console_errors


def _type(dash_duo, key: str, value: str) -> None:
    dom_id = f'{{"key":"{key}","kind":"state"}}'
    box = dash_duo.driver.find_element(By.CSS_SELECTOR, f"input[id='{dom_id}']")
    dash_duo.driver.execute_script("arguments[0].scrollIntoView(); arguments[0].focus();", box)
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(value)
    box.send_keys(Keys.ENTER)


@pytest.mark.parametrize(
    "path, ready, key, value, alert",
    [
        ("/clustering", "#cl-summary-text", "cl_k", "11", "#cl-message"),
        ("/clv", "#clv-kpis .card", "clv_margin", "150", "#clv-param-message"),
    ],
)
def test_a_value_out_of_limits_is_named_in_an_alert(
    dash_duo, browser_app, path, ready, key, value, alert
):
    dash_duo.start_server(browser_app)
    dash_duo.driver.get(dash_duo.server_url + path)
    dash_duo.wait_for_element(ready, timeout=60)
    time.sleep(1)  # let the first round of callbacks settle
    _type(dash_duo, key, value)
    with pytest.raises(params.ParamError) as expected:
        params.BY_KEY[key].parse(value)
    dash_duo.wait_for_contains_text(alert, str(expected.value), timeout=30)
    box = dash_duo.driver.find_element(
        By.CSS_SELECTOR, f'input[id=\'{{"key":"{key}","kind":"state"}}\']'
    )
    assert box.get_attribute("value") == value  # kept as typed, not snapped back
    assert console_errors(dash_duo) == []
