"""Several servers on one PostgreSQL: each server's cache follows the store's log
(store/tailing.py), so what another server saved is read at the next turn of the event loop,
and a command made on an older read loses its race and decides again."""

from __future__ import annotations

import asyncio
from pathlib import Path
from uuid import uuid4

import pytest

from laino.orchestrator.apps import JobsApp, SagasApp
from laino.orchestrator.domain.jobs import State
from laino.orchestrator.domain.saga import BEGUN
from laino.orchestrator.domain.spec import JobSpec
from laino.orchestrator.notifying import look_together
from laino.orchestrator.runner import PROVISION
from laino.orchestrator.store.database import Database
from laino.orchestrator.store.tailing import SIFTED


def _server(home: Path, url: str) -> JobsApp:
    return JobsApp(Database(home, url).event_store("jobs"))


def test_what_another_server_saved_is_read_at_the_next_turn_of_the_loop(
    tmp_path: Path, postgres_url: str
) -> None:
    here, there = _server(tmp_path, postgres_url), _server(tmp_path, postgres_url)
    job, _ = here.submit(JobSpec(command=("true",)))

    async def reads() -> tuple[State, bool]:
        assert here.get_job(job.id).state == State.QUEUED  # cached here
        there.start_provisioning(job.id, 1, uuid4())
        await asyncio.sleep(0)
        seen = here.get_job(job.id).state
        there.cancel(job.id)
        await asyncio.sleep(0)
        return seen, here.get_job(job.id).cancel_requested

    assert asyncio.run(reads()) == (State.PROVISIONING, True)
    there.end_cancelled(job.id)
    assert here.get_job(job.id).state.terminal  # outside a loop, each read looks


def test_a_command_on_an_older_read_loses_its_race_and_decides_again(
    tmp_path: Path, postgres_url: str
) -> None:
    here, there = _server(tmp_path, postgres_url), _server(tmp_path, postgres_url)
    job, _ = here.submit(JobSpec(command=("true",)))

    async def race() -> int:
        here.get_job(job.id)  # this turn's look is done: later reads in it are from memory
        there.start_provisioning(job.id, 1, uuid4())
        # Made on the version read before the other server's save: that save is refused as
        # a conflict, the job dropped from the cache and read again, and the command made on
        # what is there now.
        return here.cancel(job.id).attempt

    assert asyncio.run(race()) == 1
    fresh = _server(tmp_path, postgres_url).get_job(job.id)
    assert fresh.cancel_requested and fresh.state == State.PROVISIONING


def test_a_server_that_missed_many_saves_drops_its_whole_cache(
    tmp_path: Path, postgres_url: str
) -> None:
    here, there = _server(tmp_path, postgres_url), _server(tmp_path, postgres_url)
    job, _ = here.submit(JobSpec(command=("true",)))
    assert not here.get_job(job.id).cancel_requested
    there.cancel(job.id)
    for _ in range(SIFTED):
        there.submit(JobSpec(command=("true",)))
    assert here.get_job(job.id).cancel_requested


def test_this_servers_own_saves_stay_cached(tmp_path: Path, postgres_url: str) -> None:
    here = _server(tmp_path, postgres_url)
    job, _ = here.submit(JobSpec(command=("true",)))
    here.cancel(job.id)
    here.repository.catch_up()  # sees its own save, as new as what it holds
    assert here.repository.cache is not None
    assert here.repository.cache.get(job.id).cancel_requested


def test_a_servers_stores_look_together_in_one_query_a_turn(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def stores() -> tuple[JobsApp, SagasApp]:
        database = Database(tmp_path, postgres_url)
        jobs, sagas = JobsApp(database.event_store("jobs")), SagasApp(database.event_store("sagas"))
        sagas.follow(jobs.name, jobs.notification_log)
        return jobs, sagas

    (jobs, sagas), (their_jobs, their_sagas) = stores(), stores()
    look_together([jobs, sagas])
    together = jobs.repository.together
    assert together is not None and sagas.repository.together is together
    looks = []
    tails = together.tails
    monkeypatch.setattr(together, "tails", lambda positions: looks.append(1) or tails(positions))
    job, _ = their_jobs.submit(JobSpec(command=("true",)))
    their_sagas.pull_and_process(their_jobs.name)

    async def reads() -> tuple[State, str, int]:
        jobs.get_job(job.id), sagas.get_saga(job.id)  # both cached here
        await asyncio.sleep(0)
        their_jobs.start_provisioning(job.id, 1, uuid4())
        saga = their_sagas.get_saga(job.id)
        saga.begin(PROVISION, 1)
        their_sagas.save(saga)
        await asyncio.sleep(0)
        before = len(looks)
        state, step = jobs.get_job(job.id).state, sagas.get_saga(job.id).status(PROVISION, 1)
        return state, step, len(looks) - before

    assert asyncio.run(reads()) == (State.PROVISIONING, BEGUN, 1)
