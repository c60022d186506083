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


OVERLAPS = """
var boxes = Array.from(document.querySelectorAll('#rfm-heatmap .heatmaplayer text'))
    .filter(t => t.textContent.trim()).map(t => t.getBoundingClientRect());
var hits = 0;
for (var i = 0; i < boxes.length; i++) for (var j = i + 1; j < boxes.length; j++) {
    var a = boxes[i], b = boxes[j];
    if (a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1
        && b.top < a.bottom - 1) hits++;
}
return [boxes.length, hits];
"""

#: Cells whose text does not fit (AG Grid cuts them with an ellipsis), and header words
#: wider than their header (a word broken across lines: "Frequen cy").
CUT_CELLS = """
return Array.from(document.querySelectorAll(arguments[0] + ' .ag-cell-value'))
    .filter(c => c.scrollWidth > c.clientWidth + 1).map(c => c.textContent);
"""
BROKEN_HEADERS = """
var canvas = document.createElement('canvas').getContext('2d');
return Array.from(document.querySelectorAll(arguments[0] + ' .ag-header-cell-text'))
    .filter(function (el) {
        canvas.font = getComputedStyle(el).font;
        var widest = Math.max.apply(null, el.textContent.split(/\\s+/)
            .map(w => canvas.measureText(w).width));
        return widest > el.getBoundingClientRect().width + 1;
    }).map(el => el.textContent);
"""


def test_at_phone_width_labels_money_and_headers_stay_whole(dash_duo, browser_app):
    dash_duo.start_server(browser_app)
    dash_duo.driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": PHONE, "height": 844, "deviceScaleFactor": 1, "mobile": True},
    )
    try:
        dash_duo.driver.get(dash_duo.server_url + "/rfm")
        dash_duo.wait_for_element("#rfm-heatmap .heatmaplayer text", timeout=60)
        settle(dash_duo)
        labels, overlaps = dash_duo.driver.execute_script(OVERLAPS)
        assert labels == 25 and overlaps == 0, (labels, overlaps)
        for path, grid in (("/rfm", "#rfm-grid"), ("/clv", "#clv-grid"),
                           ("/actions", "#actions-grid"), ("/products", "#prod-grid")):  # fmt: skip
            dash_duo.driver.get(dash_duo.server_url + path)
            dash_duo.wait_for_element(f"{grid} .ag-row", timeout=60)
            settle(dash_duo)
            assert dash_duo.driver.execute_script(CUT_CELLS, grid) == [], path
            assert dash_duo.driver.execute_script(BROKEN_HEADERS, grid) == [], path
    finally:
        dash_duo.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
