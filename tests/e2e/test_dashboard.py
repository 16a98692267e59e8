"""End to end: the web dashboard in a real headless Chromium (Debian's, through its
chromedriver), against a real server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select

from laino.v1 import laino_pb2 as pb
from tests.browser import chromium, sign_in, wait
from tests.conftest import Server, free_port

# Kept after the run: the job page as the test saw it.
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Server, str]]:
    port = free_port()
    server = Server(tmp_path, **{"http-listen": f"127.0.0.1:{port}"})
    server.start()
    yield server, f"http://127.0.0.1:{port}"
    server.stop()
    server.cleanup_workers()


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    driver = chromium()
    yield driver
    driver.quit()


def _text(driver: WebDriver, element_id: str) -> str:
    return str(driver.find_element(By.ID, element_id).text)


def test_signing_in_submitting_from_the_form_and_watching_the_log_live(
    site: tuple[Server, str], browser: WebDriver
) -> None:
    server, base = site
    wrong = browser
    wrong.get(base + "/")
    wait(wrong, lambda d: d.find_element(By.ID, "token").is_displayed())
    wrong.find_element(By.ID, "token").send_keys("not-a-token")
    wrong.find_element(By.CSS_SELECTOR, "#sign-in-form button").click()
    wait(wrong, lambda d: "not valid" in _text(d, "sign-in-error"))
    wrong.find_element(By.ID, "token").clear()
    sign_in(browser, base, server.token)
    cookies = {c["name"]: c for c in browser.get_cookies()}
    assert cookies["laino_session"]["httpOnly"] is True
    assert cookies["laino_session"]["sameSite"] == "Strict"
    browser.get(base + "/#/submit")
    command = "printf '\\033[31mred\\033[0m\\n'; echo first; sleep 2; echo oops >&2; echo last"
    wait(browser, lambda d: d.find_element(By.ID, "command")).send_keys(command)  # type: ignore[attr-defined]
    browser.find_element(By.ID, "labels").send_keys("via=dashboard")
    browser.find_element(By.CSS_SELECTOR, "#submit-form button").click()
    # The first lines show while the job still runs.
    wait(browser, lambda d: "first" in _text(d, "log"))
    assert "last" not in _text(browser, "log")
    wait(browser, lambda d: _text(d, "job-state").startswith("RUNNING"), timeout=1.9)
    wait(browser, lambda d: "last" in _text(d, "log"))
    wait(browser, lambda d: _text(d, "job-state").startswith("SUCCEEDED (exit 0)"))
    red = browser.find_element(By.XPATH, "//div[@id='log']/span[text()='red']")
    assert red.value_of_css_property("color") == "rgba(220, 38, 38, 1)"  # ANSI 31, as colour
    assert "\x1b" not in _text(browser, "log")
    oops = browser.find_element(By.XPATH, "//div[@id='log']/span[contains(., 'oops')]")
    assert "stderr" in str(oops.get_attribute("class"))
    search = browser.find_element(By.ID, "log-search")
    search.send_keys("oops")
    wait(browser, lambda d: _text(d, "log").strip() == "oops")
    for _ in "oops":
        search.send_keys(Keys.BACKSPACE)  # as a user empties it: the whole log again
    wait(browser, lambda d: _text(d, "log").split() == ["red", "first", "oops", "last"])
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "dashboard-job.png"))
    assert (ARTIFACTS / "dashboard-job.png").stat().st_size > 10_000


def test_cancelling_a_running_job_from_its_page(
    site: tuple[Server, str], browser: WebDriver
) -> None:
    server, base = site
    job_id = server.submit("sleep", "60")
    server.wait_state(job_id, {"RUNNING"})
    sign_in(browser, base, server.token)
    browser.get(f"{base}/#/jobs/{job_id}")
    button = wait(
        browser,
        lambda d: (
            d.find_element(By.ID, "cancel").is_displayed() and d.find_element(By.ID, "cancel")
        ),
    )
    button.click()  # type: ignore[attr-defined]
    wait(browser, lambda d: _text(d, "job-state").startswith("CANCELLED"))
    assert not browser.find_element(By.ID, "cancel").is_displayed()


def test_a_finished_jobs_timeline_and_phases(site: tuple[Server, str], browser: WebDriver) -> None:
    server, base = site
    work = server.home / "work"
    work.mkdir()
    work.chmod(0o777)
    script = "echo done; printf 'the report' > report.txt"
    server.cli(
        "job", "run", "--output", "report.txt", "--", "sh", "-c", script, cwd=work, check=True
    )
    listed = requests.get(
        f"{base}/v1/jobs", headers={"authorization": f"Bearer {server.token}"}, timeout=10
    ).json()
    job_id = listed["jobs"][0]["id"]
    sign_in(browser, base, server.token)
    browser.get(f"{base}/#/jobs/{job_id}")
    # The page draws the timeline, the phases and the workers in turn, and keeps drawing them
    # until the saga has finished (the worker is torn down after the job's state has ended).
    phases = ["queued", "provisioning", "registration", "dispatch", "running", "cleanup"]
    wait(
        browser,
        lambda d: (
            "Finished" in _text(d, "timeline")
            and _phases(d) == phases
            and "TERMINATED" in _text(d, "job-workers")
        ),
    )
    timeline = _text(browser, "timeline")
    for event in ("Submitted", "ProvisioningStarted", "Registered", "Started", "Ended"):
        assert event in timeline
    link = wait(browser, lambda d: d.find_element(By.LINK_TEXT, "report.txt"))
    cookies = {c["name"]: c["value"] for c in browser.get_cookies()}
    got = requests.get(str(link.get_attribute("href")), cookies=cookies, timeout=10)  # type: ignore[attr-defined]
    assert got.content == b"the report"


def _phases(browser: WebDriver) -> list[str]:
    return [row.text.split()[0] for row in browser.find_elements(By.CSS_SELECTOR, "#waterfall tr")]


def test_the_job_table_filters_by_state_label_and_search(
    site: tuple[Server, str], browser: WebDriver
) -> None:
    server, base = site
    server.cli("job", "run", "--label", "team=web", "--", "echo", "alpha", check=True)
    server.cli("job", "run", "--label", "team=db", "--", "sh", "-c", "exit 3")
    sign_in(browser, base, server.token)

    def one_row(text: str) -> bool:
        rows = _rows(browser, "jobs")  # once: the table is drawn anew every two seconds
        return len(rows) == 1 and text in rows[0]

    wait(browser, lambda d: len(_rows(d, "jobs")) == 2)
    Select(browser.find_element(By.ID, "state-filter")).select_by_value("FAILED")
    wait(browser, lambda d: one_row("FAILED"))
    Select(browser.find_element(By.ID, "state-filter")).select_by_value("")
    browser.find_element(By.ID, "label-filter").send_keys("team=web")
    wait(browser, lambda d: one_row("echo alpha"))
    browser.find_element(By.ID, "label-filter").clear()
    browser.find_element(By.ID, "search").send_keys("exit 3")
    wait(browser, lambda d: one_row("exit 3"))


def test_a_sessions_call_without_its_csrf_token_is_refused(site: tuple[Server, str]) -> None:
    server, base = site
    # A form on another site cannot sign a browser in: it cannot send JSON.
    form = requests.post(f"{base}/session", data={"token": server.token}, timeout=10)
    assert form.status_code == 415 and "laino_session" not in form.cookies
    huge = requests.post(f"{base}/session", json={"token": "x" * (1 << 20)}, timeout=10)
    assert huge.status_code == 413
    session = requests.Session()
    signed = session.post(f"{base}/session", json={"token": server.token}, timeout=10)
    assert signed.status_code == 200
    spec = {"spec": {"command": ["true"]}}
    forged = session.post(f"{base}/v1/jobs", json=spec, timeout=10)  # as another site's form would
    assert forged.status_code == 403 and "X-CSRF-Token" in forged.json()["error"]["message"]
    ok = session.post(
        f"{base}/v1/jobs",
        json=spec,
        headers={"x-csrf-token": session.cookies["laino_csrf"]},
        timeout=10,
    )
    assert ok.status_code == 201
    assert session.get(f"{base}/v1/jobs", timeout=10).status_code == 200  # reads need none
    out = session.delete(
        f"{base}/session", headers={"x-csrf-token": session.cookies["laino_csrf"]}, timeout=10
    )
    assert out.status_code == 200
    assert session.get(f"{base}/v1/jobs", timeout=10).status_code == 401


def _rows(driver: WebDriver, table: str) -> list[str]:
    """A table's rows in one read: pages redraw theirs every few seconds."""
    script = f"return [...document.querySelectorAll('#{table} tbody tr')].map(r => r.innerText)"
    return list(driver.execute_script(script))


