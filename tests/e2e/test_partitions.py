"""Partitioned driving: servers on one PostgreSQL and NATS share the sagas' partitions, the
death of one loses no job, and the capacity holds across all of them."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from laino.v1 import laino_pb2 as pb
from tests.conftest import (
    TERMINAL,
    Server,
    assert_eventually,
    cluster,
    free_port,
    processes_with,
)
from tests.door import Door
from tests.nats import Nats
from tests.postgres import partition_shares


@pytest.fixture
def trio(tmp_path: Path, postgres_url: str, nats_server: Nats) -> Iterator[list[Server]]:
    with cluster(tmp_path, 3, database=postgres_url, nats=nats_server.url) as servers:
        yield servers


@pytest.fixture
def pair(tmp_path: Path, postgres_url: str, nats_server: Nats) -> Iterator[list[Server]]:
    """Two servers with room for two process workers in all."""
    flags = {"database": postgres_url, "nats": nats_server.url, "capacity": "process=2"}
    with cluster(tmp_path, 2, **flags) as servers:
        yield servers


def test_three_servers_share_the_partitions_and_one_killed_loses_no_job(
    trio: list[Server], postgres_url: str
) -> None:
    a, b, c = trio
    assert_eventually(lambda: partition_shares(postgres_url) == [11, 11, 10], timeout=15)
    script = "for i in 1 2 3 4 5 6 7 8 9 10; do echo line $i; sleep 0.2; done"
    expected = "".join(f"line {i}\n" for i in range(1, 11))
    jobs = [trio[i % 3].submit("sh", "-c", script) for i in range(30)]
    # Every server drives some of them: each logs the workers it starts.
    assert_eventually(lambda: all("starting worker" in s.log() for s in trio), timeout=20)
    b.kill()
    assert_eventually(lambda: partition_shares(postgres_url) == [16, 16], timeout=10)
    for job_id in jobs:
        done = a.wait_state(job_id, TERMINAL, timeout=60)
        assert (done["state"], done["attempt"]) == ("SUCCEEDED", 1), done
        assert c.cli("job", "logs", job_id, check=True).stdout == expected
    for server in (a, c):
        assert "Traceback" not in server.log()


def test_capacity_holds_across_servers_and_the_lease_holders_death(
    pair: list[Server], postgres_url: str
) -> None:
    assert_eventually(lambda: partition_shares(postgres_url) == [16, 16], timeout=15)
    assert_eventually(lambda: any("holding the lease" in s.log() for s in pair), timeout=10)
    holder, other = sorted(pair, key=lambda s: "holding the lease" not in s.log())
    most = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal most
        while not done.is_set():
            most = max(most, len(processes_with("sleep 0.73")))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        # Through the API: a CLI's own command line would name the command too.
        submit = pb.SubmitJobRequest(spec=pb.JobSpec(command=["sleep", "0.73"]))
        jobs = [pair[i % 2].jobs.SubmitJob(submit).job.id for i in range(16)]
        assert_eventually(lambda: most == 2, timeout=20)
        holder.kill()  # the other takes the lease, counting what was let go, and the partitions
        ended = [other.wait_state(job_id, TERMINAL, timeout=90) for job_id in jobs]
    finally:
        done.set()
        sampler.join()
    assert [job["state"] for job in ended] == ["SUCCEEDED"] * 16
    assert most == 2  # never more at once, on either server, before or after


def test_an_agent_whose_server_stops_answering_goes_on_with_another_and_its_job_runs_once(
    tmp_path: Path, postgres_url: str, nats_server: Nats
) -> None:
    # The agents know two servers; the first is reached through a door that goes silent, as
    # a server's host does when it freezes or the network between them breaks. Nothing is
    # refused or closed, so the agent hears nothing of it but the silence.
    door = Door(free_port())
    # The default heartbeat timeout, not the tests' 3 s: the agent has that long to move on.
    flags = {"database": postgres_url, "nats": nats_server.url, "heartbeat-timeout": 10}
    silent, other = (Server(tmp_path / name, **flags) for name in ("silent", "other"))
    for server in (silent, other):
        server.home.mkdir()
        server.flags["advertise"] = f"{door.address},{other.agent_address}"
        server.start()
    door.open(silent.agent_address)
    try:
        # Shared before the job comes: the server that starts its worker then drives it. A
        # saga handed over meanwhile would be driven by a server whose process provider, in
        # another home, cannot see the worker, and takes it for gone once silence falls.
        assert_eventually(lambda: partition_shares(postgres_url) == [16, 16], timeout=15)
        job_id = silent.submit("sh", "-c", "echo begin; sleep 12; echo end")
        assert_eventually(lambda: silent.cli("job", "logs", job_id).stdout == "begin\n")
        door.freeze()
        done = other.wait_state(job_id, TERMINAL, timeout=60)
        assert (done["state"], done["attempt"]) == ("SUCCEEDED", 1), done
        assert other.cli("job", "logs", job_id, check=True).stdout == "begin\nend\n"
    finally:
        door.close()
        for server in (silent, other):
            server.stop()
            server.cleanup_workers()
