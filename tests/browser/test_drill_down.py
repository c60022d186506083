"""Drill-down: a click on a chart lists those customers in the page's grid (paged by the
service) and its CSV, shows the selection as a removable chip and lives in the URL; the
click renders no page and runs no page callback but the grid's and the chip's."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.actions.action_builder import ActionBuilder

from tests.browser.conftest import console_errors, wait_until
from tests.browser.test_callback_rounds import _calls, _record, _wait_url

ROWS = "return dash_ag_grid.getApi('{grid}').getDisplayedRowCount();"


def _rows(dash_duo, grid: str) -> int:
    return dash_duo.driver.execute_script(ROWS.format(grid=grid))


def _grid_column(dash_duo, grid: str, field: str, n: int = 20) -> set:
    return set(
        dash_duo.driver.execute_script(
            f"var api = dash_ag_grid.getApi('{grid}'); var out = [];"
            f"for (var i = 0; i < Math.min({n}, api.getDisplayedRowCount()); i++) {{"
            "  var row = api.getDisplayedRowAtIndex(i);"
            f"  if (row && row.data) out.push(row.data['{field}']); }} return out;"
        )
    )


def _click_heatmap_cell(dash_duo, graph: str, x: int, y: int) -> None:
    """A real mouse click on the cell at data coordinates (x, y)."""
    plot = dash_duo.find_element(f"#{graph} .js-plotly-plot")
    dash_duo.driver.execute_script(
        "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", plot
    )
    left, top = dash_duo.driver.execute_script(
        "var l = arguments[0]._fullLayout; var r = arguments[0].getBoundingClientRect();"
        "return [r.left + l.xaxis._offset + l.xaxis.d2p(arguments[1]),"
        "        r.top + l.yaxis._offset + l.yaxis.d2p(arguments[2])];",
        plot,
        x,
        y,
    )
    actions = ActionBuilder(dash_duo.driver)
    actions.pointer_action.move_to_location(int(left), int(top)).click()
    actions.perform()


def _chip(dash_duo, prefix: str) -> str:
    chip = dash_duo.find_element(f"#{prefix}-sel-chip")
    return chip.text if chip.is_displayed() else ""


def test_a_click_on_the_rf_grid_lists_those_customers_in_the_grid_csv_and_url(
    dash_duo, browser_app
):
    from dashapp import service

    table = service.rfm_view(service.Filters.build()).table
    cell = table[(table["r_score"] == 5) & (table["f_score"] == 4)]
    assert 0 < len(cell) < len(table)
    dash_duo.start_server(browser_app)
    dash_duo.driver.get(dash_duo.server_url + "/rfm")
    dash_duo.wait_for_element("#rfm-grid .ag-row", timeout=30)
    dash_duo.wait_for_element("#rfm-heatmap .heatmaplayer", timeout=30)
    assert _chip(dash_duo, "rfm") == ""
    _record(dash_duo)

    _click_heatmap_cell(dash_duo, "rfm-heatmap", 4, 5)  # F = 4 (x), R = 5 (y)
    _wait_url(dash_duo, "rfm_sel=" + quote("r_score:5;f_score:4", safe=""))
    wait_until(lambda: _rows(dash_duo, "rfm-grid") == len(cell), what="the cell's customers")
    assert _grid_column(dash_duo, "rfm-grid", "r_score") == {5}
    assert _grid_column(dash_duo, "rfm-grid", "f_score") == {4}
    wait_until(lambda: "R score: 5 · F score: 4" in _chip(dash_duo, "rfm"), what="the chip")
    # one round: the grid's rows and the chip, never the page or its charts
    outputs = [c["output"] for c in _calls(dash_duo)]
    assert not [o for o in outputs if "_pages_content" in o or "rfm-kpis" in o], outputs
    assert sorted(set(outputs)) == sorted(outputs), outputs
    assert any("rfm-grid.getRowsResponse" in o for o in outputs), outputs

    # the CSV holds the same customers, with the grid's columns
    button = dash_duo.find_element("#rfm-download-btn")
    dash_duo.driver.execute_script("arguments[0].click();", button)
    folder = Path(dash_duo.download_path)
    end, target = time.time() + 15, None
    while time.time() < end and target is None:
        found = sorted(folder.glob("*rfm*.csv"))
        target = found[0] if found else None
        time.sleep(0.3)
    assert target is not None, "the CSV was not downloaded"
    time.sleep(0.5)
    csv = pd.read_csv(target, comment="#", dtype={"customer_id": str})
    assert sorted(csv["customer_id"]) == sorted(cell["customer_id"].astype(str))
    assert {"aov", "tenure", "first_purchase", "last_purchase"} <= set(csv.columns)

    # a click on a segment bar replaces the selection
    plot = dash_duo.find_element("#rfm-bars .js-plotly-plot")
    dash_duo.driver.execute_script(
        "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", plot
    )
    bar = dash_duo.find_element("#rfm-bars .trace.bars .point path")
    ActionChains(dash_duo.driver).move_to_element(bar).click().perform()
    _wait_url(dash_duo, "rfm_sel=segment")
    wait_until(lambda: "Segment: " in _chip(dash_duo, "rfm"), what="the segment chip")
    segment = _chip(dash_duo, "rfm").split("Segment: ")[1].split(" — ")[0].strip()
    wanted = (table["segment"] == segment).sum()
    wait_until(lambda: _rows(dash_duo, "rfm-grid") == wanted, what="the segment's customers")
    assert _grid_column(dash_duo, "rfm-grid", "segment") == {segment}
    # the chip counts the customers listed
    wait_until(lambda: f"— {wanted:,} customer" in _chip(dash_duo, "rfm"), what="the count")

    # the chip's remove button lists every customer again and clears the URL
    dash_duo.driver.execute_script("document.getElementById('rfm-sel-clear').click();")
    wait_until(lambda: "rfm_sel" not in dash_duo.driver.current_url, what="the URL cleared")
    wait_until(lambda: _rows(dash_duo, "rfm-grid") == len(table), what="every customer")
    wait_until(lambda: _chip(dash_duo, "rfm") == "", what="the chip removed")
    assert console_errors(dash_duo) == []


def test_a_drill_down_link_opens_with_its_selection(dash_duo, browser_app):
    from dashapp import service

    table = service.rfm_view(service.Filters.build()).table
    champions = int((table["segment"] == "Champions").sum())
    dash_duo.start_server(browser_app)
    dash_duo.driver.get(dash_duo.server_url + "/rfm?rfm_sel=segment%3AChampions")
    dash_duo.wait_for_element("#rfm-grid .ag-row", timeout=30)
    wait_until(lambda: _rows(dash_duo, "rfm-grid") == champions, what="the Champions")
    wait_until(lambda: "Segment: Champions" in _chip(dash_duo, "rfm"), what="the chip")
    # the browser's back button after a click goes back to the linked selection
    _click_heatmap_cell(dash_duo, "rfm-heatmap", 1, 1)
    _wait_url(dash_duo, "rfm_sel=" + quote("r_score:1;f_score:1", safe=""))
    dash_duo.driver.back()
    _wait_url(dash_duo, "rfm_sel=segment%3AChampions")
    wait_until(lambda: "Segment: Champions" in _chip(dash_duo, "rfm"), what="the chip back")
    wait_until(lambda: _rows(dash_duo, "rfm-grid") == champions, what="the Champions back")
    # a link whose selection names no column: said in red, every customer listed
    dash_duo.driver.get(dash_duo.server_url + "/rfm?rfm_sel=colour%3Ablue")
    dash_duo.wait_for_element("#rfm-sel-chip-error .alert-danger", timeout=30)
    assert "colour:blue" in dash_duo.find_element("#rfm-sel-chip-error").text
    wait_until(lambda: _rows(dash_duo, "rfm-grid") == len(table), what="every customer")


def test_a_click_on_the_clv_distribution_and_a_pareto_link_list_those_customers(
    dash_duo, browser_app
):
    from dashapp import service

    customers = service.clv_view(service.Filters.build()).customers
    dash_duo.start_server(browser_app)
    dash_duo.driver.get(dash_duo.server_url + "/clv")
    dash_duo.wait_for_element("#clv-grid .ag-row", timeout=60)
    dash_duo.wait_for_element("#clv-dist .trace.bars .point path", timeout=30)
    plot = dash_duo.find_element("#clv-dist .js-plotly-plot")
    dash_duo.driver.execute_script(
        "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", plot
    )
    # the tallest bar: big enough to click, its count read from the figure
    index, count = dash_duo.driver.execute_script(
        "var y = arguments[0].data[0].y; var i = y.indexOf(Math.max.apply(null, y));"
        "return [i, y[i]];",
        plot,
    )
    bar = dash_duo.find_elements("#clv-dist .trace.bars .point path")[index]
    ActionChains(dash_duo.driver).move_to_element(bar).click().perform()
    _wait_url(dash_duo, "clv_sel=clv%3A")
    wait_until(lambda: _rows(dash_duo, "clv-grid") == count, what="the bar's customers")
    wait_until(lambda: "Predicted CLV " in _chip(dash_duo, "clv"), what="the chip")
    # a Pareto-curve link: the top 20 % by predicted CLV
    dash_duo.driver.get(dash_duo.server_url + "/clv?clv_sel=clv%3Atop20")
    dash_duo.wait_for_element("#clv-grid .ag-row", timeout=60)
    top = int(np.ceil(len(customers) * 0.2))
    wait_until(lambda: _rows(dash_duo, "clv-grid") == top, what="the top 20 %")
    wait_until(lambda: "Predicted CLV: top 20 %" in _chip(dash_duo, "clv"), what="the chip")
    assert console_errors(dash_duo) == []


def test_each_story_shows_its_numbers_and_its_link_opens_those_customers(dash_duo, browser_app):
    from dashapp import service

    table = service.rfm_view(service.Filters.build()).table
    dash_duo.start_server(browser_app)
    for path, grid, prefix in (
        ("/clv", "clv-grid", "clv"),
        ("/clustering", "cl-grid", "cl"),
        ("/actions", "actions-grid", "act"),
        ("/rfm", "rfm-grid", "rfm"),
    ):
        dash_duo.driver.get(dash_duo.server_url + path)
        dash_duo.wait_for_element(".story .story-link", timeout=60)
        wait_until(lambda: "Next step:" in dash_duo.find_element(".story").text, 60, "story")
        text = dash_duo.find_element(".story").text
        assert "Next step:" in text and any(ch.isdigit() for ch in text), (path, text)
        if prefix is None:
            continue
        dash_duo.wait_for_element(f"#{grid} .ag-row", timeout=60)
        before = _rows(dash_duo, grid)
        link = dash_duo.find_element(".story .story-link")
        dash_duo.driver.execute_script("arguments[0].click();", link)
        _wait_url(dash_duo, f"{prefix}_sel=")
        wait_until(lambda p=prefix: _chip(dash_duo, p) != "", what=f"the chip on {path}")
        wait_until(lambda g=grid, b=before: 0 < _rows(dash_duo, g) < b, what=f"{path} list")
    # on RFM the story's link lists the lapsing segment it names
    name = dash_duo.find_element(".story .story-link").text.split("List the ")[1]
    name = name.removesuffix(" customers")
    wanted = int((table["segment"] == name).sum())
    wait_until(lambda: _rows(dash_duo, "rfm-grid") == wanted, what="the story's segment")
    assert f"Segment: {name}" in _chip(dash_duo, "rfm")
    assert console_errors(dash_duo) == []


def test_a_click_on_a_cohort_cell_lists_the_cohorts_customers_of_that_month(dash_duo, browser_app):
    from dashapp import service

    tables = service.cohorts_view(service.Filters.build()).tables
    dash_duo.start_server(browser_app)
    dash_duo.driver.get(dash_duo.server_url + "/cohorts")
    dash_duo.wait_for_element("#co-grid .ag-row", timeout=60)
    dash_duo.wait_for_element("#cohorts-retention .heatmaplayer", timeout=30)
    # the second cohort (row 1), month 1 after acquisition
    _click_heatmap_cell(dash_duo, "cohorts-retention", 1, 1)
    cohort = str(tables.sizes.index[1])
    _wait_url(dash_duo, "co_sel=" + quote(f"cohort:{cohort};months_active:has1", safe=""))
    active = int(tables.active.iloc[1, 1])
    wait_until(lambda: _rows(dash_duo, "co-grid") == active, what="the cell's customers")
    assert _grid_column(dash_duo, "co-grid", "cohort") == {cohort}
    wait_until(lambda: f"Cohort: {cohort} · bought in month 1" in _chip(dash_duo, "co"), 30,
               "the chip")  # fmt: skip
    assert console_errors(dash_duo) == []


def _download(dash_duo, prefix: str, pattern: str) -> pd.DataFrame:
    """Click the page's Download CSV and read the file (its '# ' header lines skipped)."""
    folder = Path(dash_duo.download_path)
    for old in folder.glob(pattern):
        old.unlink()
    button = dash_duo.find_element(f"#{prefix}-download-btn")
    dash_duo.driver.execute_script("arguments[0].click();", button)
    wait_until(lambda: any(folder.glob(pattern)), 15, "the CSV download")
    time.sleep(0.5)
    return pd.read_csv(next(folder.glob(pattern)), comment="#", dtype={"customer_id": str})


