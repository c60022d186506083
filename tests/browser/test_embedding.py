"""The app under a URL prefix, mounted in a portal's Flask app and framed by a portal page, in
headless Chromium: every page renders inside the frame with no console error and no
Content-Security-Policy violation, hostile text from the data stays text, and
``frame-ancestors`` decides which origins may frame the app.

The app runs in a gunicorn subprocess (tests/servers.py ``AppServer`` and
``PORTAL_SOURCE``): a second in-process Dash app would not get the page callbacks, which Dash
hands to the first app of the process (the session's ``browser_app``).
"""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest
from selenium.webdriver.common.by import By

from tests.badinput.make_corpus import XSS_COUNTRY, build
from tests.browser.conftest import console_errors, save_screenshot
from tests.servers import PORTAL_PREFIX, AppServer, start_servers, write_portal

#: Records every CSP violation and marks XSS payloads that run (window.__xss), in every frame.
WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + e.sourceFile + ':' + e.lineNumber);
});
"""


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    """The portal on 127.0.0.1, allowing itself and http://localhost:<port> to frame the app;
    its default dataset holds XSS and formula text in descriptions, countries and ids."""
    root = tmp_path_factory.mktemp("embedding")
    ((_case, dataset),) = build(root / "data", names={"hostile_text.csv"})
    server = AppServer(
        root,
        {"DATA_PATH": str(dataset)},
        workers=1,
        prefix=PORTAL_PREFIX,
        target="portal_app:server",
        chdir=write_portal(root / "portal"),
    )
    server.env["FRAME_ANCESTORS"] = f"'self' http://localhost:{server.port}"
    start_servers(server)
    yield server
    server.stop()


def _watch(driver) -> None:
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": WATCH})


def _wait(driver, script: str, timeout: float = 30):
    """Until ``script`` returns a truthy value; returns it."""
    end = time.time() + timeout
    value = None
    while time.time() < end:
        try:
            value = driver.execute_script(script)
        except Exception:  # noqa: BLE001 (the frame is navigating)
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for: {script}")


def _enter_frame(driver):
    driver.switch_to.default_content()
    frame = _wait(driver, "return document.getElementById('segments')")
    driver.switch_to.frame(frame)


#: A page has rendered and none of its callbacks is still running.
SETTLED = (
    "return !!document.querySelector('h2, .docs-section') && "
    "!document.querySelector('[data-dash-is-loading=\"true\"]') && "
    "!document.querySelector('.dash-spinner, ._dash-loading-callback')"
)

PAGE_READY = {
    "/": "var k = document.getElementById('kpi-revenue'); return k && k.innerText.trim()",
    "/rfm": "return document.querySelectorAll('#rfm-heatmap .heatmaplayer').length && "
    "document.querySelectorAll('#rfm-grid .ag-cell').length",
    "/upload": "return document.getElementById('upload-file')",
    "/docs": "return document.querySelectorAll('.docs-section').length",
}


def test_every_page_renders_inside_the_portal_frame(dash_duo, portal):
    """Open the portal with the app framed on the RFM page, a hostile country selected in the
    URL, then visit every page through the app's own navbar (links keep the query string)."""
    driver = dash_duo.driver
    _watch(driver)
    search = "rfm?countries=" + quote(XSS_COUNTRY, safe="")
    driver.get(portal.base_url + "/?page=" + quote(search, safe=""))
    assert driver.find_element(By.ID, "portal-title").text == "Portal"
    _enter_frame(driver)
    _wait(driver, PAGE_READY["/rfm"], 45)
    # hostile text from the data shows verbatim (React renders text, never HTML) ...
    chips = _wait(
        driver,
        "return [...document.querySelectorAll('*')].filter(e => "
        "e.children.length === 0 && e.innerText && "
        "e.innerText.includes('Atlantis')).map(e => e.innerText)",
    )
    assert XSS_COUNTRY in chips, chips
    # ... also among the country options of the open dropdown; nothing of it ever runs
    box = driver.find_element(By.CSS_SELECTOR, '[id=\'{"key":"countries","kind":"state"}\']')
    box.click()
    assert (
        driver.execute_script("return document.querySelectorAll('img[src=x], svg[onload]').length")
        == 0
    )
    save_screenshot(dash_duo, "embedded-hostile-text")
    # every page, under the prefix, through the navbar inside the frame
    links = driver.execute_script(
        "return [...document.querySelectorAll('.navbar .nav-link')].map(a => a.pathname)"
    )
    assert links and all(link.startswith(PORTAL_PREFIX) for link in links), links
    pages = {link[len(PORTAL_PREFIX) - 1 :] or "/" for link in links}
    assert set(PAGE_READY) <= pages, f"a page without a readiness check: {pages}"
    for page in sorted(pages):
        target = PORTAL_PREFIX + page.lstrip("/")
        driver.execute_script(
            "[...document.querySelectorAll('.navbar .nav-link')]"
            ".find(a => a.pathname === arguments[0]).click()",
            target,
        )
        _wait(driver, f"return location.pathname === '{target}'")
        assert "countries=" in driver.execute_script("return location.search"), page
        if page in PAGE_READY:
            _wait(driver, PAGE_READY[page], 45)
        for _ in range(2):  # settled twice in a row: no callback chain still starting
            _wait(driver, SETTLED, 60)
            time.sleep(0.3)
        assert driver.execute_script("return window.__csp") == [], page
        assert driver.execute_script("return window.__xss") is None, page
    save_screenshot(dash_duo, "embedded-docs")
    driver.switch_to.default_content()
    assert driver.execute_script("return window.__csp") == []
    assert console_errors(dash_duo) == []


def test_frame_ancestors_decide_who_may_frame_the_app(dash_duo, portal):
    driver = dash_duo.driver
    here, there = f"http://127.0.0.1:{portal.port}", f"http://localhost:{portal.port}"
    # listed: a page of http://localhost:<port> frames the app served from 127.0.0.1
    driver.get(f"{there}/cross?origin={quote(here, safe='')}")
    _enter_frame(driver)
    _wait(driver, PAGE_READY["/"])
    # not listed: a page of 127.0.0.1 frames the app served from localhost ('self' there)
    driver.switch_to.default_content()
    dash_duo.get_logs()  # reset
    driver.get(f"{here}/cross?origin={quote(there, safe='')}")
    refused: list[str] = []
    end = time.time() + 15
    while time.time() < end and not any("frame-ancestors" in m for m in refused):
        refused += [e["message"] for e in console_errors(dash_duo)]
        time.sleep(0.2)
    assert any("frame-ancestors" in m for m in refused), refused
    _enter_frame(driver)
    assert "_dash-app-content" not in driver.page_source
    assert driver.execute_script("return document.getElementById('react-entry-point')") is None
