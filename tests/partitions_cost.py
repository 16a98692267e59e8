"""What spreading the sagas over servers costs: the same `true` jobs through one server and
through three sharing the partitions (PostgreSQL and NATS, process workers), side by side.

On a 2-core machine three servers cannot run more jobs a second than one; what shows is
whether each job costs the servers, together, what it cost one. Each server lists itself first
in --advertise, as docs/production.md advises, so that a worker's agent talks to the server
that started it, which drives its saga.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from laino.orchestrator.cluster.partitions import PARTITIONS
from laino.v1 import laino_pb2 as pb
from tests.conftest import LAINO, Server, cluster, free_port
from tests.nats import Nats
from tests.postgres import Postgres, partition_shares

UNFINISHED = pb.ListJobsRequest(
    states=[pb.QUEUED, pb.PROVISIONING, pb.ASSIGNED, pb.RUNNING, pb.RETRYING], page_size=1
)


def _run(servers: list[Server], count: int) -> float:
    """Submits `count` jobs, in turn to each server; seconds until all ended."""
    started = time.perf_counter()
    for n in range(count):
        request = pb.SubmitJobRequest(spec=pb.JobSpec(command=["true"]))
        servers[n % len(servers)].jobs.SubmitJob(request)
    while servers[0].jobs.ListJobs(UNFINISHED).jobs:
        time.sleep(0.2)
    return time.perf_counter() - started


def _balanced(shares: list[int], servers: int) -> bool:
    """Every partition held, each server at most its share."""
    fair = -(-PARTITIONS // servers)
    return len(shares) == servers and sum(shares) == PARTITIONS and max(shares) <= fair


def partitions_cost(cpu_seconds: Callable[..., float], count: int) -> tuple[float, float]:
    """Server CPU ms per job, with one server and with three (all three's together); prints
    each server's part.

    One server and three take turns, one, three, three, one, half the jobs a turn: the
    machine's speed drifts within minutes, and in this order a steady drift falls on both alike.
    """
    postgres = Postgres(free_port())
    nats = Nats(free_port())
    half = count // 2
    # Per size, over its two turns: seconds, and each server's CPU seconds.
    took = {1: 0.0, 3: 0.0}
    cpu = {1: [0.0], 3: [0.0] * 3}
    try:
        for size in (1, 3, 3, 1):
            seconds, each = _turn(postgres, nats, size, half, cpu_seconds)
            took[size] += seconds
            cpu[size] = [a + b for a, b in zip(cpu[size], each, strict=True)]
    finally:
        postgres.destroy()
        nats.destroy()
    jobs = 2 * half
    ms = {size: [seconds * 1000 / jobs for seconds in cpu[size]] for size in cpu}
    for size, each in ms.items():
        parts = " + ".join(f"{part:.1f}" for part in each)
        print(
            f"{f'{jobs} true jobs, PG + NATS, {size} server(s)':44} {jobs / took[size]:7.1f} jobs/s"
            f"   server CPU per job {sum(each):.1f} ms ({parts})"
        )
    return sum(ms[1]), sum(ms[3])


def _turn(
    postgres: Postgres, nats: Nats, size: int, count: int, cpu_seconds: Callable[..., float]
) -> tuple[float, list[float]]:
    """`count` jobs through `size` servers on a fresh database: seconds, and each server's CPU
    seconds, in the order they started."""
    url = postgres.new_database()
    subprocess.run([LAINO, "db", "migrate", "--database", url], check=True, capture_output=True)
    root = Path(tempfile.mkdtemp(prefix="laino-bench-"))
    with cluster(root, size, own_first=True, database=url, nats=nats.url) as servers:
        while not _balanced(partition_shares(url), size):
            time.sleep(0.2)
        pids = [server.proc.pid for server in servers if server.proc is not None]
        before = [cpu_seconds(pid=pid) for pid in pids]
        took = _run(servers, count)
        return took, [cpu_seconds(pid=p) - b for p, b in zip(pids, before, strict=True)]
