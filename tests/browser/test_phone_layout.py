"""Phone-sized layout: at 390 px no page scrolls sideways (wide tables and formulas scroll
inside their own box)."""

from __future__ import annotations

import dash

from tests.browser.conftest import save_screenshot, settle

PHONE = 390


def test_no_page_scrolls_sideways_at_phone_width(dash_duo, browser_app):
    dash_duo.start_server(browser_app)
    dash_duo.driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": PHONE, "height": 844, "deviceScaleFactor": 1, "mobile": True},
    )
    widths = {}
    try:
        for page in dash.page_registry.values():
            dash_duo.driver.get(dash_duo.server_url + page["relative_path"])
            settle(dash_duo)
            widths[page["path"]] = dash_duo.driver.execute_script(
                "return document.documentElement.scrollWidth"
            )
            save_screenshot(dash_duo, f"phone-{page['name'].lower().replace(' ', '-')}")
    finally:
        dash_duo.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    assert len(widths) >= 8
    assert {path: w for path, w in widths.items() if w > PHONE} == {}
