"""A real headless browser for the gallery's tests: Debian's chromium driven through its
chromedriver by selenium (both from apt: .ci/run installs them; selenium downloads nothing when
given the driver's path)."""

from __future__ import annotations

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@pytest.fixture(scope="module", name="browser")
def browser_fixture():
    """The browser (a test module imports ``browser_fixture`` to have the ``browser`` fixture)."""
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    # --no-sandbox: chromium refuses to run as root with its sandbox (CI containers run as root)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,900"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    try:
        yield driver
    finally:
        driver.quit()


def open_page(driver, url: str) -> list[dict]:
    """Load ``url``; the console messages of level error (SEVERE) it logged."""
    driver.get_log("browser")  # drop what earlier pages logged
    driver.get(url)
    WebDriverWait(driver, 10).until(lambda d: d.execute_script("return document.readyState") == "complete")
    return [m for m in driver.get_log("browser") if m["level"] == "SEVERE"]


