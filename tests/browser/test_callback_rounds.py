"""One round of callbacks per change (structure, not timing): a control change runs each
callback whose inputs changed once, never the Dash Pages router (the page container), and
the URL still follows; purely visual switches run in the browser with no request at all.

Every callback request the page sends is recorded by wrapping ``window.fetch`` (the Dash
renderer sends them with it): its output, and the size of its response.
"""

from __future__ import annotations

import collections
import time

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.browser.conftest import BUSY, console_errors, settle, wait_until

PAGE_CONTAINER = "_pages_content"

RECORDER = """
window.__dashCalls = [];
window.__dashPending = 0;
// Dash components in a response: each one the renderer mounts costs a store dispatch that
// visits every component on the page (dashapp.web.components.markup)
window.__dashCount = function count(value) {
    if (Array.isArray(value)) return value.reduce(function (n, v) { return n + count(v); }, 0);
    if (!value || typeof value !== "object") return 0;
    var own = (value.namespace && value.type && value.props) ? 1 : 0;
    return Object.keys(value).reduce(function (n, k) { return n + count(value[k]); }, own);
};
if (!window.__dashFetch) {
    window.__dashFetch = window.fetch;
    window.fetch = function (url, options) {
        var promise = window.__dashFetch.apply(this, arguments);
        if (String(url).indexOf("_dash-update-component") < 0) return promise;
        var body = JSON.parse((options && options.body) || "{}");
        var call = {output: body.output, changed: body.changedPropIds, bytes: null};
        window.__dashCalls.push(call);
        window.__dashPending += 1;
        return promise.then(function (response) {
            response.clone().text().then(function (text) {
                call.bytes = text.length;
                try {
                    var answer = JSON.parse(text).response || {};
                    call.updated = Object.keys(answer);
                    call.components = window.__dashCount(answer);
                } catch (e) {}
                window.__dashPending -= 1;
            }, function () { window.__dashPending -= 1; });
            return response;
        }, function (err) { window.__dashPending -= 1; throw err; });
    };
}
"""


#: [requests recorded, requests in flight, why the renderer is busy ('' when idle)]
PROGRESS = (
    "return [window.__dashCalls.length, window.__dashPending, (function () {" + BUSY + "})()];"
)


def _settle(dash_duo, quiet: float = 1.0, timeout: float = 60) -> None:
    """Wait until no callback request is in flight, none is queued in the renderer's store
    (requested, running or being applied: a chain counts as busy throughout) and none started
    for ``quiet`` seconds."""
    driver = dash_duo.driver
    end = time.time() + timeout
    seen, since = -1, time.time()
    while time.time() < end:
        count, pending, busy = driver.execute_script(PROGRESS)
        if count != seen or pending or busy:
            seen, since = count, time.time()
        elif time.time() - since >= quiet:
            return
        time.sleep(0.1)
    raise AssertionError("the page's callbacks did not settle")


def _record(dash_duo) -> None:
    _settle_loading(dash_duo)
    dash_duo.driver.execute_script(RECORDER)
    _settle(dash_duo)
    dash_duo.driver.execute_script("window.__dashCalls = [];")


def _settle_loading(dash_duo) -> None:
    settle(dash_duo)  # drawn, no callback pending in the store, no loading marker


def _calls(dash_duo) -> list[dict]:
    _settle(dash_duo)
    return dash_duo.driver.execute_script("return window.__dashCalls;")


def _assert_one_round(calls: list[dict], expected: set[str]) -> None:
    outputs = [c["output"] for c in calls]
    assert not [o for o in outputs if PAGE_CONTAINER in o], (
        f"the page was rendered again: {outputs}"
    )
    repeated = {o: n for o, n in collections.Counter(outputs).items() if n > 1}
    assert not repeated, f"callbacks ran more than once: {repeated}; {calls}"
    big = {c["output"]: c["bytes"] for c in calls if "grid" in c["output"] and c["bytes"] > 100_000}
    assert not big, f"grid responses over 100 kB: {big}"
    ran = {o.strip(".").split(".")[0] for o in outputs}
    missing = {e for e in expected if not any(e in o for o in outputs)}
    assert not missing, f"expected callbacks did not run: {missing} (ran: {sorted(ran)})"


