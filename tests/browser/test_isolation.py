"""The browser tests share one server and one Chromium (tests/browser/conftest.py), yet each
starts clean: what the first test here leaves behind (a session cookie, local and session
storage, a phone-sized viewport, a script run on every new page, a resized window, console
errors) is gone in the second."""

from __future__ import annotations

from tests.browser.conftest import WINDOW, console_errors

#: What the first test left, seen from a page: [cookie-visible marker, local storage,
#: session storage, the script's marker, the viewport width].
LEFTOVERS = """
return [document.cookie.indexOf('leftover=') >= 0, localStorage.getItem('leftover'),
        sessionStorage.getItem('leftover'), window.__leftover || null, window.innerWidth];
"""

_first: dict = {}


def test_a_test_leaves_state_behind(dash_duo, browser_app):
    dash_duo.start_server(browser_app)
    driver = dash_duo.driver
    dash_duo.wait_for_element("#kpi-revenue", timeout=60)
    _first["session"] = {c["name"]: c["value"] for c in driver.get_cookies()}
    driver.add_cookie({"name": "leftover", "value": "1", "path": "/"})
    driver.execute_script(
        "localStorage.setItem('leftover', '1'); sessionStorage.setItem('leftover', '1');"
        "console.error('a leftover console error');"
    )
    driver.execute_cdp_cmd(
        "Page.addScriptToEvaluateOnNewDocument", {"source": "window.__leftover = 1;"}
    )
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True},
    )
    driver.set_window_size(800, 600)
    driver.get(dash_duo.server_url + "/docs")
    assert driver.execute_script(LEFTOVERS) == [True, "1", "1", 1, 390]
    assert console_errors(dash_duo) != []


def test_the_next_test_starts_clean(dash_duo, browser_app):
    dash_duo.start_server(browser_app)
    driver = dash_duo.driver
    driver.get(dash_duo.server_url + "/docs")
    *leftovers, width = driver.execute_script(LEFTOVERS)
    assert leftovers == [False, None, None, None]
    assert width > 390  # no phone emulation
    assert driver.get_window_size()["width"] == WINDOW[0]
    assert console_errors(dash_duo) == []
    # a new browser session for the app: not the first test's session cookie
    now = {c["name"]: c["value"] for c in driver.get_cookies()}
    assert "leftover" not in now
    for name, value in _first.get("session", {}).items():
        assert now.get(name) != value, name
    assert len(driver.window_handles) == 1
    # the one tab is focused, as a new browser's is (keyboard and focus events reach it)
    assert driver.execute_script("return document.hasFocus()") is True
