"""Campaign planner in headless Chromium: the expected outcome follows the target and the
offer, a nonsense range gets its declared message, and a target/control list uploaded back
gives the tracking verdict. No console errors."""

from __future__ import annotations

import re

from dashapp import service
from dashapp.service import params
from dashapp.service.exports import to_safe_csv
from dashapp.service.views.campaign import campaign_plan
from tests.browser.conftest import console_errors, save_screenshot, settle, wait_until


def _summary(dash_duo) -> tuple[int, int]:
    text = dash_duo.find_element("#cp-summary").text
    found = re.match(r"([\d,]+) of ([\d,]+) customers match the target", text)
    assert found, text
    return int(found[1].replace(",", "")), int(found[2].replace(",", ""))


def test_planner_follows_the_target_and_tracks_an_uploaded_list(dash_duo, browser_app, tmp_path):
    dash_duo.start_server(browser_app)
    dash_duo.driver.get(dash_duo.server_url + "/campaign")
    settle(dash_duo)
    dash_duo.wait_for_element("#cp-summary", timeout=60)
    matching, everyone = _summary(dash_duo)
    assert matching == everyone > 100  # every segment, every P(alive): everyone
    assert "Hillstrom (2008)" in dash_duo.find_element("body").text
    save_screenshot(dash_duo, "campaign-1440")

    # only At Risk customers whose P(alive) is at most 0.9: fewer, and the same number as
    # the service gives for that target
    dash_duo.driver.get(
        dash_duo.server_url + "/campaign?cp_segments=at_risk&cp_pmax=0.9&cp_control=25"
    )
    settle(dash_duo)
    expected = campaign_plan(service.Filters.build(), ("at_risk", 0, 0.9), (1.0, 1.1, 47, 25))
    wait_until(
        lambda: _summary(dash_duo)[0] == expected.n_matching < everyone,
        what="the At Risk target",
    )
    n_control = int((expected.customers["group"] == "control").sum())
    assert f"+ {n_control} held out as control" in dash_duo.find_element("#cp-outcome").text

    # P(alive) from above P(alive) to: the declared message, no outcome
    dash_duo.driver.get(dash_duo.server_url + "/campaign?cp_pmin=0.8&cp_pmax=0.2")
    settle(dash_duo)
    dash_duo.wait_for_contains_text(
        ".param-error", "P(alive) from (0.8) must not exceed P(alive) to (0.2)", timeout=30
    )

    # tracking: the list the planner exports, uploaded back, with a start day
    plan = campaign_plan(service.Filters.build(), (), ())
    path = tmp_path / "campaign_target_control.csv"
    path.write_text(to_safe_csv(plan.customers))
    dash_duo.driver.get(dash_duo.server_url + "/campaign?cp_start=2011-06-01")
    settle(dash_duo)
    dash_duo.find_element("#cp-upload input[type=file]").send_keys(str(path))
    dash_duo.wait_for_element("#cp-verdict", timeout=60)
    verdict = dash_duo.find_element("#cp-verdict").text
    assert "from 2011-06-01 to 2011-12-09" in verdict
    assert re.search(r"^(The campaign (raised|lowered) revenue|No clear effect)", verdict)
    n_target = int((plan.customers["group"] == "target").sum())
    assert f"{n_target:,} target and {len(plan.customers) - n_target:,} control" in (
        dash_duo.find_element("#cp-tracking").text
    )
    assert params.CAMPAIGN_START.key == "cp_start"
    assert console_errors(dash_duo) == []


def test_action_list_shows_its_rows_next_to_the_crm_download(dash_duo, browser_app):
    dash_duo.start_server(browser_app)
    dash_duo.driver.get(dash_duo.server_url + "/actions")
    settle(dash_duo)
    dash_duo.wait_for_element("#actions-grid .ag-row", timeout=60)
    dash_duo.find_element("#actions-crm-btn").click()
    dash_duo.wait_for_contains_text("#actions-crm-info", "without a contact", timeout=60)
    assert "action_list_generic.csv" in dash_duo.find_element("#actions-crm-info").text
    save_screenshot(dash_duo, "actions-crm")
    assert console_errors(dash_duo) == []
