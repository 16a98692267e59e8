"""The scheduler against real stores: catchup, overlap, and one job per fire however many fire it.

Times are given to `tick`, as a server that started at `started` sees them at `now`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest
from eventsourcing.persistence import IntegrityError

from laino.orchestrator.apps import JobsApp
from laino.orchestrator.cluster.health import Availability
from laino.orchestrator.domain.jobs import State
from laino.orchestrator.domain.schedules import Schedule
from laino.orchestrator.domain.spec import JobSpec
from laino.orchestrator.domain.timing import Timing
from laino.orchestrator.scheduler import Scheduler
from laino.orchestrator.schedules import LABEL, SchedulesApp, fire
from laino.orchestrator.store.database import Database


@pytest.fixture
def apps(tmp_path: Path) -> Iterator[tuple[SchedulesApp, JobsApp]]:
    database = Database(tmp_path)
    database.migrate()
    yield SchedulesApp(database.event_store("schedules")), JobsApp(database.event_store("jobs"))


def _every_2s(schedules: SchedulesApp, catchup: str, overlap: str = "allow") -> Schedule:
    spec = JobSpec(command=("true",), provider="process", max_attempts=1)
    return schedules.create(
        "tick", Timing(every=2.0), catchup=catchup, overlap=overlap, spec=spec, by="admin"
    )


def _jobs(schedules: SchedulesApp, jobs: JobsApp) -> list[str]:
    found = schedules.get("tick")
    return [job for _, job, _ in found.runs if job]


@pytest.mark.parametrize(("catchup", "fired"), [("none", 0), ("last", 1), ("all", 5)])
def test_fires_missed_while_no_server_ran_follow_the_catchup(
    apps: tuple[SchedulesApp, JobsApp], catchup: str, fired: int
) -> None:
    schedules, jobs = apps
    made = _every_2s(schedules, catchup)
    t0 = made.defined_at
    scheduler = Scheduler(schedules=schedules, jobs=jobs, availability=Availability())
    # No server from t0 until t0 + 10.5: five fires were missed (t0+2 … t0+10).
    scheduler.tick(started=t0 + 10.5, now=t0 + 10.6)
    assert len(_jobs(schedules, jobs)) == fired
    runs = schedules.get("tick").runs
    if fired < 5:
        assert runs[0][2] == f"missed {5 - fired} fire(s) while no server ran (--catchup {catchup})"
    if catchup == "last":
        assert runs[-1][0] == t0 + 10  # the latest missed fire
    # From then on, each fire while the server runs.
    scheduler.tick(started=t0 + 10.5, now=t0 + 14.1)
    assert len(_jobs(schedules, jobs)) == fired + 2
    job = jobs.get_job(UUID(_jobs(schedules, jobs)[-1]))
    assert job.spec.labels == {LABEL: "tick"} and job.submitter == "admin"


def test_a_fire_while_the_last_job_runs_is_skipped_by_default(
    apps: tuple[SchedulesApp, JobsApp],
) -> None:
    schedules, jobs = apps
    made = _every_2s(schedules, "none", overlap="skip")
    t0 = made.defined_at
    scheduler = Scheduler(schedules=schedules, jobs=jobs, availability=Availability())
    scheduler.tick(started=t0, now=t0 + 2.1)
    (first,) = _jobs(schedules, jobs)
    scheduler.tick(started=t0, now=t0 + 4.1)  # no runner here: the first job is still queued
    assert _jobs(schedules, jobs) == [first]
    assert schedules.get("tick").runs[-1][2] == f"skipped: job {first} was still QUEUED"


def test_cancel_previous_cancels_the_last_job_and_fires(
    apps: tuple[SchedulesApp, JobsApp],
) -> None:
    schedules, jobs = apps
    made = _every_2s(schedules, "none", overlap="cancel-previous")
    t0 = made.defined_at
    scheduler = Scheduler(schedules=schedules, jobs=jobs, availability=Availability())
    scheduler.tick(started=t0, now=t0 + 2.1)
    scheduler.tick(started=t0, now=t0 + 4.1)
    first, second = _jobs(schedules, jobs)
    assert jobs.get_job(UUID(first)).cancel_requested
    assert jobs.get_job(UUID(second)).state == State.QUEUED


def test_two_schedulers_at_one_fire_make_one_job_and_one_record(
    apps: tuple[SchedulesApp, JobsApp], tmp_path: Path
) -> None:
    schedules, jobs = apps
    made = _every_2s(schedules, "none")
    # Another server's scheduler, with its own copy read before this one fired.
    other = SchedulesApp(Database(tmp_path).event_store("schedules"))
    stale = other.get("tick")
    fire(schedules, jobs, schedules.get("tick"), made.defined_at + 2)
    with pytest.raises(IntegrityError):
        fire(other, jobs, stale, made.defined_at + 2)
    assert len(_jobs(schedules, jobs)) == 1
    assert sum(1 for _ in jobs.notification_log.select(start=1, limit=100)) == 1  # one job


def test_a_paused_schedule_does_not_make_up_its_fires_when_resumed(
    apps: tuple[SchedulesApp, JobsApp],
) -> None:
    schedules, jobs = apps
    made = _every_2s(schedules, "all")
    scheduler = Scheduler(schedules=schedules, jobs=jobs, availability=Availability())
    schedules.pause("tick")
    time.sleep(2.2)  # a fire comes due while it is paused
    scheduler.tick(started=made.defined_at, now=time.time())
    assert _jobs(schedules, jobs) == []
    schedules.resume("tick")
    scheduler.tick(started=made.defined_at, now=time.time())
    assert _jobs(schedules, jobs) == []  # not made up
    scheduler.tick(started=made.defined_at, now=time.time() + 2.1)
    assert len(_jobs(schedules, jobs)) == 1  # the next one fires


def test_a_fire_whose_job_no_longer_passes_is_skipped_saying_why(
    apps: tuple[SchedulesApp, JobsApp],
) -> None:
    schedules, jobs = apps
    made = _every_2s(schedules, "none")
    # As a schedule made by an older laino, whose spec a newer check refuses.
    made.spec_data = {**made.spec_data, "priority": 10_000}
    scheduler = Scheduler(schedules=schedules, jobs=jobs, availability=Availability())
    scheduler._fire(made, made.defined_at + 2)  # no exception: the term goes on
    assert schedules.get("tick").runs[-1][2] == (
        "could not submit its job: priority: the priority must be from -1000 to 1000"
    )
    assert _jobs(schedules, jobs) == []
