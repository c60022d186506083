"""Clustering suggests k: with the diagnostics panel open (computed only then), the curve
marks the k with the best silhouette, a sentence says when the chosen k is a poor fit, and
one click chooses the suggested k (URL and page follow)."""

from __future__ import annotations

from dashapp import service
from tests.browser.conftest import console_errors, wait_until
from tests.browser.test_callback_rounds import _calls, _record, _wait_url

K_BOX = 'input[id=\'{"key":"cl_k","kind":"state"}\']'


def test_the_suggested_k_is_marked_explained_and_one_click_away(dash_duo, browser_app):
    diag = service.cluster_diagnostics(service.Filters.build(), "kmeans", 10)
    best = diag.suggestion
    assert best is not None and best.k != 10
    dash_duo.start_server(browser_app)
    dash_duo.driver.get(dash_duo.server_url + "/clustering?cl_k=10")
    dash_duo.wait_for_element("#cl-grid .ag-row", timeout=60)
    _record(dash_duo)
    assert not [c for c in _calls(dash_duo) if "cl-diagnostics" in c["output"]]  # closed: none
    dash_duo.driver.execute_script("document.getElementById('cl-diag-toggle').click();")
    dash_duo.wait_for_element("#cl-diagnostics .scatterlayer .trace", timeout=60)
    names = dash_duo.driver.execute_script(
        "return document.querySelector('#cl-diagnostics .js-plotly-plot').data"
        ".map(t => [t.name, t.x]);"
    )
    assert [f"Suggested k = {best.k} (highest silhouette)", [best.k]] in names, names
    wait_until(lambda: dash_duo.find_element("#cl-k-use").is_displayed(), what="the button")
    advice = dash_duo.find_element("#cl-k-advice").text
    if best.poor_fit:
        assert "k = 10 is a poor fit" in advice, advice
    assert f"k = {best.k} has the highest silhouette ({best.score:.2f})" in advice, advice
    assert dash_duo.find_element("#cl-k-use").text == f"Use k = {best.k}"

    dash_duo.driver.execute_script("document.getElementById('cl-k-use').click();")
    _wait_url(dash_duo, f"cl_k={best.k}")
    assert dash_duo.find_element(K_BOX).get_attribute("value") == str(best.k)
    wait_until(lambda: "the k chosen" in dash_duo.find_element("#cl-k-advice").text, 60,
               "the advice for the new k")  # fmt: skip
    assert not dash_duo.find_element("#cl-k-use").is_displayed()
    assert console_errors(dash_duo) == []
