"""End to end: a provider never runs more workers than its capacity; the rest wait in line."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from laino.providers.process import ProcessProvider
from laino.v1 import laino_pb2 as pb
from tests.conftest import Server, processes_with


@pytest.fixture
def capped(tmp_path: Path) -> Iterator[Server]:
    server = Server(tmp_path, capacity="process=4")
    server.start()
    yield server
    server.stop()
    server.cleanup_workers()


@pytest.mark.timeout(300)
def test_two_hundred_jobs_run_four_at_a_time_and_all_succeed(capped: Server) -> None:
    records = ProcessProvider(capped.home / "workers", installation="")
    most = {"workers": 0, "commands": 0}
    listing: list[float] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            most["workers"] = max(most["workers"], len(records.owned()))
            most["commands"] = max(most["commands"], len(processes_with("sleep 0.2")))
            started = time.monotonic()
            capped.jobs.ListJobs(pb.ListJobsRequest(page_size=50), timeout=10)
            listing.append(time.monotonic() - started)
            time.sleep(0.02)  # a look each 20 ms, not a loop that takes the server's core

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        spec = pb.JobSpec(command=["sleep", "0.2"])
        ids = [capped.jobs.SubmitJob(pb.SubmitJobRequest(spec=spec)).job.id for _ in range(200)]
        last = capped.jobs.GetJob(pb.GetJobRequest(job_id=ids[-1]))
        assert last.state == pb.QUEUED and last.queue_position > 100  # most wait in line
        listed = capped.cli("job", "list", "--state", "QUEUED", "--limit", "1")
        assert " QUEUED #" in listed.stdout
        jobs = [capped.wait_state(job_id, {"SUCCEEDED", "FAILED"}, timeout=300) for job_id in ids]
    finally:
        done.set()
        sampler.join()
    assert [job["state"] for job in jobs] == ["SUCCEEDED"] * 200
    assert 1 <= most["workers"] <= 4 and 1 <= most["commands"] <= 4, most
    listing.sort()
    print(
        f"job list while 200 jobs went through: median {listing[len(listing) // 2] * 1000:.0f} ms,"
        f" max {listing[-1] * 1000:.0f} ms over {len(listing)} calls"
    )


def test_a_bad_capacity_is_refused_before_the_server_starts(tmp_path: Path) -> None:
    server = Server(tmp_path, capacity="process=0")
    with pytest.raises(AssertionError, match="not PROVIDER=N"):
        server.start()


def test_a_job_cancelled_while_it_waits_for_room_ends_without_a_worker(tmp_path: Path) -> None:
    server = Server(tmp_path, capacity="process=1")
    server.start()
    try:
        running = server.submit("sleep", "30")
        server.wait_state(running, {"RUNNING"})
        waiting = server.submit("echo", "never")
        assert server.job(waiting)["state"] == "QUEUED"
        assert server.job(waiting)["queue_position"] == 1
        server.cli("job", "cancel", waiting, check=True)
        assert server.wait_state(waiting, {"CANCELLED"}, timeout=10)["worker_id"] is None
        assert server.job(running)["state"] == "RUNNING"  # it kept its room
        server.cli("job", "cancel", running, check=True)
    finally:
        server.stop()
        server.cleanup_workers()


def test_job_list_pages_past_the_servers_thousand_to_every_job_asked_for(tmp_path: Path) -> None:
    # The server's pages hold at most 1,000 jobs; the CLI follows them (it once stopped at one).
    server = Server(tmp_path, capacity="process=1")  # the jobs wait: submitting is quick
    server.start()
    try:
        spec = pb.JobSpec(command=["sleep", "600"])
        ids = {
            server.jobs.SubmitJob(pb.SubmitJobRequest(spec=spec), timeout=10).job.id
            for _ in range(1_050)
        }
        every = server.cli("job", "list", "--limit", "100000", "-o", "json", check=True)
        assert {job["id"] for job in json.loads(every.stdout)} == ids
        some = server.cli("job", "list", "--limit", "1020", "-o", "json", check=True)
        assert len(json.loads(some.stdout)) == 1_020
    finally:
        server.stop()
        server.cleanup_workers()
