"""Full-page screenshots of every page at desktop and phone width, for a person to look at.

Starts the app (``python -m dashapp``) on a dataset in a fresh process, opens each page in
headless Debian Chromium (selenium, as the browser tests do) at each width, waits until the
page's callbacks have settled and saves a full-page PNG. Prints, per page and width, the
document's scroll width (a page wider than the window scrolls sideways).

    .venv/bin/python bench/screenshots.py --out /tmp/shots [--data FILE] [--widths 1440,390]
"""

from __future__ import annotations

import argparse
import base64
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT.parent / "shared" / "data" / "online_retail_II_sample.xlsx"
PAGES = {
    "overview": "/",
    "rfm": "/rfm",
    "clv": "/clv",
    "cohorts": "/cohorts",
    "clustering": "/clustering",
    "actions": "/actions",
    "campaign": "/campaign",
    "migration": "/migration",
    "customer": "/customer?id=12490",
    "customer-explained": "/customer?id=12490",
    "countries": "/countries",
    "products": "/products",
    "upload": "/upload",
    "docs": "/docs",
}
#: Buttons clicked (then the page settles again) before a page's screenshot: panels computed
#: only when opened.
CLICKS = {"customer-explained": "#cust-explain-toggle"}
SETTLE_JS = """
return document.querySelectorAll('[data-dash-is-loading="true"]').length === 0
    && !document.querySelector('._dash-loading');
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(data: Path | None, port: int, cache_dir: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "CACHE_DIR": cache_dir,
        "CACHE_TYPE": "SimpleCache",
        "LOG_LEVEL": "WARNING",
    }
    args = [sys.executable, "-m", "dashapp", "--port", str(port)]
    if data is not None:
        args += ["--data", str(data)]
    proc = subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 180  # a shared machine may take minutes
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("the app did not start within 180 s")


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = "/usr/bin/chromium"
    from tests.conftest import CHROMIUM_FLAGS

    for arg in (*CHROMIUM_FLAGS, "--hide-scrollbars"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(300)  # a shared, loaded machine: wait, do not fail
    driver.set_script_timeout(300)
    return driver


def settle(driver, timeout: float = 60.0) -> None:
    """Wait until no Dash callback is pending for one second in a row."""
    deadline = time.time() + timeout
    quiet_since = None
    while time.time() < deadline:
        if driver.execute_script(SETTLE_JS):
            quiet_since = quiet_since or time.time()
            if time.time() - quiet_since > 1.0:
                return
        else:
            quiet_since = None
        time.sleep(0.2)


def shoot(driver, url: str, width: int, path: Path, click: str | None = None) -> int:
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600},
    )
    driver.get(url)
    time.sleep(1.0)
    settle(driver)
    if click:
        driver.execute_script("document.querySelector(arguments[0]).click();", click)
        time.sleep(1.0)
        settle(driver)
    time.sleep(1.0)  # charts finish their transitions
    scroll_width = int(driver.execute_script("return document.documentElement.scrollWidth"))
    # the window as tall as the page, so everything is painted as a user scrolling sees it:
    # Chrome's capture beyond the viewport leaves AG Grid's content out (an empty frame)
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
    )
    time.sleep(1.0)  # grids and charts lay out again at the new height
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
    path.write_bytes(base64.b64decode(shot["data"]))
    return scroll_width


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=SAMPLE if SAMPLE.exists() else None)
    parser.add_argument("--widths", default="1440,390")
    parser.add_argument("--pages", default=",".join(PAGES))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    port = free_port()
    with tempfile.TemporaryDirectory() as cache_dir:
        app = start_app(args.data, port, cache_dir)
        driver = browser()
        try:
            for name in args.pages.split(","):
                for width in (int(w) for w in args.widths.split(",")):
                    path = args.out / f"{name}-{width}.png"
                    url = f"http://127.0.0.1:{port}{PAGES[name]}"
                    scroll = shoot(driver, url, width, path, CLICKS.get(name))
                    flag = "" if scroll <= width else f"  <- scrolls sideways ({scroll} px)"
                    print(f"{name:11s} {width:5d} px  scrollWidth {scroll:5d}  {path}{flag}")
        finally:
            driver.quit()
            app.terminate()
            app.wait(10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