def _click_tile(dash_duo, graph: str, label: str) -> None:
    def find():
        slices = dash_duo.find_elements(f"#{graph} g.slice")
        return next((el for el in slices if el.text.startswith(label)), None)

    wait_until(lambda: find() is not None, 30, f"the {label} tile")
    tile = find()
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", tile)
    ActionChains(dash_duo.driver).move_to_element(tile).click().perform()


def test_a_click_on_a_cluster_lists_it_behind_the_same_chip_as_every_page(dash_duo, browser_app):
    """Clustering drills down like every page: a tile click shows the chip "Cluster: ... —
    n customers", the grid and the CSV list that cluster, the URL keeps it (a reload too),
    the chip's x lists every customer again; a click renders no page and runs only the
    grid's and the chip's callbacks. An old ``cl_cluster`` link opens the same selection."""
    from dashapp import service

    view = service.cluster_view(service.Filters.build())
    sizes = view.customers["cluster"].astype(str).value_counts()
    name = view.names[0]
    assert 0 < sizes[name] < len(view.customers)
    dash_duo.start_server(browser_app)
    dash_duo.driver.get(dash_duo.server_url + "/clustering")
    dash_duo.wait_for_element("#cl-grid .ag-row", timeout=60)
    dash_duo.wait_for_element("#cl-treemap g.slice", timeout=30)
    assert _chip(dash_duo, "cl") == ""
    wait_until(lambda: _rows(dash_duo, "cl-grid") == len(view.customers), what="every customer")
    _record(dash_duo)

    tiles = len(dash_duo.find_elements("#cl-treemap g.slice"))
    _click_tile(dash_duo, "cl-treemap", name)
    _wait_url(dash_duo, "cl_sel=" + quote(f"cluster:{name}", safe="").replace("%20", "+"))
    wait_until(lambda: _rows(dash_duo, "cl-grid") == sizes[name], what="the cluster's customers")
    assert _grid_column(dash_duo, "cl-grid", "cluster") == {name}
    chip = f"Cluster: {name} — {sizes[name]:,} customers"
    wait_until(lambda: chip in _chip(dash_duo, "cl"), what=f"the chip {chip!r}")
    # the treemap did not zoom into the tile: every tile is still there to click
    assert len(dash_duo.find_elements("#cl-treemap g.slice")) == tiles == len(view.names) + 1
    outputs = [c["output"] for c in _calls(dash_duo)]
    assert not [o for o in outputs if "_pages_content" in o or "cl-summary" in o], outputs
    assert sorted(set(outputs)) == sorted(outputs), outputs
    assert len(outputs) == 2 and any("cl-grid.getRowsResponse" in o for o in outputs), outputs
    csv = _download(dash_duo, "cl", "*_clusters-*.csv")
    assert len(csv) == sizes[name] and set(csv["cluster"]) == {name}
    first = dash_duo.driver.execute_script(
        "var api = dash_ag_grid.getApi('cl-grid'); var out = [];"
        "for (var i = 0; i < 5; i++) out.push(String(api.getDisplayedRowAtIndex(i).data"
        ".customer_id)); return out;"
    )
    assert list(csv["customer_id"][:5]) == first  # in the grid's order

    # a reload keeps the selection
    dash_duo.driver.refresh()
    dash_duo.wait_for_element("#cl-grid .ag-row", timeout=60)
    wait_until(lambda: chip in _chip(dash_duo, "cl"), 30, "the chip after a reload")
    wait_until(lambda: _rows(dash_duo, "cl-grid") == sizes[name], what="the list after a reload")

    # the chip's x: every customer, no chip, no selection in the URL
    dash_duo.driver.execute_script("document.getElementById('cl-sel-clear').click();")
    wait_until(lambda: "cl_sel" not in dash_duo.driver.current_url, what="the URL cleared")
    wait_until(lambda: _rows(dash_duo, "cl-grid") == len(view.customers), what="every customer")
    wait_until(lambda: _chip(dash_duo, "cl") == "", what="the chip removed")
    assert len(_download(dash_duo, "cl", "*_clusters-*.csv")) == len(view.customers)

    # a click on a scatter point (WebGL: its clickData set as Plotly would) lists its cluster
    last = view.names[-1]
    dash_duo.driver.execute_script(
        "window.dash_clientside.set_props('cl-scatter', {clickData: {points: "
        "[{curveNumber: arguments[0], pointNumber: 0, customdata: [1, 2, 3]}]}});",
        len(view.names) - 1,
    )
    wait_until(lambda: f"Cluster: {last} — {sizes[last]:,}" in _chip(dash_duo, "cl"), 30, "scatter")
    wait_until(lambda: _rows(dash_duo, "cl-grid") == sizes[last], what="the scatter's cluster")

    # an old link (cl_cluster) opens the same selection
    dash_duo.driver.get(dash_duo.server_url + "/clustering?cl_cluster=" + quote(name))
    dash_duo.wait_for_element("#cl-grid .ag-row", timeout=60)
    wait_until(lambda: chip in _chip(dash_duo, "cl"), 30, "the chip of an old link")
    wait_until(lambda: _rows(dash_duo, "cl-grid") == sizes[name], what="the old link's list")
    assert console_errors(dash_duo) == []
