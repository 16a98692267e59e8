"""Partitioned driving: servers on one PostgreSQL and NATS share the sagas' partitions, the
death of one loses no job, and the capacity holds across all of them."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from laino.orchestrator.cluster.partitions import PARTITION
from laino.v1 import laino_pb2 as pb
from tests.conftest import TERMINAL, Server, assert_eventually, free_port, processes_with
from tests.nats import Nats


@pytest.fixture
def nats() -> Iterator[Nats]:
    server = Nats(free_port())
    yield server
    server.destroy()


@pytest.fixture
def trio(tmp_path: Path, postgres_url: str, nats: Nats) -> Iterator[list[Server]]:
    """Three servers; every agent knows all three, as behind a load balancer."""
    servers = []
    for name in "abc":
        (tmp_path / name).mkdir()
        servers.append(Server(tmp_path / name, database=postgres_url, nats=nats.url))
    everyone = ",".join(server.agent_address for server in servers)
    try:
        for server in servers:
            server.flags["advertise"] = everyone
            server.start()
        yield servers
    finally:
        for server in servers:
            server.stop()
            server.cleanup_workers()


def shares(url: str) -> list[int]:
    """How many partitions each server's session holds, most first."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT pid, count(*) FROM pg_locks WHERE locktype = 'advisory'"
            " AND classid = %s AND objsubid = 2 AND granted GROUP BY pid",
            (PARTITION,),
        ).fetchall()
    return sorted((count for _, count in rows), reverse=True)


def test_three_servers_share_the_partitions_and_one_killed_loses_no_job(
    trio: list[Server], postgres_url: str
) -> None:
    a, b, c = trio
    assert_eventually(lambda: shares(postgres_url) == [11, 11, 10], timeout=15)
    script = "for i in 1 2 3 4 5 6 7 8 9 10; do echo line $i; sleep 0.2; done"
    expected = "".join(f"line {i}\n" for i in range(1, 11))
    jobs = [trio[i % 3].submit("sh", "-c", script) for i in range(30)]
    # Every server drives some of them: each job's saga events name the server that wrote
    # them nowhere, but each server logs the workers it starts.
    assert_eventually(lambda: all("starting worker" in s.log() for s in trio), timeout=20)
    b.kill()
    assert_eventually(lambda: shares(postgres_url) == [16, 16], timeout=10)
    for job_id in jobs:
        done = a.wait_state(job_id, TERMINAL, timeout=60)
        assert (done["state"], done["attempt"]) == ("SUCCEEDED", 1), done
        assert c.cli("job", "logs", job_id, check=True).stdout == expected
    for server in (a, c):
        assert "Traceback" not in server.log()


@pytest.fixture
def pair(tmp_path: Path, postgres_url: str, nats: Nats) -> Iterator[list[Server]]:
    """Two servers with room for two process workers in all."""
    servers = []
    for name in "ab":
        (tmp_path / name).mkdir()
        server = Server(tmp_path / name, database=postgres_url, nats=nats.url)
        server.flags["capacity"] = "process=2"
        servers.append(server)
    everyone = ",".join(server.agent_address for server in servers)
    try:
        for server in servers:
            server.flags["advertise"] = everyone
            server.start()
            assert_eventually(lambda: "holding the lease" in servers[0].log(), timeout=10)
        yield servers
    finally:
        for server in servers:
            server.stop()
            server.cleanup_workers()


def test_capacity_holds_across_servers_and_the_lease_holders_death(
    pair: list[Server], postgres_url: str
) -> None:
    a, b = pair  # A holds the lease; both drive sagas
    assert_eventually(lambda: shares(postgres_url) == [16, 16], timeout=15)
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
        spec = pb.JobSpec(command=["sleep", "0.73"])
        submit = pb.SubmitJobRequest(spec=spec)
        jobs = [pair[i % 2].jobs.SubmitJob(submit).job.id for i in range(16)]
        assert_eventually(lambda: most == 2, timeout=20)
        a.kill()  # B takes the lease, counting what A let go, and A's partitions
        ended = [b.wait_state(job_id, TERMINAL, timeout=90) for job_id in jobs]
    finally:
        done.set()
        sampler.join()
    assert [job["state"] for job in ended] == ["SUCCEEDED"] * 16
    assert most == 2  # never more at once, on either server, before or after
