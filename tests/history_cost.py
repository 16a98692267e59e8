"""What a long history costs each new job: 500 `true` jobs on an empty store and on a store
that holds 50,000 ended jobs already, side by side (SQLite, process workers).

The history is written through laino's own applications, not by running 50,000 jobs (an hour
here): each job submitted, cancelled while queued and ended, its saga started and finished, one
line of output stored, the listing views caught up. That is a job's every table, if not every
event a job that ran would leave.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median

from laino.orchestrator.apps import JobsApp, SagasApp, WorkersApp
from laino.orchestrator.domain.jobs import Job
from laino.orchestrator.domain.spec import JobSpec
from laino.orchestrator.store.database import Database
from laino.orchestrator.store.logstore import STDOUT, Chunk, LogStore
from laino.orchestrator.views import Views
from laino.v1 import laino_pb2 as pb
from tests.conftest import Server

HISTORY = 50_000
SECTION = 500
# `job list`'s page in the bench: no more than one turn's jobs, so both stores fill it.
LISTED = 100


def seed(home: Path, count: int) -> float:
    """Writes `count` ended jobs into a fresh embedded store; returns the seconds it took."""
    started = time.perf_counter()
    database = Database(home, "")
    database.migrate()
    engine = database.engine()
    jobs = JobsApp(database.event_store("jobs"))
    sagas = SagasApp(database.event_store("sagas"))
    workers = WorkersApp(database.event_store("workers"), secret=b"-" * 32, token_ttl=60)
    sagas.follow(jobs.name, jobs.notification_log)
    logs = LogStore(engine)
    spec = JobSpec(command=["true"]).as_dict()
    for first in range(0, count, SECTION):
        section = []
        for n in range(first, min(count, first + SECTION)):
            job = Job(key=f"history-{n}", spec=spec, submitter="history")
            job.request_cancel()
            job.end_cancelled()
            section.append(job)
        jobs.save(*section)
        sagas.pull_and_process(jobs.name)
        finished = []
        for job in section:
            saga = sagas.get_saga(job.id)
            saga.finish("CANCELLED")
            finished.append(saga)
            logs.append(str(job.id), [Chunk(1, STDOUT, time.time(), b"done\n")], limit=1 << 20)
        sagas.save(*finished)
    Views(engine, jobs, workers, sagas).catch_up()
    engine.dispose()
    return time.perf_counter() - started


def history_cost(
    batch: Callable[[Server, int], tuple[float, float]],
    cpu_seconds: Callable[..., float],
    count: int,
) -> tuple[float, float]:
    """Server CPU ms per job for `count` jobs, on an empty store and on one with HISTORY ended
    jobs; prints both with their jobs per second, server start and `job list` time.

    The two stores take turns, empty, history, history, empty, half the jobs a turn: the
    machine's speed drifts within minutes, and in this order a steady drift falls on both alike.
    """
    fresh = Path(tempfile.mkdtemp(prefix="laino-bench-"))
    old = Path(tempfile.mkdtemp(prefix="laino-bench-history-"))
    took = seed(old, HISTORY)
    print(f"{f'writing {HISTORY:,} ended jobs of history':44} {took:7.1f} s")
    tallies = {fresh: Tally(), old: Tally()}
    for home in (fresh, old, old, fresh):
        tallies[home].run(Server(home), batch, cpu_seconds, count // 2)
    for name, home in (("empty store", fresh), (f"{HISTORY:,} jobs of history", old)):
        t = tallies[home]
        print(
            f"{f'{t.jobs} true jobs, SQLite, {name}':44} {t.jobs / t.seconds:7.1f} jobs/s"
            f"   server CPU {t.ms_per_job():.0f} ms per job,"
            f" start {median(t.starts) * 1000:.0f} ms, job list {median(t.listings) * 1000:.1f} ms"
        )
    size = sum(f.stat().st_size for f in old.glob("*.db*")) / 2**20
    print(f"{'  the store with that history':44} {size:7.0f} MiB on disk")
    return tallies[fresh].ms_per_job(), tallies[old].ms_per_job()


@dataclass
class Tally:
    """What one store's turns took in all."""

    jobs: int = 0
    seconds: float = 0.0
    cpu: float = 0.0
    starts: list[float] = field(default_factory=list)
    listings: list[float] = field(default_factory=list)

    def run(
        self,
        server: Server,
        batch: Callable[[Server, int], tuple[float, float]],
        cpu_seconds: Callable[..., float],
        count: int,
    ) -> None:
        """Starts the server (timed to its first answer), runs `count` jobs, then lists the
        newest LISTED jobs 20 times from a warm client (a turn has run at least that many)."""
        started = time.perf_counter()
        server.start()
        self.starts.append(time.perf_counter() - started)
        assert server.proc is not None
        try:
            before = cpu_seconds(pid=server.proc.pid)
            _, total = batch(server, count)
            self.cpu += cpu_seconds(pid=server.proc.pid) - before
            for _ in range(20):
                begun = time.perf_counter()
                server.jobs.ListJobs(pb.ListJobsRequest(page_size=LISTED))
                self.listings.append(time.perf_counter() - begun)
        finally:
            server.stop()
            server.cleanup_workers()
        self.jobs += count
        self.seconds += total

    def ms_per_job(self) -> float:
        return self.cpu * 1000 / self.jobs