def _set_text(dash_duo, dom_id: str, value: str) -> None:
    box = dash_duo.driver.find_element(By.CSS_SELECTOR, f"input[id='{dom_id}']")
    # focus without a click: an open date picker calendar may cover the box
    dash_duo.driver.execute_script("arguments[0].scrollIntoView(); arguments[0].focus();", box)
    if box.get_attribute("value"):
        box.send_keys(Keys.CONTROL, "a")
    box.send_keys(value)
    box.send_keys(Keys.ENTER)


def _click_label(dash_duo, text: str) -> None:
    label = dash_duo.driver.find_element(By.XPATH, f"//label[normalize-space()='{text}']")
    dash_duo.driver.execute_script("arguments[0].click();", label)


def _wait_url(dash_duo, part: str, timeout: float = 15) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if part in dash_duo.driver.current_url:
            return
        time.sleep(0.1)
    raise AssertionError(f"{part!r} not in the URL {dash_duo.driver.current_url}")


def test_a_page_load_runs_each_page_callback_once(dash_duo, browser_app):
    """Loading a page is one round too: the date pickers (Dash 4 sets an empty picker's date
    on mount) must not start a second round of every page callback, and a paged grid asks for
    its first block once (not also on load, before it asks). Each page is loaded twice: on the
    second visit the pickers' code is cached and mounts before the first round is sent, which
    is when the RFM page's empty as-of picker ran every callback again."""
    dash_duo.start_server(browser_app)
    dash_duo.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORDER})
    pages = (("/clustering?start=2010-03-01", "cl-summary"), ("/actions", "actions-"),
             ("/rfm?end=2011-06-30", "rfm-kpis"))  # fmt: skip
    for path, main in pages:
        for visit in ("first", "second"):
            dash_duo.driver.get("about:blank")
            dash_duo.driver.get(dash_duo.server_url + path)
            _settle_loading(dash_duo)
            calls = _calls(dash_duo)
            by_date = [c for c in calls if any('"kind":"date"' in p for p in c["changed"] or [])]
            assert not by_date, f"{path} ({visit}): a round started by an untouched date: {by_date}"
            assert len([c for c in calls if main in c["output"] and "grid" not in c["output"]]) == 1
            outputs = collections.Counter(c["output"] for c in calls)
            repeated = {output: n for output, n in outputs.items() if n > 1}
            assert not repeated, f"{path} ({visit}): callbacks run more than once: {repeated}"
            grids = [c for c in calls if "getRowsResponse" in c["output"]]
            assert len(grids) == 1, f"{path} ({visit}): {len(grids)} grid requests"
    assert console_errors(dash_duo) == []


def test_a_filter_change_runs_each_page_callback_once_without_rendering_the_page(
    dash_duo, browser_app
):
    dash_duo.start_server(browser_app)
    dash_duo.driver.get(dash_duo.server_url + "/rfm")
    dash_duo.wait_for_element("#rfm-grid .ag-row", timeout=30)
    _record(dash_duo)
    _set_text(dash_duo, '{"key":"end","kind":"date"}', "2010-12-31")
    _wait_url(dash_duo, "end=2010-12-31")
    calls = _calls(dash_duo)
    _assert_one_round(calls, {"rfm-kpis", "rfm-grid"})
    # the navbar links carry the new query string (clientside, no request)
    links = dash_duo.driver.execute_script(
        "return Array.from(document.querySelectorAll('a.nav-link')).map(a => a.href);"
    )
    assert links and all("end=2010-12-31" in link for link in links), links
    # the as-of date is the day after the chosen range (issue 13), not the last invoice in it
    assert "as of 2011-01-01" in dash_duo.find_element("#rfm-kpis").text

    # a cut-point change: the same two callbacks, once each
    dash_duo.driver.execute_script("window.__dashCalls = [];")
    _set_text(dash_duo, '{"key":"f_cuts","kind":"state"}', "2,3,5,10")
    _wait_url(dash_duo, "f_cuts=2%2C3%2C5%2C10")
    _assert_one_round(_calls(dash_duo), {"rfm-kpis", "rfm-grid"})
    assert console_errors(dash_duo) == []


