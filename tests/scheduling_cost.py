"""What admission costs with a short queue and with a long one, measured in this process on
real stores: the runner makes one such pass each time a saga ends, so each job that starts
costs about one pass. Printed by `just bench`; asserts nothing."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from laino.orchestrator.admission import Admission
from laino.orchestrator.apps import JobsApp, SagasApp, WorkersApp
from laino.orchestrator.domain.spec import JobSpec
from laino.orchestrator.open_sagas import OpenSagas
from laino.orchestrator.store.database import Database
from laino.orchestrator.views import Views

PASSES = 50
ROOM = 2


def pass_cost(queued: int) -> list[float]:
    """The seconds of each of PASSES passes with `queued` jobs waiting for ROOM places: after
    each, the jobs it started end, and as many new ones are submitted."""
    database = Database(Path(tempfile.mkdtemp(prefix="laino-bench-")))
    database.migrate()
    engine = database.engine()
    jobs = JobsApp(database.event_store("jobs"))
    workers = WorkersApp(database.event_store("workers"), secret=b"k" * 32, token_ttl=60)
    sagas = SagasApp(database.event_store("sagas"))
    sagas.follow(jobs.name, jobs.notification_log)
    spec = JobSpec(command=("true",), provider="process", max_attempts=1)
    for _ in range(queued):
        jobs.submit(spec)
    views = Views(engine, jobs, workers, sagas)
    admission = Admission({"process": ROOM}, jobs)
    open_sagas = OpenSagas(views, sagas)
    taken: list[float] = []
    for _ in range(PASSES):
        sagas.pull_and_process(jobs.name)
        views.catch_up()
        started = time.perf_counter()
        went = admission.admit(open_sagas.news()).go
        taken.append(time.perf_counter() - started)
        for job_id in went:  # as if each ended at once, and as many new ones came
            admission.forget(job_id)
            jobs.submit(spec)
    engine.dispose()
    return taken


def scheduling_cost() -> None:
    for queued in (10, 10_000):
        taken = pass_cost(queued)
        median = statistics.median(taken)
        print(
            f"{f'admission with {queued:,} queued':44} {median * 1000:7.2f} ms a pass,"
            f" {median / ROOM * 1000:.2f} ms per job started (median of {PASSES} passes)"
        )


if __name__ == "__main__":
    scheduling_cost()
