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
var boxes = Array.from(document.querySelectorAll(arguments[0] || '#rfm-heatmap .heatmaplayer text'))
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


#: Charts that keep a readable width on a phone and scroll inside their box
#: (components.graph's phone_width): page, chart, labels that must not overlap.
WIDE_CHARTS = (
    ("/clustering", "cl-profiles", ".heatmaplayer text"),
    ("/clustering", "cl-agreement", ".heatmaplayer text"),
    ("/cohorts", "cohorts-retention", ".xtick text"),
    ("/rfm", "rfm-dist", ".g-gtitle text, .annotation-text"),
    ("/", "overview-trend", ".xtick text"),
    ("/migration", "mig-matrix", ".heatmaplayer text"),
)
CHART_BOX = """
var graph = document.querySelector('#' + arguments[0] + ' .main-svg');
var box = document.getElementById(arguments[0]).closest('.chart-scroll');
return [graph ? graph.getBoundingClientRect().width : 0,
        box ? box.clientWidth : 0, box ? box.scrollWidth : 0];
"""


def test_at_phone_width_wide_charts_keep_their_labels_apart_and_scroll_in_their_box(
    dash_duo, browser_app
):
    dash_duo.start_server(browser_app)
    dash_duo.driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": PHONE, "height": 844, "deviceScaleFactor": 1, "mobile": True},
    )
    try:
        for path, chart, labels in WIDE_CHARTS:
            if dash_duo.driver.current_url != dash_duo.server_url + path:
                dash_duo.driver.get(dash_duo.server_url + path)
            dash_duo.wait_for_element(f"#{chart} .main-svg text", timeout=60)
            settle(dash_duo)
            drawn, box, inner = dash_duo.driver.execute_script(CHART_BOX, chart)
            # drawn wider than the screen, scrolled inside its box, the page not
            assert drawn > PHONE and box < PHONE and inner > box, (chart, drawn, box, inner)
            assert (
                dash_duo.driver.execute_script("return document.documentElement.scrollWidth")
                <= PHONE
            ), chart
            selector = ", ".join(f"#{chart} {one.strip()}" for one in labels.split(","))
            count, overlaps = dash_duo.driver.execute_script(OVERLAPS, selector)
            assert count >= 3 and overlaps == 0, (chart, count, overlaps)
    finally:
        dash_duo.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


#: The tallest row of a table (px).
TALLEST_ROW = """
return Math.max.apply(null, Array.from(document.querySelectorAll(arguments[0] + ' tbody tr'))
    .map(r => r.getBoundingClientRect().height));
"""


def test_at_phone_width_tables_of_sentences_scroll_instead_of_growing_tall(dash_duo, browser_app):
    """The RFM segment table, the cleaning ledger and the CLV model's parameters keep their
    sentences to a few lines (they scroll sideways in their box), not one word a line."""
    dash_duo.start_server(browser_app)
    dash_duo.driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": PHONE, "height": 844, "deviceScaleFactor": 1, "mobile": True},
    )
    try:
        # the ledger's longest rule is a 600-character paragraph: about ten lines
        for path, table, most in (("/rfm", ".segment-table", 130), ("/", ".ledger-table", 260),
                                  ("/clv", "#clv-params-table", 130)):  # fmt: skip
            dash_duo.driver.get(dash_duo.server_url + path)
            dash_duo.wait_for_element(f"{table} tbody tr", timeout=60)
            settle(dash_duo)
            tallest = dash_duo.driver.execute_script(TALLEST_ROW, table)
            assert 0 < tallest <= most, (path, tallest)
            assert (
                dash_duo.driver.execute_script("return document.documentElement.scrollWidth")
                <= PHONE
            ), path
    finally:
        dash_duo.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_migration_segment_sizes_legend_shows_every_segment_without_scrolling(
    dash_duo, browser_app
):
    """The monthly sizes' legend (ten segments) sits above the plot, two names a row: below
    it, at a fixed y, it ran over the axis title on a phone and scrolled in a box that hid
    Champions."""
    dash_duo.start_server(browser_app)
    for width in (PHONE, 1400):
        dash_duo.driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": 844, "deviceScaleFactor": 1, "mobile": width == PHONE},
        )
        try:
            dash_duo.driver.get(dash_duo.server_url + "/migration")
            dash_duo.wait_for_element("#mig-sizes .legend .traces", timeout=30)
            settle(dash_duo)
            shown, traces, scrollbar, legend_bottom, plot_top = dash_duo.driver.execute_script(
                """
                var gd = document.querySelector('#mig-sizes .js-plotly-plot');
                var bar = gd.querySelector('.legend .scrollbar');
                var legend = gd.querySelector('.legend').getBoundingClientRect();
                var plotTop = gd.getBoundingClientRect().top + gd._fullLayout._size.t;
                return [gd.querySelectorAll('.legend .traces').length, gd.data.length,
                        bar ? bar.getBoundingClientRect().height : 0, legend.bottom, plotTop];
                """
            )
        finally:
            dash_duo.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        assert traces >= 8, traces
        assert shown == traces, f"{width} px: {shown} of {traces} segments in the legend"
        assert scrollbar == 0, f"{width} px: the legend scrolls"
        assert legend_bottom <= plot_top + 1, f"{width} px: the legend covers the plot"


def test_action_list_shows_the_recommended_action_without_scrolling_the_grid(dash_duo, browser_app):
    """The action list's reason to exist, the recommended action, is the third column: at
    desktop width it was past the grid's right edge."""
    dash_duo.start_server(browser_app)
    dash_duo.driver.get(dash_duo.server_url + "/actions")
    dash_duo.wait_for_element("#actions-grid .ag-row", timeout=30)
    header_right, grid_right = dash_duo.driver.execute_script(
        """
        var grid = document.querySelector('#actions-grid .ag-body-viewport').getBoundingClientRect();
        var cell = Array.from(document.querySelectorAll('#actions-grid .ag-header-cell'))
            .find(c => c.textContent.trim() === 'Recommended action');
        return [cell.getBoundingClientRect().right, grid.right];
        """
    )
    assert header_right <= grid_right, (header_right, grid_right)
