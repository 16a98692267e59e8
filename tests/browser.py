"""Headless Chromium from Debian's packages, driven through its chromedriver (deploy/chromium.sh
installs both): for the dashboard's tests and its load time in `just bench`."""

from __future__ import annotations

import tempfile

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

WAIT = 20


def chromium() -> WebDriver:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,1000",
        f"--user-data-dir={tempfile.mkdtemp(prefix='laino-chromium-')}",
    ):
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))


def wait(driver: WebDriver, check: object, timeout: float = WAIT) -> object:
    waiting = WebDriverWait(
        driver, timeout, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException,)
    )
    return waiting.until(check)  # type: ignore[arg-type]


def sign_in(driver: WebDriver, base: str, token: str) -> None:
    driver.get(base + "/")
    wait(driver, lambda d: d.find_element(By.ID, "token").is_displayed())
    driver.find_element(By.ID, "token").send_keys(token)
    driver.find_element(By.CSS_SELECTOR, "#sign-in-form button").click()
    wait(driver, lambda d: d.find_element(By.ID, "jobs"))
