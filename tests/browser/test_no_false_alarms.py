"""No false alarms: a page the user has not touched loads without a console error and shows no
error or warning, and a filter that matches nothing gets a neutral empty state (grey text),
never a red or yellow alert."""

from __future__ import annotations

import dash

from tests.browser.conftest import console_errors, save_screenshot, settle

#: Red and yellow alerts, but for a finding about the data itself (the CLV page's verdict on
#: Gamma-Gamma's independence assumption is yellow when the data breaks it).
ALARMS = ".alert-danger, .alert-warning:not(#clv-indep-alert)"
#: A Saturday: the shop never trades on one, so no invoice and no customer match this day.
NO_DATA = "start=2010-12-04&end=2010-12-04"


def _shown_alarms(dash_duo) -> list[str]:
    return [
        el.text for el in dash_duo.driver.find_elements("css selector", ALARMS) if el.is_displayed()
    ]


def test_no_page_raises_an_alarm_or_a_console_error_on_a_first_visit(dash_duo, browser_app):
    dash_duo.start_server(browser_app)
    for page in dash.page_registry.values():
        dash_duo.driver.get(dash_duo.server_url + page["relative_path"])
        settle(dash_duo)  # the page's callbacks have finished (h1/h2 drawn, none pending)
        save_screenshot(dash_duo, f"page-{page['name'].lower().replace(' ', '-')}")
        errors = console_errors(dash_duo)
        assert errors == [], f"{page['path']}: {errors}"
        assert "Something went wrong" not in dash_duo.find_element("body").text, page["path"]
        assert _shown_alarms(dash_duo) == [], page["path"]


#: Each page's empty state when the filters match nothing.
EMPTY_STATES = {
    "/": "No invoices match these filters",
    "/rfm": "No customers match these filters",
    "/clv": "No customers match these filters",
    "/cohorts": "No customers match these filters",
    "/clustering": "No customers match these filters",
    "/actions": "No customers match these filters",
}


def test_a_filter_matching_nothing_is_a_neutral_empty_state(dash_duo, browser_app):
    dash_duo.start_server(browser_app)
    for path, text in EMPTY_STATES.items():
        dash_duo.driver.get(f"{dash_duo.server_url}{path}?{NO_DATA}")
        settle(dash_duo)
        dash_duo.wait_for_contains_text(".empty-state", text, timeout=30)
        assert dash_duo.find_element(".empty-state").is_displayed(), path
        assert _shown_alarms(dash_duo) == [], path