def test_a_clv_model_switch_runs_each_clv_callback_once(dash_duo, browser_app):
    dash_duo.start_server(browser_app)
    dash_duo.driver.get(dash_duo.server_url + "/clv")
    dash_duo.wait_for_element("#clv-params-table", timeout=30)
    dash_duo.wait_for_element("#clv-grid .ag-row", timeout=30)
    _record(dash_duo)
    _click_label(dash_duo, "Pareto/NBD")
    _wait_url(dash_duo, "clv_model=pareto")
    calls = _calls(dash_duo)
    _assert_one_round(calls, {"clv-fit-params", "clv-kpis", "clv-grid"})
    # the holdout check (a refit on the calibration period) waits until its panel is opened
    assert not [c for c in calls if "clv-scorecard" in c["output"]], calls
    assert len(calls) <= 3, [c["output"] for c in calls]
    assert "Pareto/NBD" in dash_duo.find_element("#clv-params-table").text
    # the tables and KPI cards arrive as static blocks, not one component per cell (162
    # components before), and Gamma-Gamma's independence check, which does not depend on
    # the purchase model, is not sent again
    mounted = sum(c.get("components") or 0 for c in calls)
    assert mounted <= 30, [(c["output"][:40], c.get("components")) for c in calls]
    updated = {u for c in calls for u in c.get("updated") or []}
    assert "clv-fit-params" in updated and not {"clv-indep", "clv-indep-verdict"} & updated
    assert dash_duo.find_element("#clv-indep-alert").text  # the verdict is still shown

    # opened, it is computed once, for the model shown; closed again, it costs nothing
    dash_duo.driver.execute_script("window.__dashCalls = [];")
    dash_duo.driver.execute_script("document.getElementById('clv-holdout-toggle').click();")
    dash_duo.wait_for_element("#clv-scorecard-table", timeout=30)
    opened = _calls(dash_duo)
    assert [c["output"] for c in opened if "clv-scorecard" in c["output"]] and len(opened) == 1
    assert "β" in dash_duo.find_element("#clv-cal-info").text  # Pareto/NBD's calibration fit
    dash_duo.driver.execute_script("document.getElementById('clv-holdout-toggle').click();")
    dash_duo.driver.execute_script("window.__dashCalls = [];")
    _click_label(dash_duo, "BG/NBD")
    _wait_url(dash_duo, "clv_model=bgnbd")
    calls = _calls(dash_duo)
    assert len(calls) <= 3 and not [c for c in calls if "clv-scorecard" in c["output"]], calls
    assert console_errors(dash_duo) == []


