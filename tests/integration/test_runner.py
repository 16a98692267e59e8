"""The saga runner against real stores, when another runner changed a saga behind its back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection
from pathlib import Path

import pytest
import sqlalchemy.exc
from sqlalchemy import Engine

from laino.orchestrator.apps import JobsApp, SagasApp, WorkersApp
from laino.orchestrator.cluster.partitions import PARTITIONS, AllPartitions
from laino.orchestrator.domain.jobs import State
from laino.orchestrator.domain.saga import COMPENSATED
from laino.orchestrator.domain.spec import JobSpec
from laino.orchestrator.drivers import Drivers, admitted_topic
from laino.orchestrator.hub import Hub
from laino.orchestrator.runner import PROVISION, SagaRunner
from laino.orchestrator.sessions import Sessions
from laino.orchestrator.settings import Settings
from laino.orchestrator.store.admitted import AdmittedJob, AdmittedTable
from laino.orchestrator.store.database import Database
from laino.orchestrator.store.logstore import LogStore
from laino.orchestrator.store.secrets import SecretStore
from laino.orchestrator.term import Term
from laino.orchestrator.views import Views
from laino.providers.tracing import Tracing


def _runner(tmp_path: Path) -> tuple[Database, Engine, JobsApp, SagasApp, SagaRunner]:
    database = Database(tmp_path)
    database.migrate()
    engine = database.engine()
    jobs = JobsApp(database.event_store("jobs"))
    workers = WorkersApp(database.event_store("workers"), secret=b"k" * 32, token_ttl=60)
    sagas = SagasApp(database.event_store("sagas"))
    sagas.follow(jobs.name, jobs.notification_log)
    # No provider is enabled: the job fails for good at its first step, with no agent to wait for.
    runner = SagaRunner(
        settings=Settings(home=tmp_path),
        jobs=jobs,
        workers=workers,
        sagas=sagas,
        views=Views(engine, jobs, workers, sagas),
        logs=LogStore(engine),
        secrets=SecretStore(engine, b"k" * 32),
        providers={},
        sessions=Sessions(),
        hub=Hub(),
        tracing=Tracing("laino-test", env={}),
        installation="test",
        agent_address="127.0.0.1:9",
    )
    return database, engine, jobs, sagas, runner


def test_a_saga_changed_by_another_runner_is_read_again_and_driven_to_its_end(
    tmp_path: Path,
) -> None:
    database, engine, jobs, sagas, runner = _runner(tmp_path)
    job, _ = jobs.submit(JobSpec(command=["true"], provider="process"))
    sagas.pull_and_process(jobs.name)

    async def scenario() -> None:
        runner._saga(job.id)  # this runner holds the saga; another one, with the lease meanwhile,
        other = SagasApp(database.event_store("sagas"))  # fails its first step
        saga = other.get_saga(job.id)
        saga.begin(PROVISION, 1)
        saga.fail(PROVISION, 1, "the other runner's attempt", retryable=True)
        other.save(saga)
        await runner.drive(job.id)  # its stale copy's save fails, and the task ends
        await runner.drive(job.id)  # the next task, which the runner's pass starts

    try:
        asyncio.run(scenario())
    finally:
        engine.dispose()
    ended = jobs.get_job(job.id)
    assert ended.state == State.FAILED
    assert ended.message == "provider 'process' is not enabled on this server"
    saga = SagasApp(database.event_store("sagas")).get_saga(job.id)
    assert saga.finished and saga.status(PROVISION, 1) == COMPENSATED
    assert saga.order == [f"{PROVISION}#1"]  # the step begun by the other runner, once


def test_a_saga_whose_first_read_fails_is_driven_again_on_the_next_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, engine, jobs, _, runner = _runner(tmp_path)
    job, _ = jobs.submit(JobSpec(command=["true"], provider="process"))
    read = jobs.get_job

    def away_once(job_id: object) -> object:
        monkeypatch.setattr(jobs, "get_job", read)
        raise sqlalchemy.exc.OperationalError("SELECT", {}, Exception("the database is away"))

    async def scenario() -> None:
        partitions = AllPartitions()
        drivers = Drivers(runner=runner, table=None, partitions=partitions)
        drivers.held, _ = partitions.rebalance()
        Term(runner=runner, drivers=drivers)._pass(0.0)  # the job is let go, its task made
        monkeypatch.setattr(jobs, "get_job", away_once)  # and the task's first read fails
        await asyncio.wait(list(drivers.tasks.values()))
        drivers._look()
        await asyncio.wait(list(drivers.tasks.values()), timeout=10)

    try:
        asyncio.run(scenario())
    finally:
        engine.dispose()
    assert jobs.get_job(job.id).state == State.FAILED  # driven to its end, not left queued


def test_a_view_read_from_the_cache_stays_as_it_was_when_the_aggregate_changes(
    tmp_path: Path,
) -> None:
    # Reads take the cached aggregate itself, not a copy (apps.READ_ONLY): a view of it must
    # not change when the aggregate does.
    _, engine, jobs, _, _ = _runner(tmp_path)
    try:
        job, _ = jobs.submit(JobSpec(command=["true"], provider="process", env={"A": "1"}))
        before = jobs.get_job(job.id)
        jobs.cancel(job.id)
        after = jobs.get_job(job.id)
        jobs.end_cancelled(job.id)
        ended = jobs.get_job(job.id)
    finally:
        engine.dispose()
    assert (before.state, before.cancel_requested) == (State.QUEUED, False)
    assert (after.state, after.cancel_requested) == (State.QUEUED, True)
    assert ended.state == State.CANCELLED
    assert before.spec == ended.spec and ended.spec.env == {"A": "1"}


class _FirstHalf(AllPartitions):
    """This server's share of the partitions, as the lease's rebalancing would leave it."""

    def rebalance(self) -> tuple[set[int], set[int]]:
        return set(range(PARTITIONS // 2)), set()


def test_a_job_let_go_wakes_only_the_server_holding_its_partition(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, engine, _, _, runner = _runner(tmp_path)
    table = AdmittedTable(engine)
    looks: list[float] = []
    since = table.since

    def counted(n: int, parts: Collection[int]) -> list[AdmittedJob]:
        looks.append(time.monotonic())
        return since(n, parts)

    monkeypatch.setattr(table, "since", counted)

    async def scenario() -> tuple[int, int]:
        drivers = Drivers(runner=runner, table=table, partitions=_FirstHalf())
        task = asyncio.create_task(drivers.run())
        while not looks:  # its first look, after taking its partitions
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)  # the next look without a wake-up is 0.5 s away
        first = len(looks)
        runner.hub.changed(admitted_topic(PARTITIONS - 1))  # another server's partition
        await asyncio.sleep(0.1)
        other = len(looks) - first
        runner.hub.changed(admitted_topic(0))  # its own
        await asyncio.sleep(0.1)
        own = len(looks) - first - other
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return other, own

    try:
        other, own = asyncio.run(scenario())
    finally:
        engine.dispose()
    assert other == 0
    assert own >= 1
