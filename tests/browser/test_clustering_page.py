"""Clustering page in headless Chromium: every method updates the scatter, clusters can be
picked for the grid, the CSV downloads, small filters give messages, no console errors."""

from __future__ import annotations

import time
from pathlib import Path

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.support.select import Select

from dashapp.analytics.clustering import METHOD_LABELS, METHODS, OUTLIER_NAME
from tests.browser.conftest import console_errors, save_screenshot, settle

METHOD_SELECT = 'select[id=\'{"key":"cl_method","kind":"state"}\']'
SCATTER_META = (
    "var g = document.querySelector('#cl-scatter .js-plotly-plot');"
    "return g && g.layout && g.layout.meta ? g.layout.meta : null;"
)
SCATTER_TRACES = (
    "var g = document.querySelector('#cl-scatter .js-plotly-plot');"
    "return g && g.data ? g.data.map(t => [t.name, t.x.length]) : null;"
)


def _wait(dash_duo, predicate, timeout=40, what="condition"):
    end = time.time() + timeout
    last = None
    while time.time() < end:
        try:
            last = predicate()
            if last:
                return last
        except Exception as exc:  # elements being re-rendered
            last = exc
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def _scatter(dash_duo):
    return (
        dash_duo.driver.execute_script(SCATTER_META),
        dash_duo.driver.execute_script(SCATTER_TRACES),
    )


def _full_page_screenshot(dash_duo, name):
    """The whole page, not just the viewport (the window grows to the page's height)."""
    driver = dash_duo.driver
    size = driver.get_window_size()
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(size["width"], min(max(height + 150, size["height"]), 6000))
    time.sleep(0.8)  # let Plotly resize the graphs
    try:
        return save_screenshot(dash_duo, name)
    finally:
        driver.set_window_size(size["width"], size["height"])


def test_switching_the_method_updates_the_scatter(dash_duo, browser_app, tmp_path):
    dash_duo.start_server(browser_app)
    dash_duo.driver.get(dash_duo.server_url + "/clustering")
    dash_duo.wait_for_element("#cl-summary-text", timeout=40)
    seen = {}
    for method in ("kmeans", "dbscan", "hierarchical", "gmm"):
        if method != "kmeans":
            select = _wait(
                dash_duo, lambda: dash_duo.find_element(METHOD_SELECT), what="method select"
            )
            Select(select).select_by_value(method)
        meta, traces = _wait(
            dash_duo,
            lambda m=method: (
                _scatter(dash_duo) if (_scatter(dash_duo)[0] or {}).get("method") == m else None
            ),
            what=f"the scatter of {method}",
        )
        assert f"cl_method={method}" in dash_duo.driver.current_url or method == "kmeans"
        summary = _wait(
            dash_duo, lambda: dash_duo.find_element("#cl-summary-text").text, what="summary"
        )
        assert METHOD_LABELS[method] in summary
        assert traces and sum(n for _, n in traces) > 200  # every customer of the extract
        seen[method] = traces
        dash_duo.wait_for_element("#cl-grid .ag-row", timeout=30)
        dash_duo.wait_for_element("#cl-profiles .heatmaplayer", timeout=30)
        if method == "kmeans":  # the diagnostics panel is computed when opened
            toggle = dash_duo.find_element("#cl-diag-toggle")
            dash_duo.driver.execute_script("arguments[0].click();", toggle)
        dash_duo.wait_for_element("#cl-diagnostics .scatterlayer .trace", timeout=30)
        _full_page_screenshot(dash_duo, f"clustering-{method}")
    assert set(seen) == set(METHODS)
    # DBSCAN keeps its outliers visible as a trace of their own
    assert any(name.startswith(OUTLIER_NAME) for name, _ in seen["dbscan"])
    assert seen["dbscan"] != seen["kmeans"]
    assert console_errors(dash_duo) == []


