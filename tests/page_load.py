"""The dashboard's load time in a real headless Chromium, with 10,000 jobs in the store: from
asking for the page to its table drawn, and to a job's page showing its log and timeline."""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import requests
from selenium.webdriver.remote.webdriver import WebDriver

from tests.browser import chromium, sign_in
from tests.conftest import Server, free_port
from tests.history_cost import seed

JOBS = 10_000
LOADS = 10
# The jobs page draws its newest 200.
ROWS = "return document.querySelectorAll('#jobs tbody tr').length >= 200"
JOB_PAGE = (
    "return document.querySelectorAll('#timeline tr').length > 0"
    " && document.getElementById('log').innerText.includes('done')"
)


def page_load() -> float:
    """Prints the median loads; returns the job table's, in seconds."""
    home = Path(tempfile.mkdtemp(prefix="laino-bench-page-"))
    took = seed(home, JOBS)
    print(f"{f'writing {JOBS:,} ended jobs':44} {took:7.1f} s")
    port = free_port()
    server = Server(home, **{"http-listen": f"127.0.0.1:{port}"})
    server.start()
    base = f"http://127.0.0.1:{port}"
    driver = chromium()
    try:
        sign_in(driver, base, server.token)
        listed = requests.get(
            f"{base}/v1/jobs", headers={"authorization": f"Bearer {server.token}"}, timeout=10
        )
        job_id = listed.json()["jobs"][0]["id"]
        table = _loads(driver, lambda n: f"{base}/?load={n}#/", ROWS)
        job = _loads(driver, lambda n: f"{base}/?load={n}#/jobs/{job_id}", JOB_PAGE)
    finally:
        driver.quit()
        server.stop()
    for name, values in (("jobs table", table), ("a job's page", job)):
        print(
            f"{f'dashboard: {name}, {JOBS:,} jobs stored':44} median"
            f" {statistics.median(values) * 1000:7.1f} ms   (n={len(values)}, load to drawn)"
        )
    return statistics.median(table)


def _loads(driver: WebDriver, url: Callable[[int], str], drawn: str) -> list[float]:
    """Each a fresh load of the page (a new query string), until `drawn` holds; polled every
    5 ms, so each figure is up to that much late."""
    took = []
    for n in range(LOADS + 1):
        started = time.perf_counter()
        driver.get(url(n))
        while not driver.execute_script(drawn):
            if time.perf_counter() - started > 30:
                raise AssertionError(f"{url(n)} not drawn in 30 s")
            time.sleep(0.005)
        if n:  # the first warms the browser up
            took.append(time.perf_counter() - started)
    return took


if __name__ == "__main__":
    page_load()
