"""Browser tests: headless Debian Chromium through dash[testing] (dash_duo).

One Dash app is built per test session (Dash hands the page callbacks to the first app built
in a process) over the real Online Retail II extract in ../shared/data. Screenshots of each
page are saved under test-artifacts/ (git-ignored) for a person to look at.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="session")
def browser_app(extract_app):
    """The session's app on the real extract (tests/conftest.py)."""
    return extract_app


def console_errors(dash_duo) -> list[dict]:
    """Browser console entries of level SEVERE (JavaScript errors, failed requests)."""
    return [e for e in dash_duo.get_logs() or [] if e.get("level") == "SEVERE"]


SETTLED = """return !document.querySelector('[data-dash-is-loading="true"]')
    && !document.querySelector('._dash-loading, ._dash-loading-callback');"""


def settle(dash_duo, timeout: float = 60.0) -> None:
    """Wait until the page is drawn and no Dash callback has been pending for a second."""
    dash_duo.wait_for_element("h1, h2", timeout=30)
    time.sleep(1.0)  # let the page's callbacks start
    end, quiet = time.time() + timeout, None
    while time.time() < end:
        if dash_duo.driver.execute_script(SETTLED):
            quiet = quiet or time.time()
            if time.time() - quiet > 1.0:
                return
        else:
            quiet = None
        time.sleep(0.2)
    raise AssertionError(f"the page's callbacks did not settle within {timeout:.0f} s")


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
