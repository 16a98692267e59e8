"""What recording a job's life costs at the least: each saved event of a `true` job's saga,
job and worker, through laino's own applications on the embedded SQLite, with nothing else
(no gRPC, no provider, no runner, no agent). The part of the server's CPU per job that one
transaction per step sets, whatever the rest of the server does."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from laino.orchestrator.apps import JobsApp, SagasApp, WorkersApp
from laino.orchestrator.domain.spec import JobSpec
from laino.orchestrator.domain.workers import worker_name
from laino.orchestrator.runner import DISPATCH, PROVISION
from laino.orchestrator.store.database import Database
from laino.orchestrator.store.logstore import STDOUT, Chunk, LogStore
from laino.orchestrator.views import Views


def store_floor(count: int) -> tuple[float, int]:
    """CPU ms per job, and the transactions each job took."""
    home = Path(tempfile.mkdtemp(prefix="laino-bench-store-"))
    database = Database(home, "")
    database.migrate()
    engine = database.engine()
    jobs = JobsApp(database.event_store("jobs"))
    workers = WorkersApp(database.event_store("workers"), secret=b"-" * 32, token_ttl=60)
    sagas = SagasApp(database.event_store("sagas"))
    sagas.follow(jobs.name, jobs.notification_log)
    logs = LogStore(engine)
    views = Views(engine, jobs, workers, sagas)
    saves = 0

    def save_saga(saga: object) -> None:
        nonlocal saves
        sagas.save(saga)
        saves += 1

    started = time.process_time()
    for _ in range(count):
        job, _ = jobs.submit(JobSpec(command=("true",)))
        sagas.pull_and_process(jobs.name)
        saga = sagas.get_saga(job.id)
        worker = workers.provision(job.id, 1, "process", worker_name(job.id, 1))
        jobs.start_provisioning(job.id, 1, worker.id)
        saga.begin(PROVISION, 1)
        save_saga(saga)
        saga.succeed(PROVISION, 1, {})
        save_saga(saga)
        workers.register(worker.id, workers.bootstrap_token(worker.id))
        saga.begin(DISPATCH, 1)
        save_saga(saga)
        jobs.assign(job.id, 1)
        workers.mark_busy(worker.id)
        jobs.start_running(job.id, 1)
        saga.succeed(DISPATCH, 1, {})
        save_saga(saga)
        logs.append(str(job.id), [Chunk(1, STDOUT, time.time(), b"done\n")], limit=1 << 20)
        jobs.record_exit(job.id, 1, 0, timed_out=False, cancelled=False, error="")
        for step in (DISPATCH, PROVISION):
            saga.begin_compensation(step, 1)
            save_saga(saga)
            saga.compensated(step, 1)
            save_saga(saga)
        workers.mark_terminated(worker.id)
        saga.finish("SUCCEEDED")
        save_saga(saga)
    views.catch_up()
    took = time.process_time() - started
    engine.dispose()
    # Besides the saga's: submit and its saga's start, 5 of the job's, 4 of the worker's, a
    # log append (the listing views catch up in sections, not per job).
    per_job = saves // count + 2 + 5 + 4 + 1
    return took * 1000 / count, per_job