def test_cluster_choice_grid_download_and_messages(dash_duo, browser_app):
    dash_duo.start_server(browser_app)
    dash_duo.driver.get(dash_duo.server_url + "/clustering?cl_method=hierarchical&cl_k=3")
    dash_duo.wait_for_element("#cl-grid .ag-row", timeout=40)
    title = _wait(dash_duo, lambda: dash_duo.find_element("#cl-grid-title").text, what="grid title")
    assert title.startswith("All ") and title.endswith("customers with their cluster.")
    # clicking a tile of the treemap lists that cluster behind the page's chip
    for name in ("Low Value", "High Value"):
        # the treemap redrawn by the previous click's callbacks can swallow a click (Plotly
        # ignores clicks while it draws): click again, as a user would, up to three times
        for attempt in range(3):
            settle(dash_duo)
            tile = _wait(
                dash_duo,
                lambda n=name: next(
                    (
                        el
                        for el in dash_duo.find_elements("#cl-treemap g.slice")
                        if el.text.startswith(n)
                    ),
                    None,
                ),  # fmt: skip
                what=f"the {name} tile",
            )
            dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", tile)
            ActionChains(dash_duo.driver).move_to_element(tile).click().perform()
            try:
                _wait(
                    dash_duo,
                    lambda n=name: f"Cluster: {n} — " in dash_duo.find_element("#cl-sel-chip").text,
                    timeout=10 if attempt < 2 else 40,
                    what=f"the chip of {name}",
                )
                break
            except AssertionError:
                if attempt == 2:
                    raise
        assert f"cl_sel=cluster%3A{name.replace(' ', '+')}" in dash_duo.driver.current_url
        _wait(
            dash_duo,
            lambda n=name: (
                (rows := dash_duo.find_elements("#cl-grid .ag-center-cols-container .ag-row"))
                and all(n in r.text for r in rows[:5])
            ),
            what=f"the rows of {name}",
        )
    # the CSV holds the customers of the cluster listed (the chip counts them)
    chip = dash_duo.find_element("#cl-sel-chip").text
    shown = int(chip.split(" — ")[1].split()[0].replace(",", ""))
    button = dash_duo.find_element("#cl-download-btn")
    dash_duo.driver.execute_script("arguments[0].scrollIntoView(); arguments[0].click();", button)
    folder = Path(dash_duo.download_path)
    target = _wait(
        dash_duo,
        lambda: next(iter(folder.glob("*_clusters-hierarchical_*.csv")), None),
        what="the CSV download",
    )
    time.sleep(0.5)
    text = target.read_text()
    assert "# Selection: Cluster: High Value" in text
    lines = [line for line in text.splitlines() if not line.startswith("# ")]
    assert lines[0].startswith("customer_id,cluster,segment,recency,frequency,monetary")
    assert len(lines) == shown + 1 and all(",High Value," in line for line in lines[1:])
    # a cluster these settings do not have (a link from another k): said, nothing listed
    dash_duo.driver.get(
        dash_duo.server_url + "/clustering?cl_method=hierarchical&cl_k=3&cl_sel=cluster%3APotential"
    )
    title = _wait(
        dash_duo,
        lambda: (t := dash_duo.find_element("#cl-grid-title").text) and "not a cluster" in t and t,
        what="the missing cluster's message",
    )
    assert "'Potential' is not a cluster with these settings" in title and "High Value" in title
    assert "Cluster: Potential — 0 customers" in dash_duo.find_element("#cl-sel-chip").text
    # too few customers for k: a message, not an error
    dash_duo.driver.get(dash_duo.server_url + "/clustering?countries=Canada&cl_k=6")
    alert = _wait(
        dash_duo, lambda: dash_duo.find_element("#cl-message .empty-state").text, what="the message"
    )
    assert "fewer customers (5) than clusters (6)" in alert
    dash_duo.driver.get(dash_duo.server_url + "/clustering?countries=Lebanon")
    alert = _wait(
        dash_duo,
        lambda: (
            (t := dash_duo.find_element("#cl-message .empty-state").text)
            and "only one customer" in t
            and t
        ),
        what="the one-customer message",
    )
    save_screenshot(dash_duo, "clustering-message")
    assert console_errors(dash_duo) == []


