"""Traces, metrics and logs of real processes: what an operator sees of a job."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import TERMINAL, Server, assert_eventually, free_port
from tests.otlp import Receiver


@contextlib.contextmanager
def serving(home: Path, **options: Any) -> Iterator[Server]:
    """A server for one test; its workers are gone after."""
    server = Server(home, **options)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        server.cleanup_workers()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.stop()


def test_one_trace_covers_a_job_from_submit_to_completion_across_processes(
    tmp_path: Path, receiver: Receiver
) -> None:
    with serving(tmp_path, env=receiver.env) as server:
        done = server.cli_env(receiver.env, "job", "run", "--", "echo", "traced")
        assert done.returncode == 0 and done.stdout == "traced\n", done.stderr
        job_id = json.loads(server.cli("job", "list", "-o", "json", check=True).stdout)[0]["id"]
        names = {
            "laino job run": "laino-cli",
            "SubmitJob": "laino-server",
            "provision_worker": "laino-server",
            "process.start": "laino-server",
            "register_worker": "laino-server",
            "dispatch_job": "laino-server",
            "record_exit": "laino-server",
            "finish": "laino-server",
            "process.destroy": "laino-server",
            "agent.register": "laino-agent",
            "agent.run": "laino-agent",
        }

        def received_all() -> bool:
            missing = [n for n in names if not receiver.named(n)]
            assert not missing, f"spans never received: {missing}"
            return True

        assert_eventually(received_all, timeout=15)
        spans = {name: receiver.named(name)[0] for name in names}
        assert {s.trace_id for s in spans.values()} == {spans["laino job run"].trace_id}
        assert {name: s.service for name, s in spans.items()} == names
        # Parentage: the server continues the CLI's span, the agent the provisioning step's.
        assert spans["laino job run"].parent_id == ""
        assert spans["SubmitJob"].parent_id == spans["laino job run"].span_id
        assert spans["provision_worker"].parent_id == spans["SubmitJob"].span_id
        assert spans["process.start"].parent_id == spans["provision_worker"].span_id
        assert spans["agent.run"].parent_id == spans["provision_worker"].span_id
        assert spans["agent.run"].attributes["laino.exit_code"] == 0
        assert server.job(job_id)["trace_id"] == spans["laino job run"].trace_id
        shown = server.cli("job", "trace", job_id, check=True).stdout
        assert f"trace: {spans['laino job run'].trace_id}" in shown


def test_a_job_resumed_after_a_restart_stays_in_its_trace(
    tmp_path: Path, receiver: Receiver
) -> None:
    with serving(tmp_path, env=receiver.env) as server:
        job_id = server.cli_env(
            receiver.env, "job", "submit", "--", "sh", "-c", "sleep 2; echo late"
        ).stdout.strip()
        server.wait_state(job_id, {"RUNNING"})
        server.kill()
        server.start()
        assert server.wait_state(job_id, TERMINAL)["state"] == "SUCCEEDED"
        trace_id = server.job(job_id)["trace_id"]
        assert_eventually(lambda: receiver.named("finish"), timeout=15)
        assert {s.trace_id for s in receiver.named("finish")} == {trace_id}
        assert {s.trace_id for s in receiver.named("record_exit")} == {trace_id}


def _scrape(port: int) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


def test_metrics_move_as_jobs_run_and_end(tmp_path: Path) -> None:
    port = free_port()
    with serving(tmp_path, **{"metrics-listen": f"127.0.0.1:{port}"}) as server:
        before = _scrape(port)
        assert before["laino_jobs_submitted_total"] == 0
        running = server.submit("sh", "-c", "seq 1 500; sleep 3")
        server.wait_state(running, {"RUNNING"})
        during = assert_eventually(
            lambda: (m := _scrape(port))['laino_jobs{state="RUNNING"}'] == 1 and m, timeout=5
        )
        assert during['laino_workers{state="BUSY"}'] == 1
        assert server.cli("job", "run", "--", "true").returncode == 0
        assert server.cli("job", "run", "--", "sh", "-c", "exit 3").returncode == 3
        server.wait_state(running, TERMINAL)

        def settled() -> dict[str, float] | None:
            m = _scrape(port)
            return m if m['laino_jobs{state="RUNNING"}'] == 0 else None

        after = assert_eventually(settled, timeout=5)
        assert after["laino_jobs_submitted_total"] == 3
        assert after['laino_jobs_finished_total{outcome="SUCCEEDED"}'] == 2
        assert after['laino_jobs_finished_total{outcome="FAILED"}'] == 1
        assert after['laino_jobs{state="SUCCEEDED"}'] == 2
        assert after["laino_job_time_to_running_seconds_count"] == 3
        assert after["laino_job_time_to_terminal_seconds_count"] == 3
        assert after["laino_job_time_to_terminal_seconds_sum"] >= 3  # one job slept 3 s
        assert after['laino_provider_call_seconds_count{call="start",provider="process"}'] == 3
        assert after["laino_log_bytes_ingested_total"] >= len(
            "".join(f"{i}\n" for i in range(1, 501))
        )
        compensated = 'laino_saga_compensations_total{outcome="succeeded",step="provision_worker"}'
        assert after[compensated] == 3


def test_json_logs_carry_the_job_worker_and_trace_ids(tmp_path: Path, receiver: Receiver) -> None:
    with serving(tmp_path, env=receiver.env, **{"log-format": "json"}) as server:
        assert server.cli("job", "run", "--", "true").returncode == 0
        job = json.loads(server.cli("job", "list", "-o", "json", check=True).stdout)[0]

        def lines() -> list[dict[str, str]]:
            text = (tmp_path / "server.log").read_text()
            return [json.loads(line) for line in text.splitlines() if line.startswith("{")]

        finished = assert_eventually(
            lambda: [r for r in lines() if "saga is finished" in r["message"]], timeout=10
        )
        assert finished[0]["job"] == job["id"] and finished[0]["trace"] == job["trace_id"]
        registered = [r for r in lines() if "registered" in r["message"]]
        assert registered[0]["job"] == job["id"] and registered[0]["worker"] == job["worker_id"]
        assert {r["level"] for r in lines()} <= {"info", "warning", "error"}


def test_the_agent_logs_json_with_its_worker_id_when_its_server_asks() -> None:
    env = {
        **os.environ,
        "LAINO_SERVER": f"127.0.0.1:{free_port()}",  # nobody listens: it logs, then gives up
        "LAINO_WORKER_ID": "5e6f0000-0000-0000-0000-000000000001",
        "LAINO_BOOTSTRAP_TOKEN": "t",
        "LAINO_LOG_FORMAT": "json",
        "LAINO_AGENT_ORPHAN_SECONDS": "1",
    }
    done = subprocess.run(
        [sys.executable, "-m", "laino.providers.agent"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert lines and all(line["process"] == "agent" for line in lines)
    assert all(line["worker"] == env["LAINO_WORKER_ID"] for line in lines)
    assert any("unreachable" in line["message"] for line in lines)