def test_clv_comparison_and_intervals_are_computed_only_when_opened(dash_duo, browser_app):
    dash_duo.start_server(browser_app)
    dash_duo.driver.get(dash_duo.server_url + "/clv?clv_model=mbgnbd")
    dash_duo.wait_for_element("#clv-params-table", timeout=30)
    dash_duo.wait_for_element("#clv-grid .ag-row", timeout=30)
    wait_until(  # the table may be re-rendered while read
        lambda: "MBG/NBD" in dash_duo.find_element("#clv-params-table").text, what="MBG/NBD"
    )
    _record(dash_duo)
    # closed panels: a model switch asks for neither the comparison nor the intervals
    _click_label(dash_duo, "BG/NBD")
    _wait_url(dash_duo, "clv_model=bgnbd")
    calls = _calls(dash_duo)
    assert len(calls) <= 3, [c["output"] for c in calls]
    assert not [c for c in calls if "compare" in c["output"] or "intervals" in c["output"]]

    # the comparison, opened: one request, a table with the five candidates and a winner
    dash_duo.driver.execute_script("window.__dashCalls = [];")
    dash_duo.driver.execute_script("document.getElementById('clv-compare-toggle').click();")
    dash_duo.wait_for_element("#clv-comparison-table", timeout=60)
    opened = _calls(dash_duo)
    assert len(opened) == 1 and "clv-compare-table" in opened[0]["output"], opened
    table = dash_duo.find_element("#clv-comparison-table").text
    for label in ("BG/NBD", "Pareto/NBD", "MBG/NBD", "Gradient boosting (ML)", "Naive baseline"):
        assert label in table
    assert "★" in table and "Recommended" in dash_duo.find_element("#clv-compare-winner").text
    # the comparison does not depend on the model shown: a switch sends it nothing
    dash_duo.driver.execute_script("window.__dashCalls = [];")
    _click_label(dash_duo, "Pareto/NBD")
    _wait_url(dash_duo, "clv_model=pareto")
    assert not [c for c in _calls(dash_duo) if "compare" in c["output"]]

    # the intervals, opened: one request; the level switch recomputes them once
    dash_duo.driver.execute_script("window.__dashCalls = [];")
    dash_duo.driver.execute_script("document.getElementById('clv-intervals-toggle').click();")
    dash_duo.wait_for_element("#clv-interval-totals", timeout=90)
    opened = _calls(dash_duo)
    assert len(opened) == 1 and "clv-intervals-totals" in opened[0]["output"], opened
    assert "90% interval" in dash_duo.find_element("#clv-interval-totals").text
    dash_duo.driver.execute_script("window.__dashCalls = [];")
    _click_label(dash_duo, "80 %")
    _wait_url(dash_duo, "clv_level=80")
    wait_until(
        lambda: "80% interval" in dash_duo.find_element("#clv-interval-totals").text,
        timeout=90,
    )
    calls = _calls(dash_duo)
    assert [c["output"] for c in calls if "intervals" in c["output"]] == [opened[0]["output"]], (
        calls
    )
    assert console_errors(dash_duo) == []


def test_a_clustering_k_change_runs_each_clustering_callback_once(dash_duo, browser_app):
    dash_duo.start_server(browser_app)
    dash_duo.driver.get(dash_duo.server_url + "/clustering")
    dash_duo.wait_for_element("#cl-scatter .main-svg", timeout=30)
    _record(dash_duo)
    _set_text(dash_duo, '{"key":"cl_k","kind":"state"}', "5")
    _wait_url(dash_duo, "cl_k=5")
    calls = _calls(dash_duo)
    _assert_one_round(calls, {"cl-summary", "cl-grid"})
    # the diagnostic curves are off the hot path: nothing asked while their panel is closed
    assert not [c for c in calls if "cl-diagnostics" in c["output"]], calls
    dash_duo.driver.execute_script("window.__dashCalls = [];")
    dash_duo.driver.execute_script("document.getElementById('cl-diag-toggle').click();")
    dash_duo.wait_for_element("#cl-diagnostics .scatterlayer .trace", timeout=30)
    opened = _calls(dash_duo)
    # one request: the curve, its note and the suggested k (issue 16)
    assert len(opened) == 1, opened
    assert opened[0]["output"].startswith("..cl-diagnostics.figure...cl-diag-note.children")
    assert "cl-k-advice.children" in opened[0]["output"]
    # open: a k change redraws it with the rest, once
    dash_duo.driver.execute_script("window.__dashCalls = [];")
    _set_text(dash_duo, '{"key":"cl_k","kind":"state"}', "4")
    _wait_url(dash_duo, "cl_k=4")
    _assert_one_round(_calls(dash_duo), {"cl-summary", "cl-grid", "cl-diagnostics"})
    assert console_errors(dash_duo) == []


def _value(dash_duo, dom_id: str) -> str:
    box = dash_duo.driver.find_element(By.CSS_SELECTOR, f"input[id='{dom_id}']")
    return box.get_attribute("value")