#: Records each chart's draws (Plotly's 'plotly_afterplot' event), with the size each was
#: drawn at; run once per page (RESET_DRAWS starts a new record).
COUNT_DRAWS = """
window.__draws = {};
['cl-scatter', 'cl-treemap', 'cl-profiles', 'cl-agreement'].forEach(function (id) {
    var gd = document.querySelector('#' + id + ' .js-plotly-plot');
    gd.on('plotly_afterplot', function () {
        (window.__draws[id] = window.__draws[id] || []).push(
            [gd._fullLayout.width, gd._fullLayout.height]);
    });
});
"""
RESET_DRAWS = "window.__draws = {};"

PROFILE_SIZE = (
    "var g = document.querySelector('#cl-profiles .js-plotly-plot');"
    "return [g._fullLayout.width, g._fullLayout.height, g.data[0].y.length];"
)


def _same_size_redraws(draws: dict) -> dict:
    """Per chart, the draws at the size of the draw before it (a redraw for nothing)."""
    return {
        chart: [b for a, b in zip(sizes, sizes[1:], strict=False) if a == b]
        for chart, sizes in draws.items()
    }


def _resize_window(dash_duo, width: int, before: float) -> float:
    """Sets the window's width and waits until the profiles are drawn at a new width."""
    dash_duo.driver.set_window_size(width, 1000)
    _wait(
        dash_duo,
        lambda: dash_duo.driver.execute_script(PROFILE_SIZE)[0] != before,
        what=f"the profiles drawn at the window width {width}",
    )
    time.sleep(0.5)  # the other charts' resizes have run too
    return dash_duo.driver.execute_script(PROFILE_SIZE)[0]


def test_a_change_draws_each_chart_once(dash_duo, browser_app):
    """A k change gives the cluster profiles and the agreement heatmap one row per cluster,
    so their boxes change height; dcc.Graph then asks Plotly to resize them, which used to
    draw both heatmaps a second time at the size they already had (assets/graphs.js). A
    change of width (a window or a phone turned) still redraws every chart at the new width,
    and after one the next k change is again drawn once (the hook once let every resize
    through after a chart's first width change: the fresh-clone suite's intermittent
    failure)."""
    dash_duo.start_server(browser_app)
    dash_duo.driver.set_window_size(1400, 1000)
    dash_duo.driver.get(dash_duo.server_url + "/clustering?cl_k=3")
    dash_duo.wait_for_element("#cl-profiles .heatmaplayer", timeout=40)
    settle(dash_duo)
    time.sleep(0.5)  # a resize asked for on the first draw has run
    width, height, rows = dash_duo.driver.execute_script(PROFILE_SIZE)
    assert rows == 3

    # a width change is drawn, at the new width, by every chart
    dash_duo.driver.execute_script(COUNT_DRAWS)
    narrow = _resize_window(dash_duo, 1100, width)
    draws = dash_duo.driver.execute_script("return window.__draws")
    assert narrow < width
    for chart in ("cl-profiles", "cl-agreement"):
        assert draws.get(chart) and draws[chart][-1][0] == narrow, draws

    # then a k change: each chart drawn for the new figure, none again at the same size
    dash_duo.driver.execute_script(RESET_DRAWS)
    k = dash_duo.find_element('input[id=\'{"key":"cl_k","kind":"state"}\']')
    k.clear()
    k.send_keys("6\n")
    _wait(dash_duo, lambda: dash_duo.driver.execute_script(PROFILE_SIZE)[2] == 6, what="k=6")
    settle(dash_duo)
    time.sleep(0.5)  # dcc.Graph's resize runs 50 ms + Plotly's 100 ms after the box grew
    new_width, new_height, _ = dash_duo.driver.execute_script(PROFILE_SIZE)
    assert new_height > height and new_width == narrow
    draws = dash_duo.driver.execute_script("return window.__draws")
    assert set(draws) == {"cl-scatter", "cl-treemap", "cl-profiles", "cl-agreement"}
    assert _same_size_redraws(draws) == {chart: [] for chart in draws}, draws

    # and the window widened again: drawn again, at the new width
    before = {chart: len(sizes) for chart, sizes in draws.items()}
    wide = _resize_window(dash_duo, 1400, narrow)
    draws = dash_duo.driver.execute_script("return window.__draws")
    assert wide > narrow
    for chart in ("cl-profiles", "cl-agreement"):
        assert len(draws[chart]) > before[chart] and draws[chart][-1][0] == wide, draws
    assert console_errors(dash_duo) == []
