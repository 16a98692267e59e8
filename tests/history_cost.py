"""What a long history costs each new job: 500 `true` jobs on an empty store, then on a store
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
from pathlib import Path

from laino.orchestrator.apps import JobsApp, SagasApp, WorkersApp
from laino.orchestrator.domain.jobs import Job
from laino.orchestrator.domain.spec import JobSpec
from laino.orchestrator.store.database import Database
from laino.orchestrator.store.logstore import STDOUT, Chunk, LogStore
from laino.orchestrator.views import Views
from tests.conftest import Server

HISTORY = 50_000
SECTION = 500


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
    jobs; prints both with their jobs per second."""
    fresh = Path(tempfile.mkdtemp(prefix="laino-bench-"))
    old = Path(tempfile.mkdtemp(prefix="laino-bench-history-"))
    took = seed(old, HISTORY)
    print(f"{f'writing {HISTORY:,} ended jobs of history':44} {took:7.1f} s")
    results = []
    for name, home in (("empty store", fresh), (f"{HISTORY:,} jobs of history", old)):
        server = Server(home)
        server.start()
        assert server.proc is not None
        pid = server.proc.pid
        try:
            before = cpu_seconds(pid=pid)
            _, total = batch(server, count)
            ms = (cpu_seconds(pid=pid) - before) * 1000 / count
        finally:
            server.stop()
            server.cleanup_workers()
        print(
            f"{f'{count} true jobs, SQLite, {name}':44} {count / total:7.1f} jobs/s"
            f"   server CPU {ms:.0f} ms per job"
        )
        results.append(ms)
    size = sum(f.stat().st_size for f in old.glob("*.db*")) / 2**20
    print(f"{'  the store with that history':44} {size:7.0f} MiB on disk")
    return results[0], results[1]