def test_back_button_after_a_change_restores_the_view(dash_duo, browser_app):
    end_id, cuts_id = '{"key":"end","kind":"date"}', '{"key":"f_cuts","kind":"state"}'
    dash_duo.start_server(browser_app)
    dash_duo.driver.get(dash_duo.server_url + "/rfm?f_cuts=2%2C3%2C5%2C10")
    dash_duo.wait_for_element("#rfm-grid .ag-row", timeout=30)
    _settle_loading(dash_duo)
    kpis = dash_duo.find_element("#rfm-kpis").text
    _set_text(dash_duo, end_id, "2010-12-31")
    _wait_url(dash_duo, "end=2010-12-31")
    wait_until(lambda: dash_duo.find_element("#rfm-kpis").text != kpis, what="new KPIs")
    dash_duo.driver.back()
    wait_until(lambda: "end=" not in dash_duo.driver.current_url, what="the URL before the change")
    wait_until(lambda: _value(dash_duo, end_id) == "", what="the end date cleared again")
    wait_until(lambda: dash_duo.find_element("#rfm-kpis").text == kpis, what="the KPIs restored")
    assert _value(dash_duo, cuts_id) == "2,3,5,10"
    dash_duo.driver.forward()
    wait_until(lambda: _value(dash_duo, end_id) == "2010-12-31", what="forward: the end date again")
    wait_until(lambda: dash_duo.find_element("#rfm-kpis").text != kpis, what="forward: the KPIs")
    assert console_errors(dash_duo) == []


def test_choosing_another_dataset_renders_its_filter_bar(dash_duo, browser_app):
    start_id = '{"key":"start","kind":"date"}'
    dash_duo.start_server(browser_app)
    dash_duo.driver.get(dash_duo.server_url + "/?start=2010-06-01")
    dash_duo.wait_for_element("#kpi-revenue", timeout=30)
    _settle_loading(dash_duo)
    assert not dash_duo.driver.find_elements(By.CSS_SELECTOR, "#demo-notice")
    dataset = dash_duo.find_element(".filter-bar .Select-control, .filter-bar .dash-dropdown")
    dataset.click()
    option = dash_duo.driver.find_element(
        By.XPATH,
        "//*[contains(@class, 'filter-bar')]//*[normalize-space()='Demo data (generated)']",
    )
    option.click()
    _wait_url(dash_duo, "dataset=demo")
    assert "start=" not in dash_duo.driver.current_url  # the previous dataset's range is dropped
    dash_duo.wait_for_element("#demo-notice", timeout=60)  # the page was built for the demo data
    wait_until(lambda: _value(dash_duo, start_id) == "", what="the start date cleared")
    assert console_errors(dash_duo) == []


def _colorbar_title(dash_duo, graph: str) -> str:
    return dash_duo.driver.execute_script(
        f"var g = document.querySelector('#{graph} .js-plotly-plot');"
        "return g.data[0].colorbar.title.text;"
    )


def _yaxis_title(dash_duo, graph: str) -> str:
    return dash_duo.driver.execute_script(
        f"var g = document.querySelector('#{graph} .js-plotly-plot');"
        "return g.layout.yaxis.title.text;"
    )


def test_visual_switches_run_in_the_browser_without_a_request(dash_duo, browser_app):
    dash_duo.start_server(browser_app)
    dash_duo.driver.get(dash_duo.server_url + "/rfm")
    dash_duo.wait_for_element("#rfm-heatmap .heatmaplayer", timeout=30)
    _record(dash_duo)
    assert _colorbar_title(dash_duo, "rfm-heatmap") == "Customers"
    _click_label(dash_duo, "Colour by revenue")
    _wait_url(dash_duo, "heat=revenue")
    wait_until(
        lambda: _colorbar_title(dash_duo, "rfm-heatmap").startswith("Revenue"), what="colour"
    )
    assert _calls(dash_duo) == []  # no server round trip

    dash_duo.driver.get(dash_duo.server_url + "/clv")
    dash_duo.wait_for_element("#clv-holdout-toggle", timeout=30)
    dash_duo.driver.execute_script("document.getElementById('clv-holdout-toggle').click();")
    dash_duo.wait_for_element("#clv-tracking .scatterlayer .trace", timeout=30)
    _record(dash_duo)
    weekly = _yaxis_title(dash_duo, "clv-tracking")
    _click_label(dash_duo, "Cumulative")
    _wait_url(dash_duo, "clv_track=cumulative")
    wait_until(lambda: _yaxis_title(dash_duo, "clv-tracking") != weekly, what="cumulative plot")
    assert "umulative" in _yaxis_title(dash_duo, "clv-tracking")
    assert _calls(dash_duo) == []
    assert console_errors(dash_duo) == []


