"""Partitioned driving: three servers on one PostgreSQL and NATS share the sagas' partitions,
and the death of one loses no job."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from laino.orchestrator.cluster.partitions import PARTITION
from tests.conftest import TERMINAL, Server, assert_eventually, free_port
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
