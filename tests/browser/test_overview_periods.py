"""Overview date presets: a click sets From and To (and the URL) without rendering the page,
and each KPI says its change against the period before and the year before, or that the
data do not cover it."""

from __future__ import annotations

from tests.browser.conftest import console_errors, wait_until
from tests.browser.test_callback_rounds import _calls, _record, _wait_url


def _changes(dash_duo) -> list[str]:
    return [e.text for e in dash_duo.find_elements("#kpi-row .kpi-change")]


def _uncovered(dash_duo) -> str:
    found = dash_duo.find_elements("#overview-uncovered")
    return found[0].text if found else ""


def test_a_preset_sets_the_range_and_the_kpis_compare_periods(dash_duo, browser_app):
    from dashapp import service
    from dashapp.service.filters import Filters

    dash_duo.start_server(browser_app)
    dash_duo.driver.get(dash_duo.server_url + "/")
    dash_duo.wait_for_element("#kpi-row", timeout=30)
    # the whole range: nothing before it to compare with, said once above the cards
    wait_until(lambda: _uncovered(dash_duo).startswith("No comparison with"), what="the note")
    assert "the 739 days before" in _uncovered(dash_duo) and "a year before" in _uncovered(dash_duo)
    assert _changes(dash_duo) == []
    _record(dash_duo)

    dash_duo.driver.execute_script("document.getElementById('overview-preset-last90').click();")
    _wait_url(dash_duo, "start=2011-09-11")
    assert "end=2011-12-09" in dash_duo.driver.current_url
    wait_until(lambda: "vs the 90 days before" in " ".join(_changes(dash_duo)), what="90 days")
    outputs = [c["output"] for c in _calls(dash_duo)]
    assert not [o for o in outputs if "_pages_content" in o], outputs
    assert len(outputs) == len(set(outputs)), outputs

    view = service.overview(Filters.build(start="2011-09-11", end="2011-12-09"))
    before = view.comparisons["previous"][1]
    revenue = dash_duo.find_elements("#kpi-row .card")[0].text
    expected = 100 * (view.kpis.net_revenue / before.net_revenue - 1)
    assert f"{expected:+.1f}% vs the 90 days before" in revenue, revenue
    assert "vs a year before" in revenue and "not covered" not in revenue
    assert len(_changes(dash_duo)) == 10 and _uncovered(dash_duo) == ""  # two lines per KPI

    # "All" clears the range again
    dash_duo.driver.execute_script("document.getElementById('overview-preset-all').click();")
    wait_until(lambda: "start=" not in dash_duo.driver.current_url, what="the range cleared")
    wait_until(lambda: _uncovered(dash_duo).startswith("No comparison"), what="not covered")
    assert console_errors(dash_duo) == []