def _grid_row(dash_duo, grid: str, index: int) -> dict:
    return dash_duo.driver.execute_script(
        f"var api = dash_ag_grid.getApi('{grid}'); var row = api.getDisplayedRowAtIndex({index});"
        "return row && row.data;"
    )


def test_the_customer_grid_is_paged_sorted_and_filtered_by_the_server(dash_duo, browser_app):
    from dashapp import service

    scored = service.rfm_view(service.Filters.build()).scored
    dash_duo.start_server(browser_app)
    dash_duo.driver.get(dash_duo.server_url + "/rfm")
    dash_duo.wait_for_element("#rfm-grid .ag-row", timeout=30)
    _record(dash_duo)
    assert _grid_row(dash_duo, "rfm-grid", 0)["customer_id"] == str(scored.index[0])
    # sort by monetary, largest first: the server sorts every customer, not the page shown
    dash_duo.driver.execute_script(
        "dash_ag_grid.getApi('rfm-grid').applyColumnState("
        "{state: [{colId: 'monetary', sort: 'desc'}], defaultState: {sort: null}});"
    )
    top = scored["monetary"].max()
    wait_until(lambda: _grid_row(dash_duo, "rfm-grid", 0)["monetary"] == top, what="sorted rows")
    # a column filter: the count of matching customers comes from the server
    dash_duo.driver.execute_script(
        "dash_ag_grid.getApi('rfm-grid').setFilterModel("
        "{segment: {filterType: 'text', type: 'equals', filter: 'Champions'}});"
    )
    champions = scored[scored["segment"] == "Champions"]
    wait_until(
        lambda: (
            dash_duo.driver.execute_script(
                "return dash_ag_grid.getApi('rfm-grid').getDisplayedRowCount();"
            )
            == len(champions)
        ),
        what="filtered row count",
    )
    assert _grid_row(dash_duo, "rfm-grid", 0)["monetary"] == champions["monetary"].max()
    calls = _calls(dash_duo)
    assert calls and all("rfm-grid.getRowsResponse" in c["output"] for c in calls), calls
    assert all(c["bytes"] < 100_000 for c in calls), calls

    # the action list pages the same way: every customer reachable, not a preview
    actions = service.action_list(service.Filters.build()).table
    dash_duo.driver.get(dash_duo.server_url + "/actions")
    dash_duo.wait_for_element("#actions-grid .ag-row", timeout=60)
    wait_until(
        lambda: (
            dash_duo.driver.execute_script(
                "return dash_ag_grid.getApi('actions-grid').getDisplayedRowCount();"
            )
            == len(actions)
        ),
        what="every customer of the action list",
    )
    assert _grid_row(dash_duo, "actions-grid", 0)["customer_id"] == actions["customer_id"].iloc[0]
    assert console_errors(dash_duo) == []


#: Per chart: [its figure's margins, the margins Plotly settled on] (l, r, t, b). Equal when
#: the figure left room for its labels, legend and colour bar: the chart was laid out once
#: (Plotly's automatic margins push a margin that is too small and lay the chart out again).
MARGINS = """return Object.fromEntries(arguments[0].map(function (id) {
    var gd = document.querySelector('#' + id + ' .js-plotly-plot');
    var m = (gd && gd.layout && gd.layout.margin) || {}, s = (gd && gd._fullLayout._size) || {};
    return [id, [[m.l, m.r, m.t, m.b], [s.l, s.r, s.t, s.b].map(Math.round)]];
}));"""


