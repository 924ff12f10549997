"""Headless Chromium for the crawlers that need a browser (Medium, LinkedIn)."""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

# Flags that keep a crawling browser quiet: no sandbox (containers), no GPU, no /dev/shm
# (small in containers), and no background traffic to Google services.
CHROME_ARGUMENTS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,2000",
)


def chrome_driver(*, binary: str, driver_path: str, page_load_timeout: float) -> webdriver.Chrome:
    """Start a headless Chromium with a fresh profile; the caller quits it (in a ``finally``).

    Args:
        binary: path of the Chromium executable (``/usr/bin/chromium`` on Debian).
        driver_path: path of the matching ChromeDriver (``/usr/bin/chromedriver``).
        page_load_timeout: seconds before a page load raises ``TimeoutException``.

    Returns:
        The driver. Its temporary profile folder is removed once the driver is gone.
    """
    # Selenium Manager would otherwise try to download a driver: the paths are given.
    os.environ["SE_OFFLINE"] = "true"
    profile = tempfile.mkdtemp(prefix="llm-twin-chrome-")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in (*CHROME_ARGUMENTS, f"--user-data-dir={profile}"):
        options.add_argument(argument)
    try:
        driver = webdriver.Chrome(service=Service(driver_path), options=options)
    except BaseException:
        shutil.rmtree(profile, ignore_errors=True)
        raise
    weakref.finalize(driver, shutil.rmtree, profile, ignore_errors=True)
    try:
        driver.set_page_load_timeout(page_load_timeout)
    except BaseException:
        driver.quit()
        raise
    return driver
