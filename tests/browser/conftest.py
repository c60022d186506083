"""Browser tests: headless Debian Chromium through dash[testing] (dash_duo).

One Dash app is built per test process (Dash hands the page callbacks to the first app built
in a process; each pytest-xdist worker is a process of its own, with its own server and
Chromium) over the real Online Retail II extract in ../shared/data. Screenshots of each
page are saved under test-artifacts/ (git-ignored) for a person to look at.

``dash_duo`` keeps the dash[testing] API (``start_server``, ``driver``, ``server_url``,
``wait_for_*``, ``find_element``, ``get_logs``, ``download_path`` ...), but the session shares
one threaded server of the session's app and one Chromium (starting both for each test cost
seconds a test). Each test still starts clean: a new tab (so no script, device emulation or
session storage of the test before), no cookies, no local storage of the app's origin, the
window at 1400 x 1000, its own download folder, an empty console log, and ``start_server``
opens the app's first page as before. A test that passes ``start_server`` another app or
server arguments gets a server of its own, as plain dash[testing] does.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
WINDOW = (1400, 1000)


@pytest.fixture(scope="session")
def browser_app(extract_app):
    """The session's app on the real extract (tests/conftest.py)."""
    return extract_app


def console_errors(dash_duo) -> list[dict]:
    """Browser console entries of level SEVERE (JavaScript errors, failed requests)."""
    return [e for e in dash_duo.get_logs() or [] if e.get("level") == "SEVERE"]


#: Why the page is not settled yet ('' when it is): the Dash renderer's Redux store still
#: holds callbacks requested, queued, running or whose result is being applied (what
#: dash[testing]'s own wait-for-callbacks reads), or a loading marker is still shown.
BUSY = """
var state = window.store && window.store.getState && window.store.getState();
if (!state || !state.callbacks) return 'the Dash renderer has no store yet';
var c = state.callbacks, pending = 0;
['requested', 'prioritized', 'blocked', 'executing', 'watched', 'executed'].forEach(
    function (k) { pending += (c[k] || []).length; });
if (pending) return pending + ' callback(s) pending';
if (document.querySelector('[data-dash-is-loading="true"], ._dash-loading, '
    + '._dash-loading-callback')) return 'a loading marker is shown';
return '';
"""


def settle(dash_duo, timeout: float = 60.0, quiet: float = 0.5) -> None:
    """Wait until the page is drawn and no Dash callback has been pending for ``quiet``
    seconds (read from the renderer's store, so a chain of callbacks counts as pending
    throughout, and late requests of components, such as a grid asking for its rows after it
    is drawn, restart the quiet period). AssertionError after ``timeout`` seconds."""
    dash_duo.wait_for_element("h1, h2", timeout=30)
    end, since, busy = time.time() + timeout, None, "not checked"
    while time.time() < end:
        busy = dash_duo.driver.execute_script(BUSY)
        if busy:
            since = None
        else:
            since = since or time.time()
            if time.time() - since >= quiet:
                return
        time.sleep(0.1)
    raise AssertionError(f"the page's callbacks did not settle within {timeout:.0f} s: {busy}")


def wait_until(predicate, timeout: float = 30, what: str = "condition") -> None:
    """Poll ``predicate`` until it holds (an element re-rendered while looked at counts as not
    yet); AssertionError naming ``what`` after ``timeout`` seconds."""
    end = time.time() + timeout
    while time.time() < end:
        try:
            if predicate():
                return
        except Exception:  # element re-rendered while we looked
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def save_screenshot(dash_duo, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    dash_duo.driver.save_screenshot(str(path))
    return path


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


class SessionServer:
    """``app`` served by a threaded werkzeug server on a free port of 127.0.0.1 (bound before
    serving: no port shared with another test run on the machine), as dash[testing]'s
    ThreadedRunner serves it: local scripts, dev tools as ``app.run`` sets them."""

    def __init__(self, app) -> None:
        from werkzeug.serving import make_server

        app.scripts.config.serve_locally = True
        app.css.config.serve_locally = True
        app.enable_dev_tools(debug=False, dev_tools_disable_version_check=True)
        self.app = app
        self._server = make_server("127.0.0.1", 0, app.server, threaded=True)
        self.port = self._server.server_port
        self.url = f"http://localhost:{self.port}"
        self.origins = (self.url, f"http://127.0.0.1:{self.port}")
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="dash-test-server", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)
        self._server.server_close()


