"""Saving on PostgreSQL in one statement (store/pgevents.py) keeps what eventsourcing's own
transaction promised: a lost race is a conflict that saves nothing, a save's events keep their
order, and a follower tailing the log while many save at once misses none."""

from __future__ import annotations

import threading
from pathlib import Path
from uuid import uuid4

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, Tracking

from laino.orchestrator.apps import JobsApp, SagasApp
from laino.orchestrator.domain.jobs import Job
from laino.orchestrator.domain.saga import ExecutionSaga
from laino.orchestrator.domain.spec import JobSpec
from laino.orchestrator.store.database import Database


def _jobs(home: Path, url: str) -> JobsApp:
    return JobsApp(Database(home, url).event_store("jobs"))


def test_a_save_that_lost_a_race_is_a_conflict_and_saves_nothing(
    tmp_path: Path, postgres_url: str
) -> None:
    one, other = _jobs(tmp_path, postgres_url), _jobs(tmp_path, postgres_url)
    job, _ = one.submit(JobSpec(command=("true",)))
    mine, theirs = one.repository.get(job.id), other.repository.get(job.id)
    mine.request_cancel()
    one.save(mine)
    theirs.request_cancel()
    theirs.request_cancel()  # two events: neither may be saved
    with pytest.raises(IntegrityError):
        other.save(theirs)
    fresh = _jobs(tmp_path, postgres_url)
    assert fresh.repository.get(job.id).version == mine.version
    assert len(list(fresh.repository.event_store.get(job.id))) == mine.version


def test_the_events_of_one_save_are_logged_in_their_order(
    tmp_path: Path, postgres_url: str
) -> None:
    jobs = _jobs(tmp_path, postgres_url)
    job = Job(key="k", spec=JobSpec(command=("true",)).as_dict(), trace="", submitter="")
    job.request_cancel()
    recordings = jobs.save(job)
    ids = [r.notification.id for r in recordings]
    assert len(ids) == 2 and ids[0] < ids[1]
    logged = jobs.recorder.select_notifications(start=ids[0], limit=10)
    assert [(n.id, n.originator_version) for n in logged] == [(ids[0], 1), (ids[1], 2)]


def test_a_follower_tailing_the_log_misses_nothing_saved_at_once_by_many(
    tmp_path: Path, postgres_url: str
) -> None:
    """Ids are taken in insert order; were commits not in the same order, a reader could see
    a later id before an earlier one is committed, pass it, and never read it. Each insert
    stalls a moment after its id is taken, which widens that window."""
    with psycopg.connect(postgres_url, autocommit=True) as conn:  # as a busy database would
        conn.execute(
            "CREATE FUNCTION stall() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN PERFORM pg_sleep(random() * 0.004); RETURN NEW; END $$"
        )
        conn.execute(
            "CREATE TRIGGER stall AFTER INSERT ON jobs_events FOR EACH ROW EXECUTE FUNCTION stall()"
        )
    writers, each = 6, 60
    apps = [_jobs(tmp_path, postgres_url) for _ in range(writers)]
    reading = _jobs(tmp_path, postgres_url)  # kept: a dropped application closes its pool
    reader = reading.recorder
    done = threading.Event()
    seen: list[int] = []

    def write(app: JobsApp) -> None:
        for _ in range(each):
            app.submit(JobSpec(command=("true",)))

    def tail() -> None:
        after = 0
        while True:
            finished = done.is_set()  # read before the last pass, which then sees everything
            batch = reader.select_notifications(start=after + 1, limit=1000)
            seen.extend(n.id for n in batch)
            after = batch[-1].id if batch else after
            if finished and not batch:
                return

    tailer = threading.Thread(target=tail)
    tailer.start()
    threads = [threading.Thread(target=write, args=(app,)) for app in apps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    tailer.join(60)
    logged = [n.id for n in reader.select_notifications(start=1, limit=10_000)]
    assert len(logged) == writers * each
    assert seen == logged


def test_a_sagas_start_keeps_its_tracking_record_and_a_stale_one_saves_nothing(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = Database(tmp_path, postgres_url)
    jobs, sagas = JobsApp(database.event_store("jobs")), SagasApp(database.event_store("sagas"))
    sagas.follow(jobs.name, jobs.notification_log)
    first, _ = jobs.submit(JobSpec(command=("true",)))
    second, _ = jobs.submit(JobSpec(command=("false",)))
    # eventsourcing's pipelined transaction is not used any more: the call is the save.
    monkeypatch.setattr(psycopg.Connection, "pipeline", None)
    sagas.pull_and_process(jobs.name)
    assert sagas.get_saga(first.id).version == sagas.get_saga(second.id).version == 1
    tracked = sagas.recorder.max_tracking_id(jobs.name)
    assert tracked == jobs.recorder.max_notification_id()
    # A second lease holder that read the log before the first saved: its record is refused,
    # with the saga it would have started.
    late = ExecutionSaga(uuid4())
    stored = sagas.mapper.to_stored_event(late.collect_events()[0])
    with pytest.raises(IntegrityError):
        sagas.recorder.insert_events([stored], tracking=Tracking(jobs.name, tracked))
    assert list(sagas.repository.event_store.get(late.id)) == []
    assert sagas.recorder.max_tracking_id(jobs.name) == tracked