def test_the_queues_page_shows_places_taken_and_jobs_waiting(
    tmp_path: Path, browser: WebDriver
) -> None:
    port = free_port()
    server = Server(tmp_path, capacity="process=1", **{"http-listen": f"127.0.0.1:{port}"})
    server.start()
    try:
        running = server.submit("sleep", "60")
        server.wait_state(running, {"RUNNING"})
        waiting = server.submit("echo", "next")
        sign_in(browser, f"http://127.0.0.1:{port}", server.token)
        browser.find_element(By.LINK_TEXT, "Queues").click()
        # Provider, capacity, running (share), pooled, queued.
        wait(
            browser,
            lambda d: any(r.startswith("process\t1\t1 (100%)\t0\t1") for r in _rows(d, "queues")),
        )
        wait(
            browser,
            lambda d: [r.split("\t")[:2] for r in _rows(d, "line")] == [["#1", "echo next"]],
        )
        browser.find_element(By.CSS_SELECTOR, "#line tbody tr").click()
        wait(browser, lambda d: waiting in _text(d, "view"))
        server.cli("job", "cancel", running, check=True)
        wait(browser, lambda d: _text(d, "job-state").startswith("SUCCEEDED"))
    finally:
        server.stop()
        server.cleanup_workers()


def test_a_schedule_is_run_paused_and_deleted_from_its_page(
    site: tuple[Server, str], browser: WebDriver
) -> None:
    server, base = site
    server.cli("schedule", "create", "hourly", "--every", "1h", "--", "echo", "tick", check=True)
    sign_in(browser, base, server.token)
    browser.find_element(By.LINK_TEXT, "Schedules").click()
    wait(
        browser,
        lambda d: [r.split("\t")[:2] for r in _rows(d, "schedules")] == [["hourly", "every 3600s"]],
    )
    browser.find_element(By.CSS_SELECTOR, "#schedules tbody tr").click()
    wait(browser, lambda d: _text(d, "schedule-state").startswith("active: every 3600s"))
    browser.find_element(By.ID, "trigger").click()
    wait(browser, lambda d: _text(d, "job-state").startswith("SUCCEEDED"))
    assert _text(browser, "log") == "tick"
    browser.back()
    wait(browser, lambda d: any("triggered\tSUCCEEDED" in r for r in _rows(d, "runs")))
    browser.find_element(By.ID, "pause").click()
    wait(browser, lambda d: _text(d, "schedule-state").startswith("paused"))
    assert browser.find_element(By.ID, "pause").text == "Resume"
    browser.find_element(By.ID, "delete").click()
    browser.switch_to.alert.accept()
    wait(browser, lambda d: d.current_url.endswith("#/schedules"))
    assert "hourly" not in server.cli("schedule", "list", check=True).stdout