def _dash_duo_class():
    from dash.testing.application_runners import ThreadedRunner
    from dash.testing.composite import DashComposite
    from selenium.webdriver.support.ui import WebDriverWait

    class SessionDuo(DashComposite):
        """dash[testing]'s ``dash_duo`` on the session's browser and server."""

        def __init__(self, browser, session_server, download_path: str) -> None:
            # not Browser.__init__, which starts a browser: the session's one is shared
            self.__dict__.update(browser.__dict__)
            self._session_server = session_server
            self.server = None
            self._download_path = download_path
            self._wd_wait = WebDriverWait(self._driver, self._wait_timeout)
            self._last_ts = 0
            self._url = ""
            self._window_idx = 0
            self._own_runner = None

        def start_server(self, app, navigate=True, **kwargs):
            """The session's server for the session's app; for another app or server
            arguments, a server of this test's own (dash[testing]'s ThreadedRunner)."""
            self.server = self._session_server()
            if app is not self.server.app or kwargs:
                self.server = self._own_runner = ThreadedRunner()
                self._own_runner.start(app, **kwargs)
            if navigate:
                self.server_url = self.server.url  # opens the page, as dash[testing] does

        def close(self) -> None:
            if self._own_runner is not None and self._own_runner.started:
                self._own_runner.stop()

    return SessionDuo


class SessionBrowser:
    """One headless Chromium for the session (dash[testing]'s Browser, with this project's
    options), started again if it died."""

    def __init__(self, config, download_path: str) -> None:
        self._config = config
        self._download_path = download_path
        #: where tests went: their cookies and storage are cleared before the next test
        self.origins: set[str] = set()
        self.browser = self._start()

    def _start(self):
        from dash.testing.browser import Browser

        config = self._config
        return Browser(
            browser=config.getoption("webdriver"),
            remote=config.getoption("remote"),
            remote_url=config.getoption("remote_url"),
            headless=config.getoption("headless"),
            options=config.hook.pytest_setup_options(),
            download_path=self._download_path,
            percy_assets_root=config.getoption("percy_assets"),
            percy_finalize=config.getoption("nopercyfinalize"),
            pause=config.getoption("pause"),
        )

    def fresh(self, download_path: str) -> object:
        """The browser, reset for a new test (a new tab, see the module docstring)."""
        from selenium.common.exceptions import WebDriverException

        try:
            _reset(self.browser.driver, download_path, self.origins)
        except WebDriverException:  # the browser died with the test before: a new one
            self.quit()
            self.browser = self._start()
            _reset(self.browser.driver, download_path, self.origins)
        return self.browser

    def visited(self, duo) -> None:
        """Remember the origins ``duo`` used (its server's, the page it ended on)."""
        server = duo.server
        if server is not None:
            self.origins.update(getattr(server, "origins", (server.url,)))
        try:
            url = urlsplit(duo.driver.current_url)
        except Exception:  # noqa: BLE001 (the browser died: the next test starts a new one)
            return
        if url.scheme in ("http", "https"):
            self.origins.add(f"{url.scheme}://{url.netloc}")

    def quit(self) -> None:
        from selenium.common.exceptions import WebDriverException

        with contextlib.suppress(WebDriverException):
            self.browser.driver.quit()


def _reset(driver, download_path: str, origins) -> None:
    old = list(driver.window_handles)
    driver.switch_to.new_window("tab")
    tab = driver.current_window_handle
    for handle in old:
        driver.switch_to.window(handle)
        driver.close()
    driver.switch_to.window(tab)
    driver.execute_cdp_cmd("Page.bringToFront", {})  # focused, as a new browser's tab is
    driver.implicitly_wait(2)
    driver.set_window_size(*WINDOW)
    driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
    for origin in origins:
        driver.execute_cdp_cmd(
            "Storage.clearDataForOrigin", {"origin": origin, "storageTypes": "all"}
        )
    driver.execute_cdp_cmd(
        "Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": download_path}
    )
    driver.get_log("browser")  # the console entries of the test before


@pytest.fixture(scope="session")
def _session_server(browser_app):
    server = SessionServer(browser_app)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def _session_browser(request, tmp_path_factory):
    browser = SessionBrowser(request.config, str(tmp_path_factory.mktemp("download")))
    yield browser
    browser.quit()


@pytest.fixture
def dash_duo(request, _session_browser, tmp_path):
    """dash[testing]'s ``dash_duo`` on the session's server (started on the first
    ``start_server``) and browser, reset for this test (see the module docstring)."""
    download = tmp_path / "download"
    download.mkdir()
    browser = _session_browser.fresh(str(download))
    duo = _dash_duo_class()(
        browser, lambda: request.getfixturevalue("_session_server"), str(download)
    )
    yield duo
    duo.close()
    _session_browser.visited(duo)