def test_a_customer_search_is_one_request_and_its_charts_are_laid_out_once(dash_duo, browser_app):
    """Searching a customer sends one request (the explanation is computed only once its
    panel is opened); the timeline and the two histories arrive with margins that already
    hold their labels and legends, so none is laid out twice; once opened, the explanation
    follows the next customer searched, each callback once."""
    dash_duo.start_server(browser_app)
    dash_duo.driver.get(dash_duo.server_url + "/customer")
    dash_duo.wait_for_element("#cust-explain-toggle", timeout=30)
    _record(dash_duo)
    _set_text(dash_duo, '{"key":"id","kind":"state"}', "12490")
    dash_duo.wait_for_element("#cust-segment", timeout=60)
    calls = _calls(dash_duo)
    assert [c["output"] for c in calls if "cust-" in c["output"]] == [calls[0]["output"]], calls
    assert "cust-timeline.figure" in calls[0]["output"]
    assert not [c for c in calls if "cust-explain" in c["output"]]
    charts = ["cust-timeline", "cust-rfm", "cust-alive"]
    margins = dash_duo.driver.execute_script(MARGINS, charts)
    for chart in charts:
        given, settled = margins[chart]
        assert None not in given and given == settled, (chart, margins)

    dash_duo.driver.execute_script("window.__dashCalls = [];")
    dash_duo.driver.execute_script("document.getElementById('cust-explain-toggle').click();")
    dash_duo.wait_for_element("#cust-explain .waterfalllayer .point", timeout=90)
    opened = _calls(dash_duo)
    assert len(opened) == 1 and "cust-explain.figure" in opened[0]["output"], opened
    given, settled = dash_duo.driver.execute_script(MARGINS, ["cust-explain"])["cust-explain"]
    assert given == settled, (given, settled)

    # the panel stays open: the next customer brings its own explanation, each callback once
    dash_duo.driver.execute_script("window.__dashCalls = [];")
    _set_text(dash_duo, '{"key":"id","kind":"state"}', "12682")
    wait_until(
        lambda: "12682" in dash_duo.driver.current_url, what="the second customer in the URL"
    )
    calls = _calls(dash_duo)
    _assert_one_round(calls, {"cust-timeline", "cust-explain"})
    assert len(calls) == 2, [c["output"] for c in calls]
    assert console_errors(dash_duo) == []


CLICK_COUNTRY = """var gd = document.querySelector('#geo-map .js-plotly-plot');
var trace = gd.data[0], i = trace.customdata.indexOf(arguments[0]);
gd.emit('plotly_click', {points: [{curveNumber: 0, pointNumber: i, pointIndex: i,
    location: trace.locations[i], customdata: trace.customdata[i], z: trace.z[i]}]});"""


def test_a_country_click_filters_the_app_in_one_request(dash_duo, browser_app):
    """A click on a country of the map sets the country filter in the browser (no request of
    its own): the map and the table are asked for once, for that country, and the URL and the
    filter bar follow; a second click on the same country changes nothing."""
    dash_duo.start_server(browser_app)
    dash_duo.driver.get(dash_duo.server_url + "/countries")
    dash_duo.wait_for_element("#geo-map .js-plotly-plot .choroplethlocation", timeout=60)
    dash_duo.wait_for_element("#geo-table table", timeout=30)
    _record(dash_duo)
    dash_duo.driver.execute_script(CLICK_COUNTRY, "France")
    _wait_url(dash_duo, "countries=France")
    calls = _calls(dash_duo)
    assert len(calls) == 1 and "geo-map-choices.data" in calls[0]["output"], calls
    assert "countries" in calls[0]["changed"][0], calls
    wait_until(
        lambda: dash_duo.find_element("#geo-table").text.count("France") >= 1,
        what="France in the table",
    )
    assert "Germany" not in dash_duo.find_element("#geo-table").text
    assert "France" in dash_duo.find_element(".filter-bar").text
    dash_duo.driver.execute_script("window.__dashCalls = [];")
    dash_duo.driver.execute_script(CLICK_COUNTRY, "France")
    assert _calls(dash_duo) == []
    assert console_errors(dash_duo) == []
