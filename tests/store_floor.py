"""What recording a job's life costs at the least: each saved event of a `true` job's saga,
job and worker, through laino's own applications on the embedded SQLite or on PostgreSQL, with
nothing else (no gRPC, no provider, no runner, no agent). The part of the server's CPU per job
that one transaction per step sets, whatever the rest of the server does."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from laino.orchestrator.apps import JobsApp, SagasApp, WorkersApp
from laino.orchestrator.domain.spec import JobSpec
from laino.orchestrator.domain.workers import worker_name
from laino.orchestrator.runner import DISPATCH, PROVISION
from laino.orchestrator.store.database import Database
from laino.orchestrator.store.logstore import STDOUT, Chunk, LogStore
from laino.orchestrator.views import Views

T = TypeVar("T")


def store_floor(count: int, url: str = "") -> tuple[float, int]:
    """CPU ms per job in this process, and the transactions each job took; on the database at
    `url` (PostgreSQL), or the embedded one."""
    home = Path(tempfile.mkdtemp(prefix="laino-bench-store-"))
    database = Database(home, url)
    database.migrate()
    engine = database.engine()
    jobs = JobsApp(database.event_store("jobs"))
    workers = WorkersApp(database.event_store("workers"), secret=b"-" * 32, token_ttl=60)
    sagas = SagasApp(database.event_store("sagas"))
    sagas.follow(jobs.name, jobs.notification_log)
    logs = LogStore(engine)
    views = Views(engine, jobs, workers, sagas)
    transactions = 0

    def step(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """One write, in its own transaction, as the server makes it."""
        nonlocal transactions
        transactions += 1
        return call(*args, **kwargs)

    started = time.process_time()
    for _ in range(count):
        job, _ = step(jobs.submit, JobSpec(command=("true",)))
        step(sagas.pull_and_process, jobs.name)  # the saga's start
        saga = sagas.get_saga(job.id)
        worker = step(workers.provision, job.id, 1, "process", worker_name(job.id, 1))
        step(jobs.start_provisioning, job.id, 1, worker.id)
        saga.begin(PROVISION, 1)
        step(sagas.save, saga)
        saga.succeed(PROVISION, 1, {})
        step(sagas.save, saga)
        step(workers.register, worker.id, workers.bootstrap_token(worker.id))
        saga.begin(DISPATCH, 1)
        step(sagas.save, saga)
        step(jobs.assign, job.id, 1)
        step(workers.mark_busy, worker.id)
        step(jobs.start_running, job.id, 1)
        saga.succeed(DISPATCH, 1, {})  # saved with the saga's next record
        output = [Chunk(1, STDOUT, time.time(), b"done\n")]
        step(logs.append, str(job.id), output, limit=1 << 20)
        step(jobs.record_exit, job.id, 1, 0, timed_out=False, cancelled=False, error="")
        for compensated in (DISPATCH, PROVISION):
            saga.compensated(compensated, 1)
        step(workers.mark_terminated, worker.id)
        saga.finish("SUCCEEDED")
        step(sagas.save, saga)  # the undoings and the end, in one transaction
    views.catch_up()
    took = time.process_time() - started
    engine.dispose()
    # The listing views catch up in sections, not per job: not counted.
    return took * 1000 / count, transactions // count
