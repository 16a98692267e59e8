"""Retries: each attempt's worker is gone before the next starts, and attempts back off."""

from __future__ import annotations

import json
from typing import Any

from laino.providers.process import ProcessProvider
from tests.conftest import Server, assert_eventually, containers

FAILS = ("sh", "-c", "echo attempt $LAINO_ATTEMPT; exit 3")


def _events(server: Server, job_id: str) -> list[dict[str, Any]]:
    done = server.cli("job", "events", job_id, "-o", "json", check=True)
    return list(json.loads(done.stdout))


def _check_each_worker_went_first(server: Server, job_id: str, attempts: int) -> None:
    events = _events(server, job_id)
    order = [(e["source"], e["type"], e["data"].get("attempt")) for e in events]
    terminated = [i for i, (s, t, _) in enumerate(order) if s == "worker" and t == "Terminated"]
    provisioning = [i for i, (s, t, _) in enumerate(order) if (s, t) == ("worker", "Provisioning")]
    assert len(terminated) == len(provisioning) == attempts, order
    for n in range(1, attempts):
        assert terminated[n - 1] < provisioning[n], order  # attempt n's worker went first
    retries = [e for e in events if e["type"] == "RetryScheduled"]
    assert len(retries) == attempts - 1
    for n, retry in enumerate(retries, start=1):  # 0.5 s, then 1 s: backed off, not at once
        assert retry["data"]["retry_at"] - retry["timestamp"] >= 0.5 * 2 ** (n - 1) - 0.05


def test_retry_on_failure_leaves_no_worker_of_an_earlier_attempt(server: Server) -> None:
    done = server.cli("job", "run", "--retry-on-failure", "--max-attempts", "3", "--", *FAILS)
    assert done.returncode == 3
    assert done.stdout.splitlines() == ["attempt 1", "attempt 2", "attempt 3"]
    (job,) = json.loads(server.cli("job", "list", "-o", "json", check=True).stdout)
    assert (job["state"], job["attempt"]) == ("FAILED", 3)
    _check_each_worker_went_first(server, job["id"], 3)

    def states() -> list[str]:
        listed = json.loads(server.cli("worker", "list", "--all", "-o", "json", check=True).stdout)
        return sorted(w["state"] for w in listed)

    assert_eventually(lambda: states() == ["TERMINATED"] * 3)
    owned = ProcessProvider(server.home / "workers", installation="").owned()
    assert owned == []  # no agent of any attempt is left


def test_retry_on_failure_leaves_no_container_of_an_earlier_attempt(docker_server: Server) -> None:
    options = ("--provider", "docker", "--retry-on-failure", "--max-attempts", "2")
    done = docker_server.cli("job", "run", *options, "--", *FAILS)
    assert done.returncode == 3, done.stderr
    (job,) = json.loads(docker_server.cli("job", "list", "-o", "json", check=True).stdout)
    _check_each_worker_went_first(docker_server, job["id"], 2)
    assert_eventually(lambda: containers(f"laino.job={job['id']}") == [], timeout=10)


def test_max_attempts_has_a_ceiling(server: Server) -> None:
    done = server.cli("job", "run", "--max-attempts", "2147483647", "--", "true")
    assert done.returncode == 1
    assert "spec.max_attempts: max attempts must be from 1 to 100" in done.stderr