def test_a_read_token_sees_no_buttons_that_change_things(
    site: tuple[Server, str], browser: WebDriver
) -> None:
    server, base = site
    server.cli("schedule", "create", "hourly", "--every", "1h", "--", "true", check=True)
    job_id = server.submit("sleep", "60")
    viewer = server.cli("token", "create", "viewer", "--role", "read", check=True).stdout.strip()
    sign_in(browser, base, viewer)
    assert not browser.find_element(By.ID, "nav-submit").is_displayed()
    browser.get(f"{base}/#/jobs/{job_id}")
    wait(browser, lambda d: _text(d, "job-state").startswith("RUNNING"))
    assert not browser.find_element(By.ID, "cancel").is_displayed()
    browser.get(f"{base}/#/schedules/hourly")
    wait(browser, lambda d: _text(d, "schedule-state").startswith("active"))
    assert not browser.find_element(By.ID, "trigger").is_displayed()
    server.cli("job", "cancel", job_id, check=True)


def test_on_a_phone_in_dark_mode_nothing_runs_off_the_screen(
    site: tuple[Server, str], browser: WebDriver
) -> None:
    server, base = site
    server.cli("job", "run", "--", "sh", "-c", "echo " + "x" * 400, check=True)
    browser.set_window_size(390, 844)
    browser.execute_cdp_cmd(  # type: ignore[attr-defined]
        "Emulation.setEmulatedMedia",
        {"features": [{"name": "prefers-color-scheme", "value": "dark"}]},
    )
    sign_in(browser, base, server.token)
    wait(browser, lambda d: len(_rows(d, "jobs")) == 1)
    dark = browser.execute_script("return getComputedStyle(document.body).backgroundColor")
    assert dark == "rgb(17, 20, 24)"
    width = "return [document.documentElement.scrollWidth, window.innerWidth]"
    for page in ("#/", "#/workers", "#/queues", "#/schedules", "#/submit"):
        browser.get(f"{base}/{page}")
        wait(browser, lambda d: _text(d, "view"))
        scrolled, seen = browser.execute_script(width)
        assert scrolled <= seen, page  # wide tables scroll inside their box, not the page
    browser.find_element(By.LINK_TEXT, "Jobs").click()
    wait(browser, lambda d: len(_rows(d, "jobs")) == 1)
    browser.find_element(By.CSS_SELECTOR, "#jobs tbody tr").click()
    wait(browser, lambda d: "x" * 50 in _text(d, "log"))
    scrolled, seen = browser.execute_script(width)
    assert scrolled <= seen


def test_the_job_table_pages_back_through_older_jobs(
    site: tuple[Server, str], browser: WebDriver
) -> None:
    server, base = site
    for n in range(55):
        spec = pb.JobSpec(command=["echo", f"job {n}"])
        server.jobs.SubmitJob(pb.SubmitJobRequest(spec=spec), timeout=10)
    sign_in(browser, base, server.token)
    Select(browser.find_element(By.ID, "page-size")).select_by_value("50")

    def commands() -> list[str]:
        return [r.split("\t")[1] for r in _rows(browser, "jobs")]

    newest = [f"echo job {n}" for n in range(54, 4, -1)]
    wait(browser, lambda d: commands() == newest)
    assert not browser.find_element(By.ID, "newer").is_enabled()
    browser.find_element(By.ID, "older").click()
    wait(browser, lambda d: commands() == [f"echo job {n}" for n in range(4, -1, -1)])
    assert not browser.find_element(By.ID, "older").is_enabled()
    assert _text(browser, "page") == "page 2"
    browser.find_element(By.ID, "newer").click()
    wait(browser, lambda d: commands() == newest)
